"""The reconciler: it makes the queue match the database, which is the source of truth.

One worker process at a time runs it (a lease in the database), every few seconds:

- the outbox: a run stored but never handed to the broker (it was down or stalled) is sent;
- lost work: a chunk running on a worker that stopped sending heartbeats is queued again;
- fair turns: chunks waiting for a free worker process are dispatched (`dispatch`), so a
  worker that died between ending a chunk and sending the next one delays nothing;
- old idempotency keys: those past a day are deleted (tuning.service.commands.idempotency);
- loose ends: a run that has ended has its chunks still waiting ended, a run whose every
  candidate is stored is ended, a halving run whose rung is stored but whose next rung was
  never opened (its opener crashed) has it opened, and a run past the time limit fails.

Everything it does is harmless to repeat: a chunk delivered twice stores nothing twice.
"""

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

from sqlalchemy import func, or_, update
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from tuning.config import Settings
from tuning.domain import ACTIVE, RunStatus, as_utc, utcnow
from tuning.models import Chunk, TrainingRun, Trial, TuningRun
from tuning.service.commands.idempotency import purge_expired_keys
from tuning.service.execution.chunks import back_in_line
from tuning.service.execution.dispatch import dispatch
from tuning.service.execution.endings import record_best
from tuning.service.execution.lifecycle import end_chunks_of_finished, finish, send_run
from tuning.service.execution.queue import TaskQueue
from tuning.service.operations.workers import LiveWorker, live_workers
from tuning.service.searches import STRATEGIES, strategy_for

log = logging.getLogger(__name__)

# A submission is sent by its API process at once; the outbox leaves it alone this long first.
OUTBOX_GRACE_S = 5.0


@dataclass(frozen=True)
class Reconciled:
    swept: int = 0  # chunks left waiting by a finished run, ended
    sent: int = 0
    requeued: int = 0
    finished: int = 0
    timed_out: int = 0
    dispatched: int = 0
    purged_keys: int = 0


def reconcile(*, session: Session, queue: TaskQueue, settings: Settings) -> Reconciled:
    """One pass; what it did, for the log."""
    done = Reconciled(
        swept=end_chunks_of_finished(session=session),
        sent=_send_outbox(session, queue),
        requeued=_requeue_lost_chunks(session, settings),
        finished=_finish_complete_runs(session) + _open_stalled_rungs(session, queue, settings),
        timed_out=_fail_overdue_runs(session, settings),
        dispatched=dispatch(session=session, queue=queue, settings=settings),
        purged_keys=purge_expired_keys(session=session),
    )
    if done != Reconciled():
        log.info("reconciled: %s", done)
    return done


def _send_outbox(session: Session, queue: TaskQueue) -> int:
    before = utcnow() - timedelta(seconds=OUTBOX_GRACE_S)
    sent = 0
    waiting: list[TuningRun | TrainingRun] = []
    waiting += session.exec(_outbox(TuningRun, before)).all()
    waiting += session.exec(_outbox(TrainingRun, before)).all()
    for run in waiting:
        if not send_run(session=session, queue=queue, run=run):
            return sent  # the broker still does not answer: try again next pass
        sent += 1
    return sent


R = TypeVar("R", TuningRun, TrainingRun)


def _outbox(kind: type[R], before: datetime) -> SelectOfScalar[R]:
    return select(kind).where(
        col(kind.status) == RunStatus.PENDING,
        col(kind.sent_at).is_(None),
        col(kind.created_at) < before,
    )


