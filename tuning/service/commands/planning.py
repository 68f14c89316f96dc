"""Before a launch: every problem of a submission at once, and what it will cost."""

import statistics
import uuid
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, col, select

from tuning.config import Settings
from tuning.domain import RunStatus
from tuning.errors import InvalidInput, QuotaExceeded
from tuning.ml import catalog
from tuning.models import Dataset, TuningRun, User
from tuning.schemas import TuningRunCreate
from tuning.service.accounts.quotas import check_active_runs
from tuning.service.commands.labels import label_errors
from tuning.service.commands.runs import validate_run
from tuning.service.searches import strategy_for

# How many recent runs of the same estimator on the same dataset set the expected pace.
SIMILAR_RUNS = 20


@dataclass(frozen=True)
class DurationEstimate:
    seconds: float
    n_similar: int


@dataclass(frozen=True)
class RunPlan:
    """What a submission will cost before it is launched."""

    n_candidates: int
    n_splits: int
    estimate: DurationEstimate | None
    # Successive halving's options and schedule (candidates and samples per rung), else None.
    halving: dict[str, Any] | None = None
    # Its fits as fits on every row, as MAX_FITS_PER_RUN counts them (for halving, fewer).
    full_data_fits: float = 0.0

    @property
    def n_fits(self) -> int:
        return self.n_candidates * self.n_splits


def plan_run(
    *, session: Session, settings: Settings, run_in: TuningRunCreate, viewer: User
) -> RunPlan:
    """Candidates, fits and (once similar runs finished) a duration; InvalidInput if invalid."""
    run = validate_run(session=session, settings=settings, run_in=run_in, viewer=viewer)
    fits = _full_data_fits(session, run)
    estimate = estimate_duration(
        session=session, estimator=run.estimator, dataset_id=run.dataset_id, n_fits=fits
    )
    return RunPlan(
        n_candidates=run.total_combinations,
        n_splits=run.cv,
        estimate=estimate,
        halving=run.halving,
        full_data_fits=fits,
    )


def _full_data_fits(session: Session, run: TuningRun) -> float:
    """The run's fits as fits on every row, as its search counts them (a halving rung on a
    third of the rows counts a third)."""
    dataset = session.get(Dataset, run.dataset_id)
    n_rows = dataset.n_rows if dataset is not None else None
    return strategy_for(run.search).full_data_fits(run, n_rows=n_rows)


def estimate_duration(
    *, session: Session, estimator: str, dataset_id: uuid.UUID, n_fits: float
) -> DurationEstimate | None:
    """`n_fits` times the median seconds per fit of recent successful runs of the same estimator
    on the same dataset; None before there is one."""
    rows = session.exec(
        select(TuningRun.tuning_time, TuningRun.total_combinations, TuningRun.cv)
        .where(
            TuningRun.estimator == estimator,
            TuningRun.dataset_id == dataset_id,
            TuningRun.status == RunStatus.SUCCESS,
            col(TuningRun.tuning_time).is_not(None),
        )
        .order_by(col(TuningRun.finished_at).desc())
        .limit(SIMILAR_RUNS)
    ).all()
    per_fit = [time / (n * cv) for time, n, cv in rows if time is not None and n and cv]
    if not per_fit:
        return None
    return DurationEstimate(seconds=statistics.median(per_fit) * n_fits, n_similar=len(per_fit))


def check_submission(
    *, session: Session, settings: Settings, run_in: TuningRunCreate, viewer: User
) -> dict[str, str]:
    """Every problem of a submission by field ("param_grid.max_depth", "cv", ...), and each
    quota it is over by its setting ("MAX_ACTIVE_RUNS_PER_USER", ...); {} if none."""
    errors = _field_errors(session=session, settings=settings, run_in=run_in, viewer=viewer)
    try:
        check_active_runs(session=session, settings=settings, user=viewer)
    except QuotaExceeded as exc:
        errors[exc.setting] = str(exc)
    return errors


def _field_errors(
    *, session: Session, settings: Settings, run_in: TuningRunCreate, viewer: User
) -> dict[str, str]:
    """Each grid parameter is checked on its own so that all of them can be shown at once; the
    rest is `validate_run`'s first objection, asked with the parameters that passed."""
    errors = label_errors(run_in.name, run_in.tags)
    for param, values in run_in.param_grid.items():
        try:
            catalog.validate_param_grid(run_in.estimator, {param: values})
        except InvalidInput as exc:
            errors.setdefault(exc.field, exc.reason)
    valid = {p: v for p, v in run_in.param_grid.items() if f"param_grid.{p}" not in errors}
    if errors and not valid:
        return errors
    try:
        validate_run(
            session=session,
            settings=settings,
            run_in=run_in.model_copy(update={"param_grid": valid}),
            viewer=viewer,
        )
    except InvalidInput as exc:
        errors.setdefault(exc.field, exc.reason)
    except QuotaExceeded as exc:
        errors[exc.setting] = str(exc)
    return errors
