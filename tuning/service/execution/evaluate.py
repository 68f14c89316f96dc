"""Running a search: what a worker's task calls for one chunk of a run's candidates.

A run's candidates are split into chunks, each one short task that any worker process on any
host can take. Chunk 0 starts with every candidate: its task times the first ones, plans the
rest as chunks of about `task_target_s` each and sends them, then stops where it got. Every
task stores its trials together at most a second after they finish, notes the progress, and the
task that stores the last candidate records the best. A second delivery of a chunk skips what
is stored; a cancelled run stops at the next candidate boundary and keeps what it finished.

The loop is the same for every search: the run's strategy (`tuning.service.searches`) only
says which candidates a chunk holds, on which splits, and what stored trials open next.
"""

import logging
import math
import time
import uuid
from typing import Any

from sqlalchemy import Engine, func, select, update
from sqlmodel import Session, col

from tuning.config import Settings
from tuning.db import insert_new, session_scope
from tuning.domain import ACTIVE, FINISHED, RunStatus, utcnow
from tuning.errors import StorageUnwritable
from tuning.ml.search import CandidateResult, evaluate_candidate
from tuning.models import Chunk, Trial, TuningRun
from tuning.schemas import Progress
from tuning.service.execution.chunks import back_in_line, claim_chunk, release_chunk
from tuning.service.execution.dispatch import dispatch
from tuning.service.execution.endings import after_stored
from tuning.service.execution.lifecycle import finish, update_active
from tuning.service.execution.preparation import prepare
from tuning.service.execution.queue import TaskQueue
from tuning.service.operations.storage import report_stalled
from tuning.service.searches import Candidate, strategy_for

log = logging.getLogger(__name__)

# Trials are written together, at most this long after the first of them finished.
FLUSH_S = 1.0
# A chunk that could not be stored first tries to go back in line after this long.
RELEASE_FIRST_S = 0.5


def execute_chunk(
    *,
    engine: Engine,
    queue: TaskQueue,
    settings: Settings,
    run_id: uuid.UUID,
    index: int,
    worker: str,
) -> RunStatus | None:
    """Evaluate chunk `index` of the run, as far as it is not stored; the run's status after.

    Storage that cannot be written (a full disk, say) fails nothing: the task waits until it
    can put the chunk back in line, to be sent again, and the run resumes by itself."""
    with session_scope(engine) as session:
        try:
            return _execute(session, queue, settings, run_id, index, worker)
        except StorageUnwritable as exc:
            log.warning("chunk %d of tuning run %s cannot be stored: %s", index, run_id, exc)
            _release_when_writable(session, queue, settings, run_id, index, worker, exc)
            return None


def _execute(
    session: Session,
    queue: TaskQueue,
    settings: Settings,
    run_id: uuid.UUID,
    index: int,
    worker: str,
) -> RunStatus | None:
    run = session.get(TuningRun, run_id)
    if run is None:
        log.warning("tuning run %s does not exist; nothing to do", run_id)
        return None
    if run.status in FINISHED:
        _dispatch(session, queue, settings)  # its chunks no longer count as out
        return run.status  # cancelled while queued, or a late duplicate delivery
    chunk = claim_chunk(session=session, run_id=run_id, index=index, worker=worker)
    if chunk is None:
        return run.status  # done by an earlier delivery
    try:
        if _start(session, run):
            _evaluate(session, queue, settings, run, chunk, worker)
    except StorageUnwritable:
        raise  # not the run's fault: it waits, and is not failed
    except Exception as exc:
        log.exception("tuning run %s failed", run_id)
        session.rollback()
        finish(
            session=session,
            kind=TuningRun,
            run_id=run_id,
            status=RunStatus.FAILURE,
            error_type=type(exc).__name__,
            error_message=str(exc)[:2000] or repr(exc),
        )
    session.refresh(run)
    _dispatch(session, queue, settings)
    return run.status


def _release_when_writable(
    session: Session,
    queue: TaskQueue,
    settings: Settings,
    run_id: uuid.UUID,
    index: int,
    worker: str,
    error: StorageUnwritable,
) -> None:
    """Say why the chunk waits (for status reads), and try again, a little less often each
    time up to once a heartbeat, until the chunk is back in line; then send what is next.

    Each try is on a new connection: one that met a full disk may keep failing after space
    returns (SQLite's I/O error), and any error of a try is tried again rather than raised,
    for a chunk left "running" by a live worker would wait for nothing forever."""
    delay = RELEASE_FIRST_S
    while True:
        report_stalled(settings=settings, queue=queue, error=error)
        time.sleep(delay)
        delay = min(2 * delay, settings.heartbeat_s)
        session.invalidate()  # a fresh connection from the pool for this try
        try:
            release_chunk(session=session, run_id=run_id, index=index, worker=worker)
        except StorageUnwritable as exc:
            error = exc
            continue
        except Exception:
            log.exception(
                "chunk %d of tuning run %s: putting it back in line failed", index, run_id
            )
            continue
        log.info("chunk %d of tuning run %s is back in line: storage takes writes", index, run_id)
        _dispatch(session, queue, settings)
        return


