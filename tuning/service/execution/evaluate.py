"""Running a search: what a worker's task calls for one chunk of a run's candidates.

A run's candidates are split into chunks, each one short task that any worker process on any
host can take. Chunk 0 starts with every candidate: its task times the first ones, plans the
rest as chunks of about `task_target_s` each and sends them, then stops where it got. Every
task stores its trials together at most a second after they finish, notes the progress, and the
task that stores the last candidate records the best. A second delivery of a chunk skips what
is stored; a cancelled run stops at the next candidate boundary and keeps what it finished.
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
from tuning.ml.halving import HalvingPlan
from tuning.ml.search import CandidateResult, Splits, evaluate_candidate
from tuning.models import Chunk, Trial, TuningRun
from tuning.schemas import Progress, testing_message
from tuning.service.execution.bayesian import next_proposal, plan_slots
from tuning.service.execution.chunks import claim_chunk, plan_chunks
from tuning.service.execution.endings import after_stored
from tuning.service.execution.lifecycle import finish, update_active
from tuning.service.execution.preparation import Prepared, prepare
from tuning.service.execution.queue import TaskQueue
from tuning.service.execution.rungs import halving_plan, rung_candidates, splits_for

log = logging.getLogger(__name__)

# Trials are written together, at most this long after the first of them finished.
FLUSH_S = 1.0
# How long chunk 0 evaluates candidates to time them before it plans the rest.
PROBE_S = 0.5


def execute_chunk(
    *,
    engine: Engine,
    queue: TaskQueue,
    settings: Settings,
    run_id: uuid.UUID,
    index: int,
    worker: str,
) -> RunStatus | None:
    """Evaluate chunk `index` of the run, as far as it is not stored; the run's status after."""
    with session_scope(engine) as session:
        run = session.get(TuningRun, run_id)
        if run is None:
            log.warning("tuning run %s does not exist; nothing to do", run_id)
            return None
        if run.status in FINISHED:
            return run.status  # cancelled while queued, or a late duplicate delivery
        chunk = claim_chunk(session=session, run_id=run_id, index=index, worker=worker)
        if chunk is None:
            return run.status  # done by an earlier delivery
        try:
            if _start(session, run):
                _evaluate(session, queue, settings, run, chunk, worker)
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
        return run.status


def _start(session: Session, run: TuningRun) -> bool:
    values: dict[str, Any] = {"status": RunStatus.PROGRESS}
    if run.started_at is None:
        values["started_at"] = run.started_at = utcnow()
        values["progress_message"] = _message(run, 0)
    return update_active(session=session, kind=TuningRun, run_id=run.id, **values)


def _message(run: TuningRun, n_stored: int) -> str:
    plan = halving_plan(run)
    if plan is None:
        return testing_message(n_stored, run.total_combinations)
    rung = plan.rung_of(min(n_stored, plan.total - 1))
    return testing_message(n_stored, run.total_combinations, (rung, plan.n_rungs))


def _evaluate(
    session: Session,
    queue: TaskQueue,
    settings: Settings,
    run: TuningRun,
    chunk: Chunk,
    worker: str,
) -> None:
    work = prepare(session=session, run=run)
    if run.search == "bayes":
        _evaluate_proposals(session, queue, settings, run, chunk, worker, work)
        return
    plan = halving_plan(run)
    stored = _stored(session, run.id, chunk.start, chunk.stop)
    probing = chunk.index == 0 and run.chunk_size is None
    stop, pending = chunk.stop, []
    began = last_flush = time.monotonic()
    n_evaluated = 0
    for position in range(chunk.start, chunk.stop):
        if position >= stop:
            break
        if position in stored:
            continue
        # Stamped before the check: a candidate stamped after a cancel's commit sees it and does
        # not start, so no stored candidate started after the cancel was committed.
        started_at = utcnow()
        if not _is_active(session, run.id):
            break  # cancelled
        params, splits, rung = _candidate(session, run, work, plan, position)
        result = evaluate_candidate(
            work.pipeline,
            params,
            work.table,
            splits,
            work.scorer,
            return_train_score=run.return_train_score,
        )
        pending.append(_trial(run.id, position, params, result, worker, started_at, **rung))
        n_evaluated += 1
        if probing and time.monotonic() - began >= PROBE_S:
            per_candidate = (time.monotonic() - began) / n_evaluated
            stop = plan_chunks(
                session=session,
                queue=queue,
                settings=settings,
                run=run,
                probed_to=position + 1,
                per_candidate_s=per_candidate,
            )
            probing = False
        if time.monotonic() - last_flush >= FLUSH_S:
            _flush(session, queue, run, pending)
            last_flush = time.monotonic()
    if probing:  # the whole run fitted in the probe: nothing left to plan
        plan_chunks(
            session=session,
            queue=queue,
            settings=settings,
            run=run,
            probed_to=chunk.stop,
            per_candidate_s=0.0,
        )
    n_stored = _flush(session, queue, run, pending, done=chunk)
    after_stored(session=session, queue=queue, settings=settings, run=run, n_stored=n_stored)


