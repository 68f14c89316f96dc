"""A run's chunks: claiming one, planning the rest from measured times, storing them."""

import math
import uuid
from typing import Any

from sqlalchemy import func, or_, update
from sqlmodel import Session, col, select

from tuning.config import Settings
from tuning.db import insert_new
from tuning.domain import utcnow
from tuning.models import Chunk, TuningRun
from tuning.service.execution.dispatch import dispatch
from tuning.service.execution.lifecycle import end_chunks_of_finished
from tuning.service.execution.queue import TaskQueue
from tuning.service.operations.workers import live_processes

__all__ = [
    "add_chunks",
    "back_in_line",
    "chunk_size",
    "claim_chunk",
    "live_processes",
    "plan_chunks",
    "release_chunk",
]

# Enough tasks per worker process that the last ones to finish leave little idle time.
TASKS_PER_PROCESS = 4
MAX_CHUNK = 5_000


def claim_chunk(*, session: Session, run_id: uuid.UUID, index: int, worker: str) -> Chunk | None:
    """Mark the chunk running on `worker`; None if it is done (or does not exist).

    A task that arrives was sent, whatever its sender heard back in time: the chunk and its
    run are marked sent, so that the outbox does not send them again.
    """
    now = utcnow()
    # The run's row before the chunk's, as every transaction that writes both takes them: in
    # one order, PostgreSQL never has two of them wait on each other.
    session.execute(
        update(TuningRun)
        .where(col(TuningRun.id) == run_id, col(TuningRun.sent_at).is_(None))
        .values(sent_at=now)
    )
    claimed = session.execute(
        update(Chunk)
        .where(col(Chunk.run_id) == run_id, col(Chunk.index) == index, col(Chunk.state) != "done")
        .values(
            state="running",
            worker=worker,
            started_at=now,
            sent_at=func.coalesce(Chunk.sent_at, now),
            attempts=Chunk.attempts + 1,
        )
    )
    session.commit()
    if claimed.rowcount == 0:  # type: ignore[attr-defined]  # an UPDATE's CursorResult
        return None
    return session.exec(
        select(Chunk).where(col(Chunk.run_id) == run_id, col(Chunk.index) == index)
    ).one()


def back_in_line() -> dict[str, Any]:
    """A chunk's values as it goes back to wait for its turn: on no worker, not sent, under a
    new task id (so that a late delivery of the old task is told apart)."""
    return {"state": "queued", "worker": None, "sent_at": None, "task_id": str(uuid.uuid4())}


def release_chunk(*, session: Session, run_id: uuid.UUID, index: int, worker: str) -> bool:
    """Put back in line a chunk that `worker`'s task could not finish (its storage took no
    writes), to be sent again by `dispatch` with a new task id; it resumes from the trials
    stored. A chunk done, or taken since by another worker, is left alone. True if put back."""
    released = session.execute(
        update(Chunk)
        .where(
            col(Chunk.run_id) == run_id,
            col(Chunk.index) == index,
            col(Chunk.state) != "done",
            or_(col(Chunk.worker) == worker, col(Chunk.worker).is_(None)),
        )
        .values(**back_in_line())
    )
    session.commit()
    return bool(released.rowcount)  # type: ignore[attr-defined]  # an UPDATE's CursorResult


def chunk_size(
    *, per_candidate_s: float, n_remaining: int, n_processes: int, target_s: float
) -> int:
    """Candidates per task: about `target_s` of work, yet several tasks per worker process."""
    by_time = int(target_s / per_candidate_s) if per_candidate_s > 0 else MAX_CHUNK
    spread = math.ceil(n_remaining / (TASKS_PER_PROCESS * max(n_processes, 1)))
    return max(1, min(by_time, spread, MAX_CHUNK))


def plan_chunks(
    *,
    session: Session,
    queue: TaskQueue,
    settings: Settings,
    run: TuningRun,
    probed_to: int,
    per_candidate_s: float,
) -> int:
    """Chunk 0 ends at `probed_to`; the rest become chunks, stored, then sent. Returns where
    chunk 0 ends now: `probed_to`, or where another delivery of chunk 0 planned it to end."""
    total = run.first_rung_size
    size = chunk_size(
        per_candidate_s=per_candidate_s,
        n_remaining=total - probed_to,
        n_processes=live_processes(session=session, settings=settings),
        target_s=settings.task_target_s,
    )
    planned = session.execute(
        update(TuningRun)
        .where(col(TuningRun.id) == run.id, col(TuningRun.chunk_size).is_(None))
        .values(chunk_size=size)
    )
    if planned.rowcount == 0:  # type: ignore[attr-defined]  # another delivery planned first
        session.commit()
        return session.exec(
            select(Chunk.stop).where(col(Chunk.run_id) == run.id, col(Chunk.index) == 0)
        ).one()
    run.chunk_size = size
    session.execute(
        update(Chunk)
        .where(col(Chunk.run_id) == run.id, col(Chunk.index) == 0)
        .values(stop=probed_to)
    )
    starts = range(probed_to, total, size)
    add_chunks(
        session=session,
        queue=queue,
        settings=settings,
        run_id=run.id,
        spans=[
            (number, start, min(start + size, total))
            for number, start in enumerate(starts, start=1)
        ],
    )
    return probed_to


def add_chunks(
    *,
    session: Session,
    queue: TaskQueue,
    settings: Settings,
    run_id: uuid.UUID,
    spans: list[tuple[int, int, int]],
) -> None:
    """Store chunks (index, start, stop) as queued, each with its task id, then send what fair
    turns allow now (`dispatch`); the rest go as chunks end."""
    rows: list[dict[str, Any]] = [
        {
            "run_id": run_id,
            "index": index,
            "start": start,
            "stop": stop,
            "state": "queued",
            "task_id": str(uuid.uuid4()),
            "attempts": 0,
        }
        for index, start, stop in spans
    ]
    insert_new(session, Chunk, rows)
    session.commit()
    # A cancel (or any end) committed while these were planned swept the run's chunks before
    # they were stored: end them too, so a finished run leaves none waiting.
    end_chunks_of_finished(session=session, run_ids=[run_id])
    dispatch(session=session, queue=queue, settings=settings)
