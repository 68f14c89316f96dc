"""run_services: every child and grandchild is gone after Ctrl-C or after one child exits."""

import dataclasses
import json
import os
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

from tuning.config import PROJECT_ROOT
from tuning.supervisor import Service, run_services

from stack import wait_until


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


@pytest.fixture
def pid_dir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="sv", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_sigint_stops_children_and_grandchildren(pid_dir: Path) -> None:
    script = textwrap.dedent(
        """
        import json, sys
        from tuning.supervisor import Service, run_services
        services = [Service(**fields) for fields in json.loads(sys.argv[1])]
        sys.exit(run_services(services, banner="test", stop_timeout=5))
        """
    )
    services = json.dumps([dataclasses.asdict(service) for service in _services(pid_dir)])
    proc = subprocess.Popen(
        [sys.executable, "-c", script, services],
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        pids = _read_pids(pid_dir, ["one", "two", "tree", "grand"])
        # one, two (exec'd sleeps), tree's sh and its two sleeps
        wait_until(lambda: len(_descendants(proc.pid)) >= 5, timeout=10)
        pids = sorted(set(pids) | _descendants(proc.pid))
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, out
    assert "test" in out and "http://x" in out
    wait_until(
        lambda: all(_gone(p) for p in pids),
        timeout=2,
        message=lambda: f"still running: {[p for p in pids if not _gone(p)]}",
    )


def test_child_exit_stops_the_others_and_returns_its_code(pid_dir: Path) -> None:
    services = [*_services(pid_dir), Service("quitter", ["sh", "-c", "sleep 1; exit 3"])]
    handler = signal.getsignal(signal.SIGINT)
    started = time.monotonic()
    code = run_services(services, stop_timeout=5)
    assert code == 3
    assert time.monotonic() - started < 8
    pids = _read_pids(pid_dir, ["one", "two", "tree", "grand"])
    wait_until(
        lambda: all(_gone(p) for p in pids),
        timeout=2,
        message=lambda: f"still running: {[p for p in pids if not _gone(p)]}",
    )
    assert signal.getsignal(signal.SIGINT) is handler  # restored
