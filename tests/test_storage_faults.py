"""Storage that cannot be written, said in words: the translation on real full and read-only
file systems (a small tmpfs) and a read-only SQLite file, the API's 503 and 500, the CLI's one
line. The real stack with a full data directory is tests/test_full_disk.py."""

import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlmodel import Session

from tuning.api.app import create_app
from tuning.config import PROJECT_ROOT, Settings
from tuning.db import create_db_engine, upgrade_database
from tuning.domain import RunStatus
from tuning.errors import StorageUnwritable
from tuning.runtime import create_runtime
from tuning.service import create_user, execute_chunk, get_status, list_trials
from tuning.storage import database_error, redis_error, storage_error

from fakes import InProcess, RecordingQueue
from stack import fill_disk, small_tmpfs

ANSWERS_LATER = "running work resumes by itself"
GRID = {"C": [0.1, 1.0, 10.0]}


@pytest.fixture
def tmpfs() -> Iterator[Path]:
    try:
        with small_tmpfs("4m") as path:
            yield path
    except OSError as exc:
        pytest.skip(f"a full disk needs a tmpfs of our own: {exc}")


def sqlite_settings(folder: Path) -> Settings:
    return Settings(
        _env_file=None,
        data_dir=folder,
        database_url=f"sqlite:///{folder / 'tuning.db'}",
        redis_url="redis://127.0.0.1:1/0",  # never reached: nothing here is sent
    )


def test_a_full_sqlite_disk_is_one_error_that_names_the_file_and_the_free_space(tmpfs):
    engine = create_db_engine(sqlite_settings(tmpfs))
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE t (x BLOB)"))
    fill_disk(tmpfs)

    with pytest.raises(StorageUnwritable) as raised, engine.begin() as connection:
        connection.execute(text("INSERT INTO t VALUES (randomblob(100000))"))

    assert str(raised.value) == (
        f"The database {tmpfs / 'tuning.db'} cannot be written: the disk is full (0 bytes "
        "free). Free some space; running work resumes by itself."
    )
    assert "database or disk is full" in str(raised.value.__cause__)  # the driver's own, kept
    engine.dispose()


def test_a_read_only_mount_and_a_read_only_sqlite_file_are_said_so(tmpfs):
    settings = sqlite_settings(tmpfs)
    upgrade_database(settings)
    subprocess.run(["mount", "-o", "remount,ro", str(tmpfs)], check=True)
    engine = create_db_engine(settings)
    with (
        pytest.raises(StorageUnwritable, match="its file system is read-only"),
        Session(engine) as session,
    ):
        create_user(session=session, name="nobody")
    engine.dispose()
    subprocess.run(["mount", "-o", "remount,rw", str(tmpfs)], check=True)

    # SQLite's own read-only mode: the file system would take the write, SQLite refuses it.
    read_only = f"sqlite:///file:{tmpfs / 'tuning.db'}?mode=ro&uri=true"
    engine = create_db_engine(sqlite_settings(tmpfs).model_copy(update={"database_url": read_only}))
    with (
        pytest.raises(StorageUnwritable, match="cannot be written: it is read-only"),
        Session(engine) as session,
    ):
        create_user(session=session, name="nobody")
    engine.dispose()


def test_a_file_write_on_a_full_or_read_only_file_system_is_said_in_words(tmpfs):
    fill_disk(tmpfs)
    with pytest.raises(OSError) as full:
        (tmpfs / "model.skops").write_bytes(b"x" * 100_000)
    subprocess.run(["mount", "-o", "remount,ro", str(tmpfs)], check=True)
    with pytest.raises(OSError) as read_only:
        (tmpfs / "other.skops").write_bytes(b"x")

    # A failed write() carries no file name (the open did); a refused open does.
    assert str(storage_error(full.value)) == (
        "A file cannot be written: the disk is full. Free some space; running work resumes "
        "by itself."
    )
    assert str(storage_error(read_only.value)).startswith(
        f"The file {tmpfs / 'other.skops'} cannot be written: its file system is read-only."
    )
    assert storage_error(ValueError("not storage")) is None


@pytest.mark.parametrize(
    ("error", "words"),
    [
        (psycopg.errors.DiskFull("could not extend file"), "the database server's disk is full"),
        (
            psycopg.errors.ReadOnlySqlTransaction("cannot execute INSERT"),
            "takes reads only (a read-only transaction, or a standby)",
        ),
    ],
)
def test_postgresql_disk_full_and_read_only_sqlstates_are_said_in_words(error, words):
    said = database_error(error, url="postgresql+psycopg://app:secret@db.example:5432/tuning")

    assert said is not None and words in str(said)
    assert "secret" not in str(said) and "db.example:5432/tuning" in str(said)


@pytest.mark.database
def test_a_read_only_transaction_on_postgresql_is_said_in_words():
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        pytest.skip("TEST_DATABASE_URL is not set: no PostgreSQL server to refuse a write")
    engine = create_db_engine(Settings(_env_file=None, database_url=url))
    with pytest.raises(StorageUnwritable, match="takes reads only"), engine.connect() as conn:
        conn.execute(text("SET TRANSACTION READ ONLY"))
        conn.execute(text("CREATE TABLE never_made (x int)"))
    engine.dispose()


@pytest.mark.parametrize(
    ("said", "words"),
    [
        (
            "MISCONF Errors writing to the AOF file: No space left on device",
            "it cannot save its data to disk (No space left on device)",
        ),
        ("READONLY You can't write against a read only replica.", "a read-only replica"),
        ("OOM command not allowed when used memory > 'maxmemory'.", "out of memory"),
    ],
)
def test_redis_refusals_to_write_are_said_in_words(said, words):
    import redis

    found = redis_error(redis.ResponseError(said), url="redis://:pw@cache:6379/0")

    assert found is not None and words in str(found) and "pw" not in str(found)


