"""The real stack for tests: a database, a Redis and a Celery worker process.

Defaults: a fresh SQLite file and the project's embedded Redis in a temporary folder.
TEST_DATABASE_URL (PostgreSQL) and TEST_REDIS_URL point the same tests at real servers; a
fresh PostgreSQL database is created for the session and dropped after it.
"""

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis
from sqlalchemy import create_engine, make_url, text
from sqlmodel import Session

from tuning.config import PROJECT_ROOT, Settings
from tuning.db import upgrade_database
from tuning.models import User
from tuning.redis_server import EmbeddedRedis
from tuning.runtime import Runtime, create_runtime
from tuning.service import create_user

from helpers import WorkerProcess, worker_env


@pytest.fixture(scope="session")
def data_dir() -> Iterator[Path]:
    # Short, because a Unix socket path must stay under ~107 bytes.
    path = Path(tempfile.mkdtemp(prefix="tuning-", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def database_url(data_dir: Path) -> Iterator[str]:
    server_url = os.environ.get("TEST_DATABASE_URL")
    if not server_url:
        yield f"sqlite:///{data_dir / 'test.db'}"
        return
    name = f"tuning_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def redis_url(data_dir: Path) -> Iterator[str]:
    server_url = os.environ.get("TEST_REDIS_URL")
    if server_url:
        redis.Redis.from_url(server_url).flushdb()
        yield server_url
        return
    with EmbeddedRedis(data_dir) as server:
        yield server.url


@pytest.fixture(scope="session")
def settings(data_dir: Path, database_url: str, redis_url: str) -> Settings:
    settings = Settings(
        _env_file=None, data_dir=data_dir, database_url=database_url, redis_url=redis_url
    )
    upgrade_database(settings)
    return settings


@pytest.fixture(scope="session")
def runtime(settings: Settings) -> Runtime:
    return create_runtime(settings)


@pytest.fixture(scope="session")
def worker(settings: Settings, data_dir: Path) -> Iterator[WorkerProcess]:
    process = WorkerProcess(settings, data_dir / "worker.log")
    yield process
    process.stop()


@pytest.fixture
def session(runtime: Runtime) -> Iterator[Session]:
    with Session(runtime.engine, expire_on_commit=False) as session:
        yield session


@pytest.fixture
def user(session: Session) -> User:
    created, _ = create_user(session=session, name=f"analyst-{uuid.uuid4().hex[:8]}")
    return created


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def api_url(settings, data_dir):
    port = free_port()
    log = (data_dir / "api.log").open("ab")
    process = subprocess.Popen(
        [sys.executable, "-m", "tuning", "api", "--port", str(port)],
        cwd=PROJECT_ROOT,
        env=worker_env(settings),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            httpx.get(f"{url}/openapi.json", timeout=1).raise_for_status()
            break
        except httpx.HTTPError:
            time.sleep(0.2)
    else:
        raise RuntimeError((data_dir / "api.log").read_text()[-3000:])
    yield url
    process.terminate()
    process.wait(timeout=20)
    log.close()
