"""What tuning and training runs share: checking a configuration, queueing, ending."""

import logging
import uuid
from typing import TypeVar

from sqlalchemy import select, update
from sqlmodel import Session, col

from tuning.domain import ACTIVE, FINISHED, RunStatus, utcnow
from tuning.errors import InvalidInput, Unavailable, shown
from tuning.ml import catalog
from tuning.models import UNFINISHED_CHUNK, Chunk, Dataset, TrainingRun, TuningRun, User
from tuning.service.data.datasets import get_dataset
from tuning.service.execution.queue import TaskQueue

log = logging.getLogger(__name__)

AnyRun = TuningRun | TrainingRun


def estimator_and_dataset(
    *, session: Session, estimator: str, dataset: str, viewer: User
) -> tuple[catalog.EstimatorSpec, Dataset]:
    """The catalog entry and a dataset `viewer` may use, checked to be for the same task."""
    spec = catalog.get_estimator(estimator)
    found = get_dataset(session=session, name=dataset, viewer=viewer)
    if spec.task != found.task:
        raise InvalidInput(
            "estimator",
            f"{spec.name} is for {spec.task.value}; dataset {shown(found.name)} is "
            f"{found.task.value}",
        )
    return spec, found


R = TypeVar("R", TuningRun, TrainingRun)


def store_and_enqueue(*, session: Session, run: R, queue: TaskQueue) -> R:
    """Commit the run as PENDING, then hand it to a worker (commit before enqueue).

    The row is the source of truth: if the broker does not take the run within its budget, the
    run stays PENDING in the outbox and the reconciler sends it once the broker answers. A
    broker outage loses no submission and never holds up the caller.
    """
    run.task_id = str(uuid.uuid4())
    session.add(run)
    session.flush()  # the run's row first: the chunk refers to it
    if isinstance(run, TuningRun):
        # Chunk 0 holds every candidate (of the first rung, for halving) until its task has
        # timed the first ones and planned the rest; its task id is the run's.
        session.add(
            Chunk(run_id=run.id, index=0, start=0, stop=run.first_rung_size, task_id=run.task_id)
        )
    session.commit()
    send_run(session=session, queue=queue, run=run)
    # Not refreshed: the answer says what the submission did (stored PENDING and queued), even
    # when a worker has started the run in the meantime.
    return run


def send_run(*, session: Session, queue: TaskQueue, run: AnyRun) -> bool:
    """Hand a stored run's first task to the broker and note when; False if it did not go."""
    assert run.task_id is not None, "a stored run has a task id"
    try:
        if isinstance(run, TuningRun):
            queue.enqueue_chunk(run.id, 0, task_id=run.task_id)
        else:
            queue.enqueue_training(run.id, task_id=run.task_id)
    except Unavailable as exc:
        log.warning("%s %s waits in the outbox: %s", type(run).__name__, run.id, exc)
        return False
    now = utcnow()
    session.execute(update(type(run)).where(col(type(run).id) == run.id).values(sent_at=now))
    if isinstance(run, TuningRun):
        session.execute(
            update(Chunk)
            .where(col(Chunk.run_id) == run.id, col(Chunk.index) == 0)
            .values(sent_at=now)
        )
    session.commit()
    return True


def update_active(
    *, session: Session, kind: type[AnyRun], run_id: uuid.UUID, **values: object
) -> bool:
    """Update the run only while it is still active, and commit; False once it has ended.

    The one guarded update: a cancel, a finish and a worker's progress all go through it, so a
    run that ended (or was cancelled) is never moved again by a late writer.
    """
    result = session.exec(
        update(kind).where(col(kind.id) == run_id, col(kind.status).in_(ACTIVE)).values(**values)
    )
    session.commit()
    return result.rowcount == 1


def finish(
    *, session: Session, kind: type[AnyRun], run_id: uuid.UUID, status: RunStatus, **values: object
) -> bool:
    """Move an active run to a final status; False if it had already ended (e.g. cancelled).
    A tuning run's chunks end with it: none is left queued or waiting for a turn."""
    ended = update_active(
        session=session, kind=kind, run_id=run_id, status=status, finished_at=utcnow(), **values
    )
    if ended and kind is TuningRun:
        end_chunks_of_finished(session=session, run_ids=[run_id])
    return ended


def end_chunks_of_finished(*, session: Session, run_ids: list[uuid.UUID] | None = None) -> int:
    """Mark done every chunk still queued or running of a finished run (of `run_ids`, or of
    any); commits; how many. A finished run's chunks wait for nothing."""
    finished = select(col(TuningRun.id)).where(col(TuningRun.status).in_(list(FINISHED)))
    if run_ids is not None:
        finished = finished.where(col(TuningRun.id).in_(run_ids))
    ended = session.execute(
        update(Chunk)
        .where(col(Chunk.state).in_(UNFINISHED_CHUNK), col(Chunk.run_id).in_(finished))
        .values(state="done", finished_at=utcnow())
    )
    session.commit()
    return ended.rowcount  # type: ignore[attr-defined]  # an UPDATE's CursorResult
