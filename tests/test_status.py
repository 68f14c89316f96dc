"""get_status: the spec's shape, live from Celery, and the database when Redis cannot answer."""

import contextlib
import json
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import event
from sqlmodel import Session

from tuning.config import Settings
from tuning.domain import RunStatus
from tuning.errors import InvalidInput, NotFound
from tuning.models import TuningRun, User
from tuning.runtime import Runtime, create_runtime
from tuning.service import get_status, get_status_for_token, rotate_token

import factories
from stack import wait_until

pytestmark = pytest.mark.database

SPEC_KEYS = {"tuning_run_id", "task_id", "status", "progress", "result", "error"}


def make_run(
    session: Session, owner: User, status: RunStatus = RunStatus.PENDING, **fields: Any
) -> TuningRun:
    """A run of 36 candidates with no trials stored, in `status`, as the status reads see it."""
    return factories.make_run(
        session,
        owner,
        status=status,
        n_trials=0,
        progress_total=36,
        total_combinations=36,
        **fields,
    )


class HungRedis(str):
    """The server's URL, with the connections it accepted."""

    connections: list[socket.socket]
    rounds: int  # of the accept loop; each takes every connection already made

    def __new__(cls, url: str) -> "HungRedis":
        made = super().__new__(cls, url)
        made.connections, made.rounds = [], 0
        return made

    def accepted(self) -> int:
        """How many connections it holds, counted once those already made are all accepted."""
        target = self.rounds + 2  # the round under way may have begun before the last connect
        wait_until(lambda: self.rounds >= target, 5, 0.01, "the accept loop stopped")
        return len(self.connections)


