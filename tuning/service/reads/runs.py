"""The one read model of a run that every transport uses.

A run is read as a `RunSummary`: its row with its dataset's and owner's names, from one query.
`list_runs` returns a page of them and `get_run_summary` one; the API, the CLI and the dashboard
shape these themselves.
"""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, Generic, TypeVar

from sqlalchemy import func
from sqlalchemy import select as sa_select
from sqlmodel import Session, col

from tuning.domain import ACTIVE, RunStatus, TaskType, as_utc, utcnow
from tuning.errors import NotFound
from tuning.models import Dataset, TuningRun, User
from tuning.service.accounts.access import only_visible, parse_id, require_visible

PAGE_SIZE = 50
T = TypeVar("T")


def get_run(*, session: Session, run_id: str | uuid.UUID, viewer: User | None = None) -> TuningRun:
    """The run's row, if it exists and `viewer` (when given) may see it."""
    key = parse_id(run_id, field="tuning_run_id")
    return require_visible(session.get(TuningRun, key), viewer=viewer, what="tuning run", key=key)


@dataclass(frozen=True)
class RunSummary:
    """A run as every transport reads it: its row, its dataset's name and task, its owner's name."""

    id: uuid.UUID
    owner_id: int
    owner: str
    dataset_id: uuid.UUID
    dataset: str
    task: TaskType
    estimator: str
    search: str
    param_grid: dict[str, list[Any]]
    n_iter: int | None
    random_state: int | None
    cv: int
    scoring: str
    status: RunStatus
    task_id: str | None
    progress_current: int
    progress_total: int
    progress_message: str | None
    best_params: dict[str, Any] | None
    best_score: float | None
    best_trial_index: int | None
    total_combinations: int
    tuning_time: float | None
    error_type: str | None
    error_message: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    parent_id: uuid.UUID | None
    halving: dict[str, Any] | None
    rung: int
    stop_after_no_improvement: int | None
    time_budget_s: float | None
    stop_reason: str | None
    return_train_score: bool
    column_roles: dict[str, Any] | None  # None: a run stored before roles (all features)
    pos_label: Any  # the positive class of a binary target, if the run names one

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE

    @property
    def percentage(self) -> float:
        if not self.progress_total:
            return 0.0
        return round(100 * self.progress_current / self.progress_total, 2)

    def duration_s(self, now: datetime | None = None) -> float | None:
        """Seconds from start to finish, or to `now` while the run is going."""
        if self.started_at is None:
            return None
        end = self.finished_at or now or utcnow()
        return max((end - self.started_at).total_seconds(), 0.0)


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a listing, and how many items match its filters in all."""

    items: list[T]
    total: int
    limit: int
    offset: int


_JOINED = {"owner": col(User.name), "dataset": col(Dataset.name), "task": col(Dataset.task)}
_SUMMARY_COLUMNS = tuple(
    _JOINED[f.name].label(f.name) if f.name in _JOINED else getattr(TuningRun, f.name)
    for f in fields(RunSummary)
)


def _summaries() -> Any:
    return (
        sa_select(*_SUMMARY_COLUMNS)
        .join(Dataset, col(Dataset.id) == TuningRun.dataset_id)
        .join(User, col(User.id) == TuningRun.owner_id)
    )


def _summary(row: Any) -> RunSummary:
    values = dict(row._mapping)
    values.pop("n_matching", None)
    for moment in ("created_at", "started_at", "finished_at"):
        values[moment] = as_utc(values[moment])  # SQLite hands back naive datetimes
    values.update(status=RunStatus(values["status"]), task=TaskType(values["task"]))
    return RunSummary(**values)


def list_runs(
    *,
    session: Session,
    viewer: User,
    statuses: Sequence[RunStatus] = (),
    estimators: Sequence[str] = (),
    datasets: Sequence[str] = (),
    limit: int = PAGE_SIZE,
    offset: int = 0,
) -> Page[RunSummary]:
    """The viewer's runs (an admin's: everyone's) matching the filters, newest first.

    One indexed query: the total comes along as a window count over the filtered rows, so a
    page of 50 out of 10,000 runs costs one read.
    """
    query = only_visible(
        _summaries().add_columns(func.count().over().label("n_matching")),
        TuningRun.owner_id,
        viewer,
    )
    if statuses:
        query = query.where(col(TuningRun.status).in_(list(statuses)))
    if estimators:
        query = query.where(col(TuningRun.estimator).in_(list(estimators)))
    if datasets:
        query = query.where(col(Dataset.name).in_(list(datasets)))
    query = query.order_by(col(TuningRun.created_at).desc(), col(TuningRun.id))
    rows = session.execute(query.limit(limit).offset(offset)).all()
    total = rows[0].n_matching if rows else 0
    return Page(items=[_summary(row) for row in rows], total=total, limit=limit, offset=offset)


def get_run_summary(*, session: Session, run_id: str | uuid.UUID, viewer: User) -> RunSummary:
    """One run with its names; NotFound or Forbidden as `get_run` decides."""
    key = parse_id(run_id, field="tuning_run_id")
    row = session.execute(_summaries().where(TuningRun.id == key)).first()
    if row is None:
        raise NotFound(f"no tuning run with id {key}")
    return require_visible(_summary(row), viewer=viewer, what="tuning run", key=key)


@dataclass(frozen=True)
class RunFilterOptions:
    estimators: list[str]
    datasets: list[str]


def run_filter_options(*, session: Session, viewer: User) -> RunFilterOptions:
    """The estimators and datasets that occur in the viewer's runs, for the filters."""
    query = (
        sa_select(col(TuningRun.estimator), col(Dataset.name))
        .join(Dataset, col(Dataset.id) == TuningRun.dataset_id)
        .distinct()
    )
    rows = session.execute(only_visible(query, TuningRun.owner_id, viewer)).all()
    return RunFilterOptions(
        estimators=sorted({row[0] for row in rows}), datasets=sorted({row[1] for row in rows})
    )
