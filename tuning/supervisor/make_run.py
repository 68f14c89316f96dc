"""`python -m tuning run` (`make run`): the embedded Redis, migrations, the worker, the API and
the dashboard, each restarted on its own when it exits; nothing starts if an earlier stack or
another program is in the way."""

from __future__ import annotations

import os
import sys
from urllib.parse import urlsplit, urlunsplit

from tuning.config import PROJECT_ROOT, Settings
from tuning.redis_server import EmbeddedRedis
from tuning.supervisor import preflight
from tuning.supervisor.services import Service, run_services


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


def build_services(
    settings: Settings, env: dict[str, str], redis: EmbeddedRedis | None = None
) -> list[Service]:
    """The embedded Redis (when given), the worker, the API and the dashboard (when present),
    each restarted when it exits while the others keep running."""
    python = sys.executable
    services = []
    if redis is not None:  # restarted from its append-only file, on the same socket
        services.append(Service("redis", redis.argv(), redis.url, restart=True, stop_last=True))
    services.append(Service("worker", [python, "-m", "tuning", "worker"], env=env, restart=True))
    if (PROJECT_ROOT / "tuning" / "api").is_dir():
        docs = f"http://{settings.api_host}:{settings.api_port}/docs"
        argv = [python, "-m", "tuning", "api"]
        services.append(Service("api", argv, url=docs, env=env, restart=True))
    if (PROJECT_ROOT / "dashboard.py").is_file():
        # dashboard.py, served by Streamlit's own server with our cookie route (see there).
        argv = [python, "-m", "streamlit", "run", str(PROJECT_ROOT / "dashboard_ui" / "server.py")]
        argv += ["--server.port", str(settings.dashboard_port), "--server.headless", "true"]
        argv += ["--server.address", settings.dashboard_host]
        url = dashboard_url(settings)
        services.append(Service("dashboard", argv, url=url, env=env, restart=True))
    return services


def _ports(settings: Settings, services: list[Service]) -> list[preflight.Port]:
    """The TCP ports the services will listen on."""
    names = {service.name for service in services}
    ports = []
    if "api" in names:
        ports.append(preflight.Port("API", settings.api_host, settings.api_port, "API_PORT"))
    if "dashboard" in names:
        host, port = settings.dashboard_host, settings.dashboard_port
        ports.append(preflight.Port("dashboard", host, port, "DASHBOARD_PORT"))
    return ports


def _refuse(problems: list[str]) -> int:
    """Say what is in the way, first thing; the exit code of a stack that did not start."""
    print("make run did not start anything:", file=sys.stderr, flush=True)
    for problem in problems:
        print(f"  - {problem}", file=sys.stderr, flush=True)
    return 1


def _banner(settings: Settings, services: list[Service], embedded: bool) -> str:
    """Where things are, and for the dashboard a fresh sign-in link for the local admin."""
    from tuning.db import create_db_engine, session_scope
    from tuning.service import ensure_local_admin, rotate_token

    lines = [
        "Hyperparameter tuning is running. Each process is restarted when it exits; "
        "the others keep running.",
        f"  database   {_hide_password(settings.sqlalchemy_url)}",
    ]
    if not embedded:  # the embedded one is listed with the processes
        lines.append(f"  redis      {_hide_password(settings.broker_url)}")
    if any(service.name == "dashboard" for service in services):
        engine = create_db_engine(settings)
        with session_scope(engine) as session:
            admin, _ = ensure_local_admin(session=session)
            token = rotate_token(session=session, user=admin)
        engine.dispose()
        lines += [
            f"  sign in    {dashboard_url(settings)}/?token={token}",
            f"  API token  {token}  (local admin '{admin.name}'; a new one at every start)",
        ]
    return "\n".join(lines)


def main(settings: Settings) -> int:
    """`python -m tuning run`: check nothing is in the way, start the embedded Redis (unless
    REDIS_URL is set), upgrade the database, then run every service until Ctrl-C."""
    from tuning.db import upgrade_database

    lock = preflight.lock_data_dir(settings.data_dir)
    if isinstance(lock, str):
        return _refuse([lock])
    embedded = EmbeddedRedis(settings.data_dir) if not settings.redis_url else None
    env = dict(os.environ, DATA_DIR=str(settings.data_dir))  # same cwd, so the same directory
    if embedded is not None:
        env.pop("REDIS_URL", None)  # children derive the same socket from DATA_DIR
    services = build_services(settings, env, embedded)
    with lock:
        if problems := preflight.problems(settings, _ports(settings, services)):
            return _refuse(problems)
        try:
            if embedded is not None:
                embedded.start()  # awaited: the first start says clearly why it failed
                if embedded.reused:  # one started since the check: not ours to restart
                    said = preflight.stale_redis(embedded.socket_path)
                    return _refuse([said or f"a Redis started on {embedded.socket_path}"])
            upgrade_database(settings)
            banner = _banner(settings, services, embedded is not None)
            started = {"redis": embedded.process} if embedded and embedded.process else {}
            return run_services(services, banner=banner, started=started)
        finally:
            if embedded is not None:
                embedded.stop()