@pytest.fixture
def hung_redis() -> Iterator[HungRedis]:
    """A TCP server on loopback that accepts connections and never answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    hung = HungRedis(f"redis://127.0.0.1:{server.getsockname()[1]}/0")
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.05)
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                hung.connections.append(server.accept()[0])
            hung.rounds += 1

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield hung
    stop.set()
    thread.join()
    for connection in hung.connections:
        connection.close()
    server.close()


def test_after_a_timeout_status_reads_skip_redis_for_a_while(settings, session, user, hung_redis):
    run = make_run(session, user, status=RunStatus.PROGRESS, progress_current=4)
    hung = runtime_with_redis(settings, hung_redis)

    first = get_status(session=session, queue=hung.queue, run_id=run.id)
    connections_after_first = hung_redis.accepted()
    second = get_status(session=session, queue=hung.queue, run_id=run.id)

    assert first.progress.current == second.progress.current == 4
    assert connections_after_first == 1
    assert hung_redis.accepted() == 1, "the second read went to the hung Redis again"


def runtime_with_redis(settings: Settings, redis_url: str) -> Runtime:
    return create_runtime(settings.model_copy(update={"redis_url": redis_url}))


def test_progress_from_the_database_when_redis_is_down(settings, session, user):
    run = make_run(session, user, status=RunStatus.PROGRESS, progress_current=15)
    stopped = runtime_with_redis(settings, f"redis+socket://{settings.data_dir}/stopped.sock")

    status = get_status(session=session, queue=stopped.queue, run_id=run.id)

    assert json.loads(status.to_json()) == {
        "tuning_run_id": str(run.id),
        "task_id": run.task_id,
        "status": "PROGRESS",
        "progress": {
            "current": 15,
            "total": 36,
            "status": "Testing parameter combination 15/36...",
            "percentage": 41.67,
        },
        "result": None,
        "error": None,
    }


def test_a_hung_redis_never_hangs_a_status_read(settings, session, user, hung_redis):
    run = make_run(session, user, status=RunStatus.PROGRESS, progress_current=3)
    hung = runtime_with_redis(settings, hung_redis)

    started = time.monotonic()
    status = get_status(session=session, queue=hung.queue, run_id=run.id)
    elapsed = time.monotonic() - started

    assert status.status is RunStatus.PROGRESS and status.progress.current == 3
    # The Celery read has a 0.5 s budget; generous headroom for a loaded CI machine.
    assert elapsed < 3, elapsed


def test_an_expired_celery_result_falls_back_to_the_database(runtime, session, user):
    run = make_run(session, user, status=RunStatus.PROGRESS, progress_current=2)
    status = get_status(session=session, queue=runtime.queue, run_id=run.id)
    assert status.status is RunStatus.PROGRESS and status.progress.current == 2


def test_pending_has_the_spec_shape(runtime, session, user):
    run = make_run(session, user)
    status = get_status(session=session, queue=runtime.queue, run_id=run.id)
    assert json.loads(status.to_json()) == {
        "tuning_run_id": str(run.id),
        "task_id": run.task_id,
        "status": "PENDING",
        "progress": None,
        "result": None,
        "error": None,
    }


def test_success_and_failure_have_the_spec_shape(runtime, session, user):
    done = make_run(
        session,
        user,
        status=RunStatus.SUCCESS,
        best_params={"n_estimators": 100, "max_depth": 10},
        best_score=0.9567,
        tuning_time=120.5,
    )
    failed = make_run(
        session,
        user,
        status=RunStatus.FAILURE,
        error_type="ValueError",
        error_message="Invalid parameter grid",
    )

    success = get_status(session=session, queue=runtime.queue, run_id=done.id)
    failure = get_status(session=session, queue=runtime.queue, run_id=failed.id)

    assert success.model_dump(mode="json")["result"] == {
        "best_params": {"n_estimators": 100, "max_depth": 10},
        "best_score": 0.9567,
        "total_combinations": 36,
        "tuning_time": 120.5,
    }
    assert success.progress is None and success.error is None
    assert failure.model_dump(mode="json")["error"] == {
        "type": "ValueError",
        "message": "Invalid parameter grid",
    }
    assert failure.progress is None and failure.result is None
    # As the API and the CLI write it: the spec's fields, and `queue` only for a queued run.
    assert set(json.loads(success.to_json())) == set(json.loads(failure.to_json())) == SPEC_KEYS


@pytest.mark.parametrize(
    ("celery_state", "spec_status"),
    [("STARTED", RunStatus.PROGRESS), ("RETRY", RunStatus.PENDING), ("REVOKED", RunStatus.REVOKED)],
)
def test_celery_states_map_onto_the_five_spec_statuses(
    runtime, session, user, celery_state, spec_status
):
    run = make_run(session, user)
    runtime.celery.backend.store_result(run.task_id, None, celery_state)
    status = get_status(session=session, queue=runtime.queue, run_id=run.id)
    assert status.status is spec_status


def test_a_celery_failure_is_reported_with_its_type_and_message(runtime, session, user):
    run = make_run(session, user, status=RunStatus.PROGRESS)
    runtime.celery.backend.mark_as_failure(run.task_id, MemoryError("worker ran out of memory"))
    status = get_status(session=session, queue=runtime.queue, run_id=run.id)
    assert status.status is RunStatus.FAILURE
    assert status.error.model_dump() == {
        "type": "MemoryError",
        "message": "worker ran out of memory",
    }


def test_live_progress_meta_is_read_from_celery(runtime, session, user):
    run = make_run(session, user, status=RunStatus.PROGRESS, progress_current=1)
    meta = {
        "current": 15,
        "total": 36,
        "status": "Testing parameter combination 15/36...",
        "percentage": 41.67,
    }
    runtime.celery.backend.store_result(run.task_id, meta, "PROGRESS")
    status = get_status(session=session, queue=runtime.queue, run_id=run.id)
    assert status.progress.model_dump() == meta


def test_bad_ids(runtime, session):
    with pytest.raises(InvalidInput) as caught:
        get_status(session=session, queue=runtime.queue, run_id="abc-123")
    assert caught.value.field == "tuning_run_id"
    with pytest.raises(NotFound):
        get_status(session=session, queue=runtime.queue, run_id=str(uuid.uuid4()))


def test_the_polling_path_reads_the_token_and_the_run_in_one_query(runtime, session, user):
    token = rotate_token(session=session, user=user)
    run = make_run(session, user, status=RunStatus.SUCCESS, best_params={}, best_score=0.5)
    statements = []

    def listener(conn, cursor, statement, *rest) -> None:
        statements.append(statement)

    event.listen(runtime.engine, "before_cursor_execute", listener)
    try:
        with Session(runtime.engine) as fresh:
            status = get_status_for_token(
                session=fresh, queue=runtime.queue, run_id=run.id, token=token
            )
    finally:
        event.remove(runtime.engine, "before_cursor_execute", listener)
    assert status.status is RunStatus.SUCCESS
    assert len(statements) == 1, statements