def _requeue_lost_chunks(session: Session, settings: Settings) -> int:
    """Chunks whose worker went silent, or sent long ago and never started while their run
    stood idle, back to waiting for `dispatch`; how many."""
    workers = live_workers(session=session, timeout_s=settings.worker_timeout_s)
    live = {worker.hostname: worker for worker in workers}
    candidates = session.exec(
        select(Chunk)
        .join(TuningRun, col(TuningRun.id) == Chunk.run_id)
        .where(
            col(TuningRun.status).in_(list(ACTIVE)),
            or_(
                col(Chunk.state) == "running",
                (col(Chunk.state) == "queued") & col(Chunk.sent_at).is_not(None),
            ),
        )
        .order_by(col(Chunk.run_id), col(Chunk.index))
    ).all()
    running = [c for c in candidates if c.state == "running"]
    busy = {c.run_id for c in running if not _lost(c, live)} | _recently_stored(session, settings)
    stale = utcnow() - timedelta(seconds=3 * settings.worker_timeout_s)
    requeued = 0
    for chunk in candidates:
        if chunk.state == "running" and not _lost(chunk, live):
            continue
        # Sent, not started: waiting behind other work, or held by a worker that died before
        # starting it (its message then waits out the visibility timeout). Sent again only
        # when its run has been idle a while, so a long queue gains few duplicates.
        if (
            chunk.state == "queued"
            and chunk.sent_at is not None
            and (chunk.run_id in busy or _moment(chunk.sent_at) > stale)
        ):
            continue
        if chunk.state == "running":
            log.warning(
                "chunk %s of run %s was on %s, which went silent or restarted",
                chunk.index,
                chunk.run_id,
                chunk.worker,
            )
        session.execute(
            update(Chunk)
            .where(col(Chunk.id) == chunk.id, col(Chunk.state) == chunk.state)
            .values(**back_in_line())
        )
        requeued += 1
    session.commit()
    return requeued


def _recently_stored(session: Session, settings: Settings) -> set[uuid.UUID]:
    """Active runs that stored a trial within the worker timeout: they are moving."""
    since = utcnow() - timedelta(seconds=settings.worker_timeout_s)
    rows = session.exec(
        select(Trial.run_id)
        .join(TuningRun, col(TuningRun.id) == Trial.run_id)
        .where(col(TuningRun.status).in_(list(ACTIVE)), col(Trial.finished_at) >= since)
        .distinct()
    ).all()
    return set(rows)


def _moment(value: datetime) -> datetime:
    moment = as_utc(value)
    assert moment is not None
    return moment


def _lost(chunk: Chunk, live: dict[str, LiveWorker]) -> bool:
    """A running chunk is lost when its worker went silent, or restarted since it took it."""
    worker = live.get(chunk.worker or "")
    if worker is None:
        return True
    taken = as_utc(chunk.started_at)
    return taken is not None and taken < worker.started_at


def _finish_complete_runs(session: Session) -> int:
    complete = session.exec(
        select(TuningRun)
        .join(Trial, col(Trial.run_id) == TuningRun.id)
        .where(col(TuningRun.status).in_(list(ACTIVE)), col(TuningRun.chunk_size).is_not(None))
        .group_by(col(TuningRun.id))
        .having(func.count(col(Trial.id)) >= TuningRun.total_combinations)
    ).all()
    for run in complete:
        record_best(session=session, run=run)
    return len(complete)


def _open_stalled_rungs(session: Session, queue: TaskQueue, settings: Settings) -> int:
    """Runs with rungs (halving) whose chunks all ended but not the run: their next rung was
    never opened, so the search opens it."""
    with_rungs = [strategy.kind for strategy in STRATEGIES.values() if strategy.has_rungs]
    unfinished = select(Chunk.run_id).where(col(Chunk.state) != "done")
    stalled = session.exec(
        select(TuningRun).where(
            col(TuningRun.status).in_(list(ACTIVE)),
            col(TuningRun.search).in_(with_rungs),
            col(TuningRun.chunk_size).is_not(None),
            col(TuningRun.id).not_in(unfinished),
        )
    ).all()
    opened = 0
    for run in stalled:
        n_stored = session.exec(
            select(func.count()).select_from(Trial).where(col(Trial.run_id) == run.id)
        ).one()
        opened += strategy_for(run.search).after_stored(
            session=session, queue=queue, settings=settings, run=run, n_stored=n_stored
        )
    return opened


def _fail_overdue_runs(session: Session, settings: Settings) -> int:
    limit = utcnow() - timedelta(seconds=settings.run_time_limit_s)
    overdue = session.exec(
        select(TuningRun.id).where(
            col(TuningRun.status).in_(list(ACTIVE)), col(TuningRun.started_at) < limit
        )
    ).all()
    for run_id in overdue:
        finish(
            session=session,
            kind=TuningRun,
            run_id=run_id,
            status=RunStatus.FAILURE,
            error_type="TimeLimitExceeded",
            error_message=f"the run went on past RUN_TIME_LIMIT_S ({settings.run_time_limit_s} s)",
        )
    return len(overdue)
