"""How a run ends, or moves on, once a task has stored its trials: SUCCESS with scikit-learn's
best when every candidate is stored, an early stop with the best so far, FAILURE at once when
its first candidates all failed with one error, or halving's next rung.
"""

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, update
from sqlmodel import Session, col

from tuning.config import Settings
from tuning.domain import RunStatus, as_utc, utcnow
from tuning.ml.search import best_index
from tuning.models import Trial, TuningRun
from tuning.service.analysis.failures import error_parts
from tuning.service.execution.lifecycle import finish
from tuning.service.execution.queue import TaskQueue
from tuning.service.execution.stopping import hopeless_run, stop_reason
from tuning.service.searches import strategy_for


def after_stored(
    *, session: Session, queue: TaskQueue, settings: Settings, run: TuningRun, n_stored: int
) -> None:
    """What a task's stored trials settle: the run's end, an early stop, or the next rung.
    Called as a task ends its chunk, and for Bayesian slots after each trial."""
    status, stopped = session.execute(
        select(col(TuningRun.status), col(TuningRun.stop_reason)).where(col(TuningRun.id) == run.id)
    ).one()
    session.commit()
    status = RunStatus(status)
    if status is RunStatus.REVOKED:
        # Cancelled while this task's candidates were in flight: they count in what it left.
        settle_cancelled(session=session, run=run)
    elif stopped is not None and status in (RunStatus.SUCCESS, RunStatus.FAILURE):
        # Stopped early while this task's candidates were in flight: they count too.
        if status is RunStatus.SUCCESS:
            record_best(session=session, run=run, stopped_because=stopped, late=True)
        else:
            fail_hopeless(session=session, run=run)
    elif fail_hopeless(session=session, run=run):
        return  # before the rest: a hopeless run opens no rung and records no best
    elif n_stored >= run.total_combinations:
        record_best(session=session, run=run)
    elif reason := stop_reason(session=session, run=run):
        record_best(session=session, run=run, stopped_because=reason)
    else:
        strategy_for(run.search).after_stored(
            session=session, queue=queue, settings=settings, run=run, n_stored=n_stored
        )


def record_best(
    *, session: Session, run: TuningRun, stopped_because: str | None = None, late: bool = False
) -> None:
    """End a run: SUCCESS with scikit-learn's best, or FAILURE when none scored. Called when
    every candidate is stored, or early (`stopped_because`) with the best so far. Halving's
    best is among the trials its search says (halving: its last rung reached). Guarded:
    the first caller ends it, a late one changes nothing; but `late`, for a run stopped early
    that has since stored the candidates in flight at its stop, the best is read again."""
    stored = _stored(session, run)
    tuning_time = _tuning_time(run)
    if stored.best is None:
        if late:
            return
        first_error = next((error for *_, error in stored.rows if error), "no candidate scored")
        error_type, _, message = first_error.partition(": ")
        finish(
            session=session,
            kind=TuningRun,
            run_id=run.id,
            status=RunStatus.FAILURE,
            error_type=error_type if message else "FitFailedError",
            error_message=f"all {len(stored.rows)} candidates failed; first: "
            f"{message or first_error}",
            tuning_time=tuning_time,
        )
        return
    message = f"Completed {stored.n} parameter combinations"
    if stopped_because is not None:
        message = (
            f"Stopped after {stored.n} of {run.total_combinations} parameter combinations: "
            f"{stopped_because}"
        )
    outcome = stored.outcome(message)
    if late:
        session.execute(
            update(TuningRun)
            .where(col(TuningRun.id) == run.id, col(TuningRun.status) == RunStatus.SUCCESS)
            .values(**outcome)
        )
        session.commit()
        return
    finish(
        session=session,
        kind=TuningRun,
        run_id=run.id,
        status=RunStatus.SUCCESS,
        tuning_time=tuning_time,
        stop_reason=stopped_because,
        **outcome,
    )


