"""Every command of `python -m tuning` has help, read in process from the parser the command
line uses (tests/test_cli.py runs the commands themselves in new processes)."""

import pytest

from tuning.cli import main


@pytest.mark.parametrize(
    "command",
    [
        [],
        ["run"],
        ["worker"],
        ["migrate"],
        ["users"],
        ["users", "add"],
        ["tune"],
        ["status"],
        ["cancel"],
        ["runs"],
    ],
)
def test_every_command_has_help(command: list[str], capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as exited:
        main([*command, "--help"])
    assert exited.value.code == 0
    assert "usage:" in capsys.readouterr().out
