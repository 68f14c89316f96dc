"""run_services: a restartable child is restarted with a growing pause; every child and
grandchild is gone after Ctrl-C (also during a pause) or after a child that is not restartable
exits; every child is gone soon after the supervisor is killed outright."""

import contextlib
import dataclasses
import itertools
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tuning.config import PROJECT_ROOT, Settings
from tuning.redis_server import EmbeddedRedis
from tuning.supervisor import DEFAULT_BACKOFF, Backoff, Service, build_services, run_services

from stack import wait_until

# Every test runs real child processes under the supervisor: the stack tier.
pytestmark = pytest.mark.stack


def _gone(pid: int) -> bool:
    """True when no process (other than an unreaped zombie) has this pid."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def _read_pids(directory: Path, names: list[str]) -> list[int]:
    """Pids written by the services' shells, once all files are complete."""
    wait_until(
        lambda: all(
            (directory / n).is_file() and (directory / n).read_text().strip() for n in names
        ),
        timeout=10,
        message=f"services did not write {names}",
    )
    return [int((directory / n).read_text()) for n in names]


def _descendants(root: int) -> set[int]:
    """Every live process below `root` in the process tree."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(stat.parent.name)] = int(fields[1])
    found: set[int] = set()
    frontier = {root}
    while frontier:
        frontier = {pid for pid, ppid in parents.items() if ppid in frontier} - found
        found |= frontier
    return found


def _services(d: Path) -> list[Service]:
    """Two plain sleepers and a shell that spawns a grandchild of its own."""
    return [
        Service("one", ["sh", "-c", f"echo $$ > {d}/one; exec sleep 300"]),
        Service("two", ["sh", "-c", f"echo $$ > {d}/two; exec sleep 300"], url="http://x"),
        Service(
            "tree", ["sh", "-c", f"sleep 300 & echo $! > {d}/grand; echo $$ > {d}/tree; sleep 300"]
        ),
    ]


def _flaky(d: Path, *, stay_from: int = 0, seconds: float = 0) -> Service:
    """A restartable service that appends its pid and start time to `d/starts`, then exits 3
    after `seconds`; from start number `stay_from` on (when > 0) it stays up instead."""
    stay = f'[ "$(wc -l < {d}/starts)" -ge {stay_from} ] && exec sleep 300; ' if stay_from else ""
    script = f"echo $$ $(date +%s.%N) >> {d}/starts; {stay}sleep {seconds}; exit 3"
    return Service("flaky", ["sh", "-c", script], restart=True)


def _starts(d: Path) -> list[tuple[int, float]]:
    """(pid, time) of every start of the flaky service so far."""
    path = d / "starts"
    lines = path.read_text().splitlines() if path.is_file() else []
    return [(int(pid), float(at)) for pid, at in (line.split() for line in lines)]


SCRIPT = textwrap.dedent(
    """
    import json, sys
    from tuning.supervisor import Backoff, Service, run_services
    spec = json.loads(sys.argv[1])
    services = [Service(**fields) for fields in spec["services"]]
    backoff = Backoff(**spec["backoff"])
    sys.exit(run_services(services, banner="test", stop_timeout=5, backoff=backoff))
    """
)


@contextlib.contextmanager
def _supervisor(
    services: list[Service], log: Path, backoff: Backoff = DEFAULT_BACKOFF
) -> Iterator[subprocess.Popen[bytes]]:
    """`run_services` in a child process whose output goes to `log`; stopped at the end."""
    spec = {"services": [dataclasses.asdict(s) for s in services]}
    spec["backoff"] = dataclasses.asdict(backoff)
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-c", SCRIPT, json.dumps(spec)],
            cwd=PROJECT_ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _stop(proc: subprocess.Popen[bytes], log: Path) -> str:
    """SIGINT to the supervisor; its output, once it has stopped with code 0."""
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=15)
    out = log.read_text()
    assert proc.returncode == 0, out
    return out


def _all_gone(pids: list[int] | set[int]) -> None:
    wait_until(
        lambda: all(_gone(p) for p in pids),
        timeout=2,
        message=lambda: f"still running: {[p for p in pids if not _gone(p)]}",
    )


@pytest.fixture
def pid_dir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="sv", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_sigint_stops_children_and_grandchildren(pid_dir: Path) -> None:
    log = pid_dir / "log"
    with _supervisor(_services(pid_dir), log) as proc:
        pids = _read_pids(pid_dir, ["one", "two", "tree", "grand"])
        # one, two (exec'd sleeps), tree's sh and its two sleeps
        wait_until(lambda: len(_descendants(proc.pid)) >= 5, timeout=10)
        pids = sorted(set(pids) | _descendants(proc.pid))
        out = _stop(proc, log)
    assert "test" in out and "http://x" in out
    _all_gone(pids)


def test_child_exit_stops_the_others_and_returns_its_code(pid_dir: Path) -> None:
    services = [*_services(pid_dir), Service("quitter", ["sh", "-c", "sleep 1; exit 3"])]
    handler = signal.getsignal(signal.SIGINT)
    started = time.monotonic()
    code = run_services(services, stop_timeout=5)
    assert code == 3
    assert time.monotonic() - started < 8
    _all_gone(_read_pids(pid_dir, ["one", "two", "tree", "grand"]))
    assert signal.getsignal(signal.SIGINT) is handler  # restored


def test_children_die_with_a_supervisor_killed_outright(pid_dir: Path) -> None:
    # Direct children only: a grandchild needs its own parent-death signal (as Celery's pool
    # and the housekeeping process set), which `tree`'s background sleep does not have.
    log = pid_dir / "log"
    services = [*_services(pid_dir)[:2], _flaky(pid_dir, stay_from=1)]
    with _supervisor(services, log) as proc:
        pids = _read_pids(pid_dir, ["one", "two"])
        wait_until(lambda: _starts(pid_dir), timeout=10)
        pids += [pid for pid, _at in _starts(pid_dir)]
        assert not any(_gone(p) for p in pids)
        proc.kill()
        proc.wait()
        started = time.monotonic()
        wait_until(lambda: all(_gone(p) for p in pids), timeout=10)
    assert time.monotonic() - started < 5


def test_restartable_service_is_restarted_while_the_others_keep_running(pid_dir: Path) -> None:
    log = pid_dir / "log"
    services = [*_services(pid_dir), _flaky(pid_dir, stay_from=2, seconds=0.5)]
    with _supervisor(services, log, Backoff(first=0.2)) as proc:
        others = _read_pids(pid_dir, ["one", "two", "tree", "grand"])
        wait_until(lambda: len(_starts(pid_dir)) >= 2, timeout=10, message=log.read_text)
        (first, _), (second, _) = _starts(pid_dir)
        wait_until(lambda: "flaky restarted" in log.read_text(), timeout=5)
        assert not any(_gone(p) for p in [*others, second])
        out = _stop(proc, log)
    assert f"flaky (pid {first}) exited with code 3; restarting it in 0.2s" in out
    assert f"flaky restarted (pid {second})" in out
    assert "(pid " in out and "restarted when it exits" in out  # the banner says so
    _all_gone([*others, first, second])


def test_backoff_doubles_between_quick_exits_up_to_its_cap(pid_dir: Path) -> None:
    log = pid_dir / "log"
    with _supervisor([_flaky(pid_dir)], log, Backoff(first=0.2, cap=0.5)) as proc:
        wait_until(lambda: len(_starts(pid_dir)) >= 4, timeout=10, message=log.read_text)
        out = _stop(proc, log)
    delays = [float(d) for d in re.findall(r"restarting it in ([0-9.]+)s", out)]
    assert delays[:3] == [0.2, 0.4, 0.5]
    times = [at for _pid, at in _starts(pid_dir)]
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    assert all(gap >= delay - 0.05 for gap, delay in zip(gaps, delays, strict=False)), gaps
    _all_gone([pid for pid, _at in _starts(pid_dir)])


def test_backoff_starts_over_after_a_steady_run(pid_dir: Path) -> None:
    log = pid_dir / "log"
    backoff = Backoff(first=0.2, steady=0.3)
    with _supervisor([_flaky(pid_dir, seconds=0.4)], log, backoff) as proc:
        wait_until(lambda: len(_starts(pid_dir)) >= 3, timeout=10, message=log.read_text)
        out = _stop(proc, log)
    assert re.findall(r"restarting it in ([0-9.]+)s", out)[:2] == ["0.2", "0.2"]


def test_sigint_during_a_backoff_stops_everything_promptly(pid_dir: Path) -> None:
    log = pid_dir / "log"
    services = [*_services(pid_dir), _flaky(pid_dir)]
    with _supervisor(services, log, Backoff(first=30)) as proc:
        others = _read_pids(pid_dir, ["one", "two", "tree", "grand"])
        wait_until(lambda: "restarting it in 30s" in log.read_text(), timeout=10)
        started = time.monotonic()
        out = _stop(proc, log)
    assert time.monotonic() - started < 5, out
    assert len(_starts(pid_dir)) == 1 and "flaky restarted" not in out
    _all_gone(others)


def test_make_run_restarts_every_process_and_stops_redis_last() -> None:
    settings = Settings(_env_file=None, redis_url=None)
    services = build_services(settings, env={}, redis=EmbeddedRedis(settings.data_dir))
    assert [s.name for s in services] == ["redis", "worker", "api", "dashboard"]
    assert all(s.restart for s in services)
    assert [s.name for s in services if s.stop_last] == ["redis"]


def test_a_service_marked_stop_last_is_stopped_after_the_others(pid_dir: Path) -> None:
    def stopping(name: str, **fields) -> Service:
        # On SIGTERM: note the time, take half a second to end.
        trap = f"trap 'date +%s.%N > {pid_dir}/{name}; sleep 0.5; exit 0' TERM"
        script = f"{trap}; echo $$ > {pid_dir}/{name}.pid; while :; do sleep 0.1; done"
        return Service(name, ["sh", "-c", script], **fields)

    log = pid_dir / "log"
    services = [stopping("broker", stop_last=True), stopping("app")]
    with _supervisor(services, log) as proc:
        _read_pids(pid_dir, ["broker.pid", "app.pid"])
        _stop(proc, log)
    app_told, broker_told = (float((pid_dir / n).read_text()) for n in ("app", "broker"))
    assert broker_told >= app_told + 0.4, "the broker was told to stop before the app ended"
