"""Where a queued run stands: its place among the runs waiting to start and when it should.

A run's first chunk goes to the broker at submit, and fair turns (tuning.service.execution
.dispatch) keep every other chunk out of the broker until a process is free, so the runs
waiting to start start in the order they were sent, each when a process frees up after the
work ahead of it. The expected start is that work over the live processes, in chunks of the
duration measured over the last hour.
"""

import math
import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import Row, select
from sqlmodel import Session, col

from tuning.config import Settings
from tuning.domain import ACTIVE, RunStatus, as_utc, utcnow
from tuning.models import UNFINISHED_CHUNK, Chunk, TuningRun
from tuning.schemas import QueuePlace
from tuning.service.operations.workers import live_processes

# Chunk times are measured over this window; before any, a chunk lasts TASK_TARGET_S.
MEASURED_OVER = timedelta(hours=1)
MEASURED_CHUNKS = 200


def queue_places(*, session: Session, settings: Settings) -> dict[uuid.UUID, QueuePlace]:
    """Every queued (PENDING) tuning run's place, by run id; reads only the chunks out."""
    pending = session.execute(
        select(col(TuningRun.id), col(TuningRun.sent_at), col(TuningRun.created_at))
        .where(col(TuningRun.status) == RunStatus.PENDING)
        .order_by(
            col(TuningRun.sent_at).is_(None), col(TuningRun.sent_at), col(TuningRun.created_at)
        )
    ).all()
    if not pending:
        return {}
    out = session.execute(
        select(col(Chunk.run_id), col(Chunk.index), col(Chunk.state), col(Chunk.sent_at))
        .join(TuningRun, col(TuningRun.id) == Chunk.run_id)
        .where(col(Chunk.state).in_(UNFINISHED_CHUNK), col(Chunk.sent_at).is_not(None))
        .where(col(TuningRun.status).in_(list(ACTIVE)))
    ).all()
    n_processes = max(1, live_processes(session=session, settings=settings))
    chunk_s = typical_chunk_s(session=session, settings=settings)
    running = [row for row in out if row.state == "running"]
    queued = sorted(
        (row for row in out if row.state == "queued"), key=lambda row: as_utc(row.sent_at)
    )
    free = max(0, n_processes - len(running))
    places: dict[uuid.UUID, QueuePlace] = {}
    for position, (run_id, _, _) in enumerate(pending, start=1):
        ahead = _ahead_of(run_id, queued)
        waits = len(ahead) + 1 - free  # chunks that must end before a process is ours
        places[run_id] = QueuePlace(
            position=position,
            runs_ahead=len({row.run_id for row in running} | {row.run_id for row in ahead}),
            expected_start_s=0.0
            if waits <= 0
            else round(chunk_s * math.ceil(waits / n_processes), 1),
        )
    return places


def _ahead_of(run_id: uuid.UUID, queued: list[Row[Any]]) -> list[Row[Any]]:
    """The queued chunks sent before this run's first (all of them if it is not sent yet)."""
    for position, row in enumerate(queued):
        if row.run_id == run_id and row.index == 0:
            return queued[:position]
    return queued


def typical_chunk_s(*, session: Session, settings: Settings) -> float:
    """The mean time of the latest chunks ended in the last hour; TASK_TARGET_S if none."""
    since = utcnow() - MEASURED_OVER
    started, finished = col(Chunk.started_at), col(Chunk.finished_at)
    rows = session.execute(
        select(started, finished)
        .where(finished >= since, started.is_not(None))
        .order_by(finished.desc())
        .limit(MEASURED_CHUNKS)
    ).all()
    times = [(as_utc(end) - as_utc(start)).total_seconds() for start, end in rows]
    return sum(times) / len(times) if times else settings.task_target_s
