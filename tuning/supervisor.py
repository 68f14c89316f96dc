"""`make run`: start the product's processes and stop every one of them on Ctrl-C."""

from __future__ import annotations

import contextlib
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
    for stat in proc.glob("[0-9]*/stat"):
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


def run_services(services: list[Service], *, banner: str = "", stop_timeout: float = 10.0) -> int:
    """Run `services` until a signal or until one exits; then stop all; return an exit code."""
    signals: list[int] = []

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        signals.append(signum)

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    running: Running = []
    try:
        for service in services:
            if signals:
                break
            proc = subprocess.Popen(service.argv, env=service.env, start_new_session=True)
            running.append((service, proc))
        if banner:
            print(banner, flush=True)
        for service, proc in running:
            where = service.url or " ".join(service.argv[:4])
            print(f"  {service.name:<10} {where}  (pid {proc.pid})", flush=True)
        if not signals:
            print("Press Ctrl-C to stop.", flush=True)
        code = 0
        parent = os.getppid()
        while not signals:
            if os.getppid() != parent:  # make (or the terminal) went away: do not linger
                signals.append(signal.SIGHUP)
                break
            dead = [(s, p) for s, p in running if p.poll() is not None]
            if dead:
                service, proc = dead[0]
                print(f"{service.name} exited with code {proc.returncode}; stopping", flush=True)
                code = proc.returncode if proc.returncode > 0 else 1
                break
            time.sleep(0.1)
        if signals:
            print("Stopping...", flush=True)
        return code
    finally:
        _stop_all(running, stop_timeout, signals)
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


def build_services(settings: Settings, env: dict[str, str]) -> list[Service]:
    """The worker, plus the API and the dashboard when their code is present."""
    python = sys.executable
    services = [Service("worker", [python, "-m", "tuning", "worker"], env=env)]
    if (PROJECT_ROOT / "tuning" / "api").is_dir():
        docs = f"http://{settings.api_host}:{settings.api_port}/docs"
        services.append(Service("api", [python, "-m", "tuning", "api"], url=docs, env=env))
    dashboard = PROJECT_ROOT / "dashboard.py"
    if dashboard.is_file():
        argv = [python, "-m", "streamlit", "run", str(dashboard)]
        argv += ["--server.port", str(settings.dashboard_port), "--server.headless", "true"]
        url = f"http://localhost:{settings.dashboard_port}"
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
                f"  sign in    http://localhost:{settings.dashboard_port}/?token={token}",
                f"  API token  {token}  (local admin '{admin.name}'; a new one at every start)",
            ]
        return run_services(services, banner="\n".join(lines))
    finally:
        if embedded is not None:
            embedded.stop()