def settle_cancelled(*, session: Session, run: TuningRun) -> RunStatus:
    """What a cancel leaves, once the trials stored by then are counted: SUCCESS with
    scikit-learn's best when every candidate is stored after all (the cancel came too late to
    stop anything), else REVOKED with the best of what was stored and a true count. Called by
    the cancel and again by every task that stores trials of a cancelled run (candidates in
    flight at the cancel), so whichever comes last counts them all. The run's status after."""
    stored = _stored(session, run)
    revoked = col(TuningRun.status) == RunStatus.REVOKED
    this_run = col(TuningRun.id) == run.id
    if stored.n >= run.total_combinations and stored.best is not None:
        outcome = stored.outcome(f"Completed {stored.n} parameter combinations")
        session.execute(
            update(TuningRun)
            .where(this_run, revoked)
            .values(status=RunStatus.SUCCESS, tuning_time=_tuning_time(run), **outcome)
        )
    else:
        message = f"Cancelled after {stored.n} of {run.total_combinations} parameter combinations"
        outcome = (
            stored.outcome(message)
            if stored.best is not None
            else {"progress_current": stored.n, "progress_message": message}
        )
        # Monotone: two tasks settling at once each count what they see, and the larger count
        # (a superset: trials are never removed) is the one that stays.
        fewer = col(TuningRun.progress_current).is_(None) | (
            col(TuningRun.progress_current) <= stored.n
        )
        session.execute(
            update(TuningRun)
            .where(this_run, revoked, fewer)
            .values(tuning_time=_tuning_time(run), **outcome)
        )
    session.commit()
    status = session.execute(select(col(TuningRun.status)).where(this_run)).scalar_one()
    session.commit()
    return RunStatus(status)


@dataclass(frozen=True)
class _Stored:
    """A run's stored trials as its best is chosen: the rows it is chosen from, their count
    over every rung, and the position of the best (None when none scored)."""

    rows: list[tuple[Any, Any, Any, Any]]  # index, mean test score, params, error
    n: int
    best: int | None

    def outcome(self, message: str) -> dict[str, Any]:
        assert self.best is not None
        index, score, params, _ = self.rows[self.best]
        return {
            "best_params": params,
            "best_score": score,
            "best_trial_index": index,
            "progress_current": self.n,
            "progress_message": message[:200],
        }


def _stored(session: Session, run: TuningRun) -> _Stored:
    query = (
        select(col(Trial.index), col(Trial.mean_test_score), col(Trial.params), col(Trial.error))
        .where(col(Trial.run_id) == run.id)
        .order_by(col(Trial.index))
    )
    query = strategy_for(run.search).best_among(query, run)
    rows = [(index, score, params, error) for index, score, params, error in session.execute(query)]
    n_stored = session.execute(
        select(func.count()).select_from(Trial).where(col(Trial.run_id) == run.id)
    ).scalar_one()
    return _Stored(rows, n_stored, best_index([score for _, score, _, _ in rows]))


def fail_hopeless(*, session: Session, run: TuningRun) -> bool:
    """End the run FAILURE if it is hopeless (`stopping.hopeless`): its stored candidates all
    failed with one error, and the rest are not tried. True if it is. Guarded as `finish`; but
    a run that ended so on fewer trials (candidates in flight at its stop are stored after it)
    takes the later count in its message, while they still all failed alike."""
    verdict = hopeless_run(session=session, run=run)
    if verdict is None:
        return False
    error_type, _ = error_parts(verdict.error)
    values = {
        "error_type": error_type[:100],
        "error_message": verdict.message,
        "stop_reason": verdict.reason[:200],
        "progress_current": verdict.n_tried,
        "progress_message": (
            f"Stopped after {verdict.n_tried} of {run.total_combinations} parameter "
            f"combinations: {verdict.reason}"
        )[:200],
    }
    if finish(
        session=session,
        kind=TuningRun,
        run_id=run.id,
        status=RunStatus.FAILURE,
        tuning_time=_tuning_time(run),
        **values,
    ):
        return True
    # Ended since: by another task that found it hopeless too, maybe on fewer trials.
    session.execute(
        update(TuningRun)
        .where(
            col(TuningRun.id) == run.id,
            col(TuningRun.status) == RunStatus.FAILURE,
            col(TuningRun.stop_reason).is_not(None),
            col(TuningRun.progress_current) < verdict.n_tried,  # a later count only
        )
        .values(**values)
    )
    session.commit()
    return True


def _tuning_time(run: TuningRun) -> float:
    started = as_utc(run.started_at) or utcnow()
    return round((utcnow() - started).total_seconds(), 3)
