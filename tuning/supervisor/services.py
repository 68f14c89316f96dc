"""Run long-lived processes, each on its own: restart one that exits, stop all on a signal.

A service marked `restart` is started again when it exits, after a pause that doubles with each
quick exit in a row (1 s, 2 s, 4 s … 30 s) and is back at 1 s once it stayed up a minute; the
others keep running meanwhile. A service not so marked stops everything when it exits, with its
exit code. Ctrl-C or SIGTERM stops every child and grandchild, also during a pause; each child
also dies with this process if it is killed outright (`tuning.lifeline`).
"""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import TypeAlias

from tuning.lifeline import lifeline


@dataclass
class Service:
    """One long-running process: a name for messages, its command line, where it serves."""

    name: str
    argv: list[str]
    url: str | None = None
    env: dict[str, str] | None = None  # None: inherit the supervisor's environment
    restart: bool = False  # True: started again when it exits; False: its exit stops all
    stop_last: bool = False  # stopped after the others (the broker they talk to)


@dataclass(frozen=True)
class Backoff:
    """Pauses before restarts: `first` seconds, doubled after each quick exit up to `cap`;
    an exit after `steady` seconds up counts as the first again."""

    first: float = 1.0
    cap: float = 30.0
    steady: float = 60.0

    def delay(self, n_quick_exits: int) -> float:
        """The pause after `n_quick_exits` earlier quick exits in a row."""
        return min(self.first * 2**n_quick_exits, self.cap)


DEFAULT_BACKOFF = Backoff()


@dataclass
class _Child:
    """A service's current process and what its restarts need to remember."""

    service: Service
    proc: subprocess.Popen[bytes]
    started: float  # time.monotonic() of the last start
    n_quick_exits: int = 0
    restart_at: float | None = None  # set while the process is gone and the pause runs


def _start(service: Service) -> subprocess.Popen[bytes]:
    """Start `service` as the leader of its own process group, so Ctrl-C reaches us only,
    and bound to die with us."""
    return subprocess.Popen(
        service.argv, env=service.env, start_new_session=True, preexec_fn=lifeline()
    )


def _group_alive(pgid: int) -> bool:
    """Whether process group `pgid` still has a member that is not a zombie."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    proc = Path("/proc")
    if not proc.is_dir():
        return True
    # The leader first: while it runs (most checks), no need to read every process's stat.
    for stat in itertools.chain([proc / str(pgid) / "stat"], proc.glob("[0-9]*/stat")):
        try:  # "pid (comm) state ppid pgrp ..."; comm may itself contain ") "
            state, _ppid, pgrp = stat.read_text().rsplit(")", 1)[1].split()[:3]
        except (OSError, IndexError):
            continue
        if int(pgrp) == pgid and state != "Z":
            return True
    return False  # only zombies left, waiting for a parent (or init) to reap them


Running: TypeAlias = list[tuple[Service, subprocess.Popen[bytes]]]


def _signal_groups(running: Running, sig: signal.Signals) -> None:
    """Send `sig` to the process group of every child (each leads its own group)."""
    for _service, proc in running:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, sig)


def _alive(running: Running) -> Running:
    """The children whose leader or any other group member is still running."""
    return [(s, p) for s, p in running if p.poll() is None or _group_alive(p.pid)]


def _stop_all(running: Running, timeout: float, signals: list[int]) -> None:
    """Stop the services, those marked `stop_last` after the others."""
    _stop_together([(s, p) for s, p in running if not s.stop_last], timeout, signals)
    _stop_together([(s, p) for s, p in running if s.stop_last], timeout, signals)


def _stop_together(running: Running, timeout: float, signals: list[int]) -> None:
    """SIGTERM every group, wait up to `timeout` (or a second signal), then SIGKILL the rest."""
    _signal_groups(running, signal.SIGTERM)
    seen = len(signals)
    deadline = time.monotonic() + timeout
    while _alive(running) and time.monotonic() < deadline and len(signals) == seen:
        time.sleep(0.05)
    survivors = _alive(running)
    for service, proc in survivors:
        print(f"{service.name} (pid {proc.pid}) did not stop; killing it", flush=True)
    _signal_groups(survivors, signal.SIGKILL)
    for _service, proc in running:
        proc.wait()


def _exit_words(code: int) -> str:
    """`exited with code 3`; for a signal, `exited with code -9 (SIGKILL)`."""
    name = ""
    with contextlib.suppress(ValueError):
        name = f" ({signal.Signals(-code).name})" if code < 0 else ""
    return f"exited with code {code}{name}"


def _schedule_restart(child: _Child, code: int, backoff: Backoff) -> None:
    """Note that `child` exited, end what is left of its group, say when it starts again."""
    now = time.monotonic()
    if now - child.started >= backoff.steady:
        child.n_quick_exits = 0
    delay = backoff.delay(child.n_quick_exits)
    child.n_quick_exits += 1
    child.restart_at = now + delay
    # A group whose leader is gone is an orphaned pool: end it, so two never run side by side.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(child.proc.pid, signal.SIGKILL)
    when = f"in {delay:g}s, at {time.strftime('%H:%M:%S', time.localtime(time.time() + delay))}"
    name, pid = child.service.name, child.proc.pid
    print(f"{name} (pid {pid}) {_exit_words(code)}; restarting it {when}", flush=True)


def _restart(child: _Child) -> None:
    """Start `child`'s service again, with the same command line and environment."""
    child.proc = _start(child.service)
    child.started = time.monotonic()
    child.restart_at = None
    print(f"{child.service.name} restarted (pid {child.proc.pid})", flush=True)


