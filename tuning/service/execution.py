"""Running a search: what a worker task calls. Each candidate is stored the moment it finishes."""

import logging
import math
import uuid
from collections.abc import Callable

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from tuning.db import session_scope
from tuning.domain import FINISHED, RunStatus, as_utc, utcnow
from tuning.ml.search import (
    CandidateResult,
    SearchSpace,
    best_index,
    build_pipeline,
    evaluate_candidate,
    iter_candidates,
    make_splits,
)
from tuning.models import Trial, TuningRun
from tuning.schemas import Progress, testing_message
from tuning.service.datasets import load_table
from tuning.service.lifecycle import finish, update_active

log = logging.getLogger(__name__)

ReportProgress = Callable[[Progress], None]


def execute_run(
    *, engine: Engine, run_id: uuid.UUID, report: ReportProgress, worker: str | None = None
) -> RunStatus | None:
    """Run every candidate not yet stored, then record the best; returns the final status.

    A second delivery of the same run continues from the trials already stored. A cancelled
    run stops at the next candidate boundary and keeps what it finished.
    """
    with session_scope(engine) as session:
        run = session.get(TuningRun, run_id)
        if run is None:
            log.warning("tuning run %s does not exist; nothing to do", run_id)
            return None
        if run.status in FINISHED:
            return run.status  # cancelled while queued, or a late duplicate delivery
        try:
            _search(session, run, report, worker)
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


def _search(session: Session, run: TuningRun, report: ReportProgress, worker: str | None) -> None:
    table = load_table(session=session, dataset_id=run.dataset_id)
    space = SearchSpace(run.param_grid, run.search, run.n_iter, run.random_state)
    candidates = list(iter_candidates(space))
    total = len(candidates)
    stored = set(session.exec(select(Trial.index).where(Trial.run_id == run.id)).all())
    if not _start(session, run, current=len(stored), total=total):
        return
    report(Progress.of(len(stored), total, testing_message(len(stored), total)))

    pipeline = build_pipeline(run.estimator, random_state=run.random_state)
    splits = make_splits(run.cv, table, pipeline)
    for index, params in enumerate(candidates):
        if index in stored:
            continue
        result = evaluate_candidate(pipeline, params, table, splits, run.scoring)
        _store_trial(session, run, index, params, result, worker)
        stored.add(index)
        progress = Progress.of(len(stored), total, testing_message(len(stored), total))
        if not _record_progress(session, run.id, progress):
            return  # cancelled: stop at this candidate boundary, keep what is stored
        report(progress)
    _record_best(session, run)


def _start(session: Session, run: TuningRun, *, current: int, total: int) -> bool:
    values: dict[str, object] = {"progress_current": current, "progress_total": total}
    values["progress_message"] = testing_message(current, total)
    values["status"] = RunStatus.PROGRESS
    if run.started_at is None:
        values["started_at"] = utcnow()
    return update_active(session=session, kind=TuningRun, run_id=run.id, **values)


def _record_progress(session: Session, run_id: uuid.UUID, progress: Progress) -> bool:
    return update_active(
        session=session,
        kind=TuningRun,
        run_id=run_id,
        progress_current=progress.current,
        progress_message=progress.status,
    )


def _store_trial(
    session: Session,
    run: TuningRun,
    index: int,
    params: dict,
    result: CandidateResult,
    worker: str | None,
) -> None:
    trial = Trial(
        run_id=run.id,
        index=index,
        params=params,
        mean_test_score=_finite(result.mean_test_score),
        std_test_score=_finite(result.std_test_score),
        split_scores=[_finite(score) for score in result.split_scores],
        mean_fit_time=result.mean_fit_time,
        mean_score_time=result.mean_score_time,
        error=result.error,
        worker=worker,
    )
    session.add(trial)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()  # another delivery stored this candidate first: keep theirs


def _record_best(session: Session, run: TuningRun) -> None:
    rows = session.exec(
        select(col(Trial.index), col(Trial.mean_test_score), col(Trial.params), col(Trial.error))
        .where(Trial.run_id == run.id)
        .order_by(col(Trial.index))
    ).all()
    best = best_index([score for _, score, _, _ in rows])
    started = as_utc(run.started_at) or utcnow()
    tuning_time = round((utcnow() - started).total_seconds(), 3)
    if best is None:
        first_error = next((error for *_, error in rows if error), "no candidate scored")
        error_type, _, message = first_error.partition(": ")
        finish(
            session=session,
            kind=TuningRun,
            run_id=run.id,
            status=RunStatus.FAILURE,
            error_type=error_type if message else "FitFailedError",
            error_message=f"all {len(rows)} candidates failed; first: {message or first_error}",
            tuning_time=tuning_time,
        )
        return
    index, score, params, _ = rows[best]
    finish(
        session=session,
        kind=TuningRun,
        run_id=run.id,
        status=RunStatus.SUCCESS,
        best_params=params,
        best_score=score,
        best_trial_index=index,
        tuning_time=tuning_time,
        progress_message=f"Completed {len(rows)} parameter combinations",
    )


def _finite(value: float) -> float | None:
    return None if math.isnan(value) else value