def _evaluate_proposals(
    session: Session,
    queue: TaskQueue,
    settings: Settings,
    run: TuningRun,
    chunk: Chunk,
    worker: str,
    work: Prepared,
) -> None:
    """A Bayesian run's slot: propose, evaluate, store at once (the next proposal sees it)."""
    if chunk.index == 0 and run.chunk_size is None:
        plan_slots(session=session, queue=queue, settings=settings, run=run)
    while True:
        started_at = utcnow()  # stamped before the check, as for every candidate
        if not _is_active(session, run.id):
            break
        proposal = next_proposal(session=session, run=run, slot=chunk.index, work=work)
        if proposal is None:
            break
        index, params = proposal
        result = evaluate_candidate(
            work.pipeline,
            params,
            work.table,
            work.splits,
            work.scorer,
            return_train_score=run.return_train_score,
        )
        n_stored = _flush(
            session, queue, run, [_trial(run.id, index, params, result, worker, started_at)]
        )
        after_stored(session=session, queue=queue, settings=settings, run=run, n_stored=n_stored)
    _flush(session, queue, run, [], done=chunk)


def _candidate(
    session: Session, run: TuningRun, work: Prepared, plan: HalvingPlan | None, position: int
) -> tuple[dict[str, Any], Splits, dict[str, int]]:
    """Trial `position`'s parameters and CV splits, and for halving its rung and samples."""
    if plan is None:
        return work.candidates[position], work.splits, {}
    rung = plan.rung_of(position)
    candidates = rung_candidates(session=session, run=run, work=work, plan=plan, rung=rung)
    splits = splits_for(run=run, work=work, plan=plan, rung=rung)
    extra = {"rung": rung, "n_resources": plan.n_resources[rung]}
    return candidates[position - plan.rung_start(rung)], splits, extra


def _stored(session: Session, run_id: uuid.UUID, start: int, stop: int) -> set[int]:
    rows = session.execute(
        select(col(Trial.index)).where(
            col(Trial.run_id) == run_id, col(Trial.index) >= start, col(Trial.index) < stop
        )
    )
    return set(rows.scalars())


def _is_active(session: Session, run_id: uuid.UUID) -> bool:
    status = session.execute(
        select(col(TuningRun.status)).where(col(TuningRun.id) == run_id)
    ).scalar_one()
    session.commit()  # end the read, so that the next check sees a cancel committed since
    return RunStatus(status) in ACTIVE


def _trial(
    run_id: uuid.UUID,
    index: int,
    params: dict[str, Any],
    result: CandidateResult,
    worker: str,
    started_at: Any,
    rung: int | None = None,
    n_resources: int | None = None,
) -> dict[str, Any]:
    return {
        "rung": rung,
        "n_resources": n_resources,
        "run_id": run_id,
        "index": index,
        "params": params,
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
) -> int:
    """Store the pending trials with the run's progress, then mark the chunk done (a crash in
    between leaves it running, and its next delivery skips what is stored); the run's count."""
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
        session.execute(
            update(Chunk).where(col(Chunk.id) == done.id).values(state="done", finished_at=utcnow())
        )
        session.commit()
    if active and run.task_id:
        queue.report_progress(run.task_id, Progress.of(n_stored, total, message).model_dump())
    return n_stored


def _finite(value: float) -> float | None:
    return None if math.isnan(value) else value