def _dispatch(session: Session, queue: TaskQueue, settings: Settings) -> None:
    """This chunk's process is free: send the next chunks in fair order. A failure here loses
    nothing (the reconciler dispatches on its next pass), so it never fails the chunk."""
    try:
        dispatch(session=session, queue=queue, settings=settings)
    except Exception:
        log.exception("dispatch after a chunk failed; the reconciler will dispatch")
        session.rollback()


def _start(session: Session, run: TuningRun) -> bool:
    values: dict[str, Any] = {"status": RunStatus.PROGRESS}
    if run.started_at is None:
        values["started_at"] = run.started_at = utcnow()
        values["progress_message"] = _message(run, 0)
    return update_active(session=session, kind=TuningRun, run_id=run.id, **values)


def _message(run: TuningRun, n_stored: int) -> str:
    return strategy_for(run.search).message(run, n_stored)


def _evaluate(
    session: Session,
    queue: TaskQueue,
    settings: Settings,
    run: TuningRun,
    chunk: Chunk,
    worker: str,
) -> None:
    """The one loop of every search: the run's strategy gives the chunk's candidates (a span of
    listed ones, or a Bayesian slot's proposals) with their splits; fitting, storing, progress
    and what the stored trials settle are the same for all."""
    work = prepare(session=session, run=run)
    search = strategy_for(run.search)
    candidates = search.candidates(
        session=session, queue=queue, settings=settings, run=run, chunk=chunk, work=work
    )
    pending: list[dict[str, Any]] = []
    last_flush = time.monotonic()
    while True:
        # Stamped before the check: a candidate stamped after a cancel's commit sees it and does
        # not start, so no stored candidate started after the cancel was committed.
        started_at = utcnow()
        if not _is_active(session, run.id):
            break  # cancelled, or ended
        candidate = candidates.next()
        if candidate is None:
            break
        result = evaluate_candidate(
            work.pipeline,
            candidate.params,
            work.table,
            candidate.splits,
            work.scorer,
            return_train_score=run.return_train_score,
        )
        pending.append(_trial(run.id, candidate, result, worker, started_at))
        candidates.evaluated()
        if search.proposes:  # stored at once, so that the next proposal sees it
            n_stored = _flush(session, queue, run, pending)
            after_stored(
                session=session, queue=queue, settings=settings, run=run, n_stored=n_stored
            )
        elif time.monotonic() - last_flush >= FLUSH_S:
            _flush(session, queue, run, pending)
            last_flush = time.monotonic()
    candidates.end()
    n_stored = _flush(session, queue, run, pending, done=chunk, again=candidates.yielded())
    after_stored(session=session, queue=queue, settings=settings, run=run, n_stored=n_stored)


def _is_active(session: Session, run_id: uuid.UUID) -> bool:
    status = session.execute(
        select(col(TuningRun.status)).where(col(TuningRun.id) == run_id)
    ).scalar_one()
    session.commit()  # end the read, so that the next check sees a cancel committed since
    return RunStatus(status) in ACTIVE


def _trial(
    run_id: uuid.UUID,
    candidate: Candidate,
    result: CandidateResult,
    worker: str,
    started_at: Any,
) -> dict[str, Any]:
    return {
        "rung": candidate.rung,
        "n_resources": candidate.n_resources,
        "run_id": run_id,
        "index": candidate.position,
        "params": candidate.params,
        "mean_test_score": _finite(result.mean_test_score),
        "std_test_score": _finite(result.std_test_score),
        "split_scores": [_finite(score) for score in result.split_scores],
        "split_train_scores": [_finite(score) for score in result.split_train_scores] or None,
        "mean_fit_time": result.mean_fit_time,
        "mean_score_time": result.mean_score_time,
        "error": result.error,
        "worker": worker,
        "started_at": started_at,
        "finished_at": utcnow(),
    }


def _flush(
    session: Session,
    queue: TaskQueue,
    run: TuningRun,
    pending: list[dict[str, Any]],
    done: Chunk | None = None,
    again: bool = False,
) -> int:
    """Store the pending trials with the run's progress, then mark the chunk done, or waiting
    for its next turn if `again` (a crash in between leaves it running, and its next delivery
    skips what is stored); the run's count."""
    insert_new(session, Trial, pending)
    pending.clear()
    n_stored = session.execute(
        select(func.count()).select_from(Trial).where(col(Trial.run_id) == run.id)
    ).scalar_one()
    total = run.total_combinations
    message = _message(run, n_stored)
    active = update_active(  # commits the trials too, whatever the run's status
        session=session,
        kind=TuningRun,
        run_id=run.id,
        progress_current=n_stored,
        progress_message=message,
    )
    if done is not None:  # the chunk's row after the run's, as every writer takes them
        ended = {"state": "done", "finished_at": utcnow()}
        if again and active:
            ended = back_in_line()
        session.execute(update(Chunk).where(col(Chunk.id) == done.id).values(**ended))
        session.commit()
    if active and run.task_id:
        queue.report_progress(run.task_id, Progress.of(n_stored, total, message).model_dump())
    return n_stored


def _finite(value: float) -> float | None:
    return None if math.isnan(value) else value