def test_a_full_data_directory_refuses_a_submission_with_a_503_in_words(tmpfs, migrated_sqlite):
    settings = sqlite_settings(tmpfs)
    (tmpfs / "tuning.db").write_bytes(migrated_sqlite.read_bytes())
    runtime = create_runtime(settings)
    with Session(runtime.engine) as session:
        _, token = create_user(session=session, name="analyst")
    fill_disk(tmpfs)
    client = TestClient(create_app(runtime), raise_server_exceptions=False)

    answer = client.post(
        "/api/v1/tuning/tune",
        json={"dataset": "iris", "estimator": "LogisticRegression", "param_grid": {"C": [1]}},
        headers={"Authorization": f"Bearer {token}"},
    )

    assert answer.status_code == 503, answer.text
    assert answer.headers["Retry-After"] == str(StorageUnwritable.RETRY_AFTER_S)
    detail = answer.json()["detail"]
    assert f"The database {tmpfs / 'tuning.db'} cannot be written: the disk is full" in detail
    assert ANSWERS_LATER in detail
    health = client.get("/healthz")
    assert health.status_code == 503
    assert "the disk is full" in health.json()["database"]["detail"]
    runtime.engine.dispose()


def test_an_unexpected_api_error_is_a_500_in_words_with_an_error_id(runtime):
    app = create_app(runtime)

    def broken() -> None:
        raise RuntimeError("a bug, not the user's fault")

    app.add_api_route("/broken", broken)
    answer = TestClient(app, raise_server_exceptions=False).get("/broken")

    assert answer.status_code == 500
    body = answer.json()
    assert len(body["error_id"]) == 12 and body["error_id"] in body["detail"]
    assert body["detail"].startswith("An unexpected error stopped this request (RuntimeError")
    assert "Traceback" not in answer.text and "a bug" not in answer.text


def test_a_chunk_that_cannot_be_stored_waits_and_goes_back_in_line_not_failed(
    tmpfs, migrated_sqlite
):
    """The worker's side, in process: the data directory is read-only when the chunk starts
    (a real remount); the run is not failed, the task says why for status reads, and once
    writes are taken again the chunk is back in line under a new task id; the run then ends
    with every candidate once."""
    shutil.copyfile(migrated_sqlite, tmpfs / "tuning.db")
    settings = sqlite_settings(tmpfs)
    app = InProcess(settings, create_db_engine(settings), RecordingQueue())
    run = app.submit(dataset="iris", estimator="LogisticRegression", param_grid=GRID, cv=3)
    sent = app.queue.chunks[0]
    app.engine.dispose()  # no file open for writing: the remount needs none
    subprocess.run(["mount", "-o", "remount,ro", str(tmpfs)], check=True)
    reports: list[str] = []
    report = app.queue.report_stalled

    def writable_again(reason: str, ttl_s: float) -> None:  # an operator fixes the mount
        reports.append(reason)
        report(reason, ttl_s)
        subprocess.run(["mount", "-o", "remount,rw", str(tmpfs)], check=True)

    app.queue.report_stalled = writable_again  # type: ignore[method-assign]
    status = execute_chunk(
        engine=app.engine,
        queue=app.queue,
        settings=settings,
        run_id=run.id,
        index=sent.index,
        worker="w@test",
    )

    assert status is None  # it waited, then put the chunk back: nothing failed
    assert reports == [
        f"The database {tmpfs / 'tuning.db'} cannot be written: its file system is read-only. "
        "Make it writable again (remount it read-write, or fix its permissions); running work "
        "resumes by itself."
    ]
    assert app.queue.stalled() == reports[0]
    resent = app.queue.chunks[-1]
    assert (resent.run_id, resent.index) == (run.id, 0) and resent.task_id != sent.task_id
    app.run_sent()
    with app.session() as session:
        final = get_status(session=session, queue=app.queue, run_id=run.id)
        trials = list_trials(session=session, run_id=run.id)
    assert final.status is RunStatus.SUCCESS, final
    assert sorted(trial.index for trial in trials) == [0, 1, 2]
    app.engine.dispose()


def test_the_cli_says_an_unexpected_error_in_one_line_and_where_its_traceback_is(tmp_path):
    env = dict(
        os.environ,
        DATA_DIR=str(tmp_path),
        DATABASE_URL=f"sqlite:///{tmp_path / 'no-such-folder' / 'tuning.db'}",
        REDIS_URL="redis://127.0.0.1:1/0",
        PYTHONPATH=str(PROJECT_ROOT),
    )
    argv = [sys.executable, "-m", "tuning", "status", str(uuid.uuid4())]

    quiet = subprocess.run(argv, env=env, capture_output=True, text=True, cwd=tmp_path)
    loud = subprocess.run(
        [*argv[:3], "--debug", *argv[3:]], env=env, capture_output=True, text=True, cwd=tmp_path
    )

    assert quiet.returncode == 4, quiet.stderr
    assert "Traceback" not in quiet.stderr and len(quiet.stderr.strip().splitlines()) == 1
    assert "error: unexpected OperationalError: " in quiet.stderr
    log = tmp_path / "logs" / "cli-errors.log"
    assert f"its traceback is in {log}" in quiet.stderr
    assert "Traceback" in log.read_text() and "unable to open database file" in log.read_text()
    assert loud.returncode == 4 and "Traceback" in loud.stderr
