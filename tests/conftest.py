"""The real stack for tests: a database, a Redis and a Celery worker process.

Defaults: a fresh SQLite file and the project's embedded Redis in a temporary folder.
TEST_DATABASE_URL (PostgreSQL) and TEST_REDIS_URL point the same tests at real servers; a
fresh PostgreSQL database is created for the session and dropped after it.
"""

import os
import shutil
import sqlite3
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings as hypothesis_settings
from sqlmodel import Session
from threadpoolctl import threadpool_limits

from tuning.config import Settings
from tuning.db import create_db_engine, upgrade_database
from tuning.models import User
from tuning.runtime import Runtime, create_runtime
from tuning.service import create_user

from fakes import InProcess, RecordingQueue
from stack import ApiServer, WorkerProcess, fresh_database, running_redis

_SESSION_DIR: dict[str, Path] = {}

# One native thread per pytest process, as a worker's pool process has (tuning/worker/threads.py):
# under `-n 2`, or beside a worker, OpenMP's threads on two cores wait on each other, and a
# KNeighbors fit on digits took 18 s of wall time for 4 s of work.
threadpool_limits(limits=1)

# `make test-fast` runs with `--hypothesis-profile=fast`: a tenth of each property's examples
# (tests/test_input_properties.py); `make test` the full count.
hypothesis_settings.register_profile("fast", max_examples=10)


@pytest.fixture(scope="session")
def data_dir() -> Iterator[Path]:
    # Short, because a Unix socket path must stay under ~107 bytes.
    path = Path(tempfile.mkdtemp(prefix="tuning-", dir="/tmp"))
    _SESSION_DIR["data_dir"] = path
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def database_url(data_dir: Path) -> Iterator[str]:
    with fresh_database(data_dir, os.environ.get("TEST_DATABASE_URL")) as url:
        yield url


@pytest.fixture(scope="session")
def redis_url(data_dir: Path) -> Iterator[str]:
    with running_redis(data_dir, os.environ.get("TEST_REDIS_URL")) as url:
        yield url


@pytest.fixture(scope="session")
def settings(data_dir: Path, database_url: str, redis_url: str, migrated_sqlite: Path) -> Settings:
    settings = Settings(
        _env_file=None, data_dir=data_dir, database_url=database_url, redis_url=redis_url
    )
    if database_url.startswith("sqlite:///"):  # the process's migrated file: one upgrade, not two
        shutil.copyfile(migrated_sqlite, database_url.removeprefix("sqlite:///"))
    else:
        upgrade_database(settings)
    return settings


@pytest.fixture(scope="session")
def runtime(settings: Settings) -> Runtime:
    return create_runtime(settings)


@pytest.fixture(scope="session")
def worker(settings: Settings, data_dir: Path) -> Iterator[WorkerProcess]:
    with WorkerProcess(settings, data_dir / "worker.log") as process:
        yield process


@pytest.fixture
def session(runtime: Runtime) -> Iterator[Session]:
    with Session(runtime.engine, expire_on_commit=False) as session:
        yield session


@pytest.fixture
def user(session: Session) -> User:
    created, _ = create_user(session=session, name=f"analyst-{uuid.uuid4().hex[:8]}")
    return created


@pytest.fixture(scope="module")
def api_url(settings: Settings, data_dir: Path) -> Iterator[str]:
    """`python -m tuning api` on a free port, on the test database and Redis."""
    with ApiServer(settings, data_dir / "api.log") as server:
        yield server.url


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file with every migration applied (the bundled datasets too), once per pytest
    process: `inproc` copies it in milliseconds where an upgrade takes about a second."""
    folder = tmp_path_factory.mktemp("migrated")
    path = folder / "template.db"
    upgrade_database(Settings(_env_file=None, data_dir=folder, database_url=f"sqlite:///{path}"))
    with sqlite3.connect(path) as connection:  # the whole database in the one file, to copy
        connection.execute("PRAGMA journal_mode=DELETE")
    return path


@pytest.fixture
def inproc(migrated_sqlite: Path, tmp_path: Path) -> Iterator[InProcess]:
    """No broker, no worker, no child process: this test's own copy of the migrated SQLite
    file, settings for it and a RecordingQueue that runs sent chunks when asked."""
    path = tmp_path / "tuning.db"
    shutil.copyfile(migrated_sqlite, path)
    settings = Settings(
        _env_file=None,
        data_dir=tmp_path,
        database_url=f"sqlite:///{path}",
        redis_url="redis://127.0.0.1:1/0",  # never used: the queue is a RecordingQueue
    )
    engine = create_db_engine(settings)
    yield InProcess(settings=settings, engine=engine, queue=RecordingQueue())
    engine.dispose()


# A test that needs one of these runs against real worker or API processes: the `stack` tier.
# `make test-fast` runs the rest (pure code, the database, AppTest pages) in seconds.
STACK_FIXTURES = frozenset({"worker", "api_url"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if STACK_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.stack)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    """A failing test's report carries the tail of the shared worker's and API's logs, so a
    failure on CI explains itself (the temporary folder holding them is gone afterwards)."""
    report = yield
    if report.failed and call.when == "call":
        for name in ("worker.log", "api.log"):
            path = _SESSION_DIR.get("data_dir", Path("/nonexistent")) / name
            if path.exists():
                report.sections.append(
                    (f"tail of {name}", path.read_text(errors="replace")[-4000:])
                )
    return report
