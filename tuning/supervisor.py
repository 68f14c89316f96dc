"""`make run`: start the product's processes, restart the worker when it dies, stop all on Ctrl-C.

A service marked `restart` (the Celery worker) is started again when it exits, after a pause
that doubles with each quick exit in a row (1 s, 2 s, 4 s … 30 s) and is back at 1 s once it
stayed up a minute. The API, the dashboard and the embedded Redis are not restarted: the product
cannot work without them, so when one exits every other process is stopped and `make run` ends
with its exit code. Ctrl-C or SIGTERM stops every child and grandchild, also during a pause.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import TypeAlias
from urllib.parse import urlsplit, urlunsplit

from tuning.config import PROJECT_ROOT, Settings
from tuning.redis_server import EmbeddedRedis


@dataclass
class Service:
    """One long-running process: a name for messages, its command line, where it serves."""

    name: str
    argv: list[str]
    url: str | None = None
    env: dict[str, str] | None = None  # None: inherit the supervisor's environment
    restart: bool = False  # True: started again when it exits; False: its exit stops all


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
    """Start `service` as the leader of its own process group, so Ctrl-C reaches us only."""
    return subprocess.Popen(service.argv, env=service.env, start_new_session=True)


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


def _watch(
    children: list[_Child], signals: list[int], backoff: Backoff, required: dict[str, int]
) -> int:
    """Tend the children until a signal, or until one that is needed exits: its exit code."""
    parent = os.getppid()
    while not signals:
        if os.getppid() != parent:  # make (or the terminal) went away: do not linger
            signals.append(signal.SIGHUP)
            break
        for name, pid in required.items():
            if not _group_alive(pid):
                print(f"{name} (pid {pid}) is gone; stopping", flush=True)
                return 1
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
    required: dict[str, int] | None = None,
) -> int:
    """Run `services`, restarting the restartable ones, until a signal or until another one
    (or a process of `required`, name to pid of a group leader) exits; then stop all; return
    an exit code."""
    signals: list[int] = []

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        signals.append(signum)

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    children: list[_Child] = []
    try:
        for service in services:
            if signals:
                break
            children.append(_Child(service, _start(service), time.monotonic()))
        _print_banner(banner, children, signals)
        code = _watch(children, signals, backoff, required or {})
        if signals:
            print("Stopping...", flush=True)
        return code
    finally:
        _stop_all([(child.service, child.proc) for child in children], stop_timeout, signals)
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _hide_password(url: str) -> str:
    """`url` with any password replaced by `***`."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc}"))


def dashboard_url(settings: Settings) -> str:
    """Where a browser on this machine finds the dashboard."""
    everywhere = settings.dashboard_host in ("0.0.0.0", "::", "")
    host = "localhost" if everywhere else settings.dashboard_host
    return f"http://{host}:{settings.dashboard_port}"


def build_services(settings: Settings, env: dict[str, str]) -> list[Service]:
    """The worker (restarted when it dies), plus the API and the dashboard when present."""
    python = sys.executable
    worker = Service("worker", [python, "-m", "tuning", "worker"], env=env, restart=True)
    services = [worker]
    if (PROJECT_ROOT / "tuning" / "api").is_dir():
        docs = f"http://{settings.api_host}:{settings.api_port}/docs"
        services.append(Service("api", [python, "-m", "tuning", "api"], url=docs, env=env))
    if (PROJECT_ROOT / "dashboard.py").is_file():
        # dashboard.py, served by Streamlit's own server with our cookie route (see there).
        argv = [python, "-m", "streamlit", "run", str(PROJECT_ROOT / "dashboard_ui" / "server.py")]
        argv += ["--server.port", str(settings.dashboard_port), "--server.headless", "true"]
        argv += ["--server.address", settings.dashboard_host]
        url = dashboard_url(settings)
        services.append(Service("dashboard", argv, url=url, env=env))
    return services


def main(settings: Settings) -> int:
    """`python -m tuning run`: embedded Redis if needed, migrations, then every service."""
    from tuning.db import create_db_engine, session_scope, upgrade_database
    from tuning.service import ensure_local_admin, rotate_token

    embedded = EmbeddedRedis(settings.data_dir) if not settings.redis_url else None
    env = dict(os.environ, DATA_DIR=str(settings.data_dir))  # same cwd, so the same directory
    if embedded is not None:
        env.pop("REDIS_URL", None)  # children derive the same socket from DATA_DIR
    try:
        if embedded is not None:
            embedded.start()
        upgrade_database(settings)
        services = build_services(settings, env)
        redis_note = " (embedded)" if embedded is not None else ""
        lines = [
            "Hyperparameter tuning is running.",
            f"  database   {_hide_password(settings.sqlalchemy_url)}",
            f"  redis      {_hide_password(settings.broker_url)}{redis_note}",
        ]
        if any(service.name == "dashboard" for service in services):
            # One step to a signed-in dashboard: a fresh token for the local admin, in a link.
            engine = create_db_engine(settings)
            with session_scope(engine) as session:
                admin, _ = ensure_local_admin(session=session)
                token = rotate_token(session=session, user=admin)
            engine.dispose()
            lines += [
                f"  sign in    {dashboard_url(settings)}/?token={token}",
                f"  API token  {token}  (local admin '{admin.name}'; a new one at every start)",
            ]
        redis_pid = embedded.pid if embedded is not None else None  # None: not ours to watch
        required = {"redis": redis_pid} if redis_pid is not None else {}
        return run_services(services, banner="\n".join(lines), required=required)
    finally:
        if embedded is not None:
            embedded.stop()