def _tend(child: _Child, backoff: Backoff) -> int | None:
    """Restart `child` when its pause is over; None, or the exit code that stops everything."""
    if child.restart_at is not None:
        if time.monotonic() >= child.restart_at and not _group_alive(child.proc.pid):
            _restart(child)
        return None
    code = child.proc.poll()
    if code is None:
        return None
    if child.service.restart:
        _schedule_restart(child, code, backoff)
        return None
    print(f"{child.service.name} {_exit_words(code)}; stopping", flush=True)
    return code if code > 0 else 1


def _watch(children: list[_Child], signals: list[int], backoff: Backoff) -> int:
    """Tend the children until a signal, or until one not to restart exits: its exit code."""
    parent = os.getppid()
    while not signals:
        if os.getppid() != parent:  # make (or the terminal) went away: do not linger
            signals.append(signal.SIGHUP)
            break
        for child in children:
            if (code := _tend(child, backoff)) is not None:
                return code
        time.sleep(0.1)
    return 0


def _print_banner(banner: str, children: list[_Child], signals: list[int]) -> None:
    """What runs where, with each child's pid."""
    if banner:
        print(banner, flush=True)
    for child in children:
        service, proc = child.service, child.proc
        where = service.url or " ".join(service.argv[:4])
        note = "; restarted when it exits" if service.restart else ""
        print(f"  {service.name:<10} {where}  (pid {proc.pid}{note})", flush=True)
    if not signals:
        print("Press Ctrl-C to stop.", flush=True)


def run_services(
    services: list[Service],
    *,
    banner: str = "",
    stop_timeout: float = 10.0,
    backoff: Backoff = DEFAULT_BACKOFF,
    started: Mapping[str, subprocess.Popen[bytes]] | None = None,
) -> int:
    """Run `services`, restarting the restartable ones, until a signal or until another one
    exits; then stop all; return an exit code. `started` holds processes, by service name,
    already started (e.g. a server awaited before the rest): watched and restarted alike."""
    signals: list[int] = []

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        signals.append(signum)

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    children: list[_Child] = []
    try:
        for service in services:
            if signals:
                break
            proc = (started or {}).get(service.name) or _start(service)
            children.append(_Child(service, proc, time.monotonic()))
        _print_banner(banner, children, signals)
        code = _watch(children, signals, backoff)
        if signals:
            print("Stopping...", flush=True)
        return code
    finally:
        _stop_all([(child.service, child.proc) for child in children], stop_timeout, signals)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
