"""The one read model of a run that every transport uses.

A run is read as a `RunSummary`: its row with its dataset's and owner's names, from one query.
`list_runs` returns a page of them and `get_run_summary` one; the API, the CLI and the dashboard
shape these themselves. Its first fields, `RunState`, are what a status shows: the status reads
(`get_run_state`, and the poll's query) read only those columns.
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
from tuning.models import Dataset, RunTag, TuningRun, User
from tuning.service.accounts.access import (
    Action,
    only_shared_runs,
    only_visible,
    parse_id,
    require_run,
)

PAGE_SIZE = 50
T = TypeVar("T")


def get_run(
    *, session: Session, run_id: str | uuid.UUID, viewer: User | None, to: Action
) -> TuningRun:
    """The run's table row, for the commands that change it, if `viewer` may do `to` with it
    (no viewer: a trusted caller); transports read `RunSummary`."""
    key = parse_id(run_id, field="tuning_run_id")
    return require_run(session, session.get(TuningRun, key), viewer=viewer, action=to, key=key)


@dataclass(frozen=True)
class RunState:
    """A run's progress and outcome, and its owner: the part of `RunSummary` a status shows."""

    id: uuid.UUID
    owner_id: int
    status: RunStatus
    task_id: str | None
    progress_current: int
    progress_total: int
    progress_message: str | None
    best_params: dict[str, Any] | None
    best_score: float | None
    total_combinations: int
    tuning_time: float | None
    error_type: str | None
    error_message: str | None


# A run's state as plain columns, in RunState's order: RunState(*row) builds one.
STATE_COLUMNS = tuple(getattr(TuningRun, f.name) for f in fields(RunState))


@dataclass(frozen=True)
class RunSummary(RunState):
    """A run as every transport reads it: its state, its configuration, its dataset's name and
    task, its owner's name."""

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
    best_trial_index: int | None
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
    test_size: float  # the share of rows kept out of tuning as a test set; 0: none
    name: str | None
    tags: list[str]  # lower-case, in the order given; [] for none
    archived_at: datetime | None  # hidden from lists since, if archived
    priority: int  # fair turns: a higher priority's chunks go first (set by admins)

    @property
    def label(self) -> str:
        """What the run is called: its name, else its estimator on its dataset."""
        return self.name or f"{self.estimator} on {self.dataset}"

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
    for moment in ("created_at", "started_at", "finished_at", "archived_at"):
        values[moment] = as_utc(values[moment])  # SQLite hands back naive datetimes
    values["tags"] = values["tags"] or []
    values.update(status=RunStatus(values["status"]), task=TaskType(values["task"]))
    return RunSummary(**values)


def list_runs(
    *,
    session: Session,
    viewer: User,
    statuses: Sequence[RunStatus] = (),
    estimators: Sequence[str] = (),
    datasets: Sequence[str] = (),
    tags: Sequence[str] = (),
    archived: bool | None = False,
    shared_with_me: bool = False,
    limit: int = PAGE_SIZE,
    offset: int = 0,
) -> Page[RunSummary]:
    """The viewer's runs (an admin's: everyone's) matching the filters, newest first: those
    with any of `tags`; not archived (`archived=False`), archived only (True), or both (None).
    With `shared_with_me`, instead the other users' runs shared with the viewer.

    One indexed query: the total comes along as a window count over the filtered rows, so a
    page of 50 out of 10,000 runs costs one read.
    """
    filters = (estimators, datasets, tags)
    if any(_unstorable(values) for values in filters):
        # A NUL character is never stored (PostgreSQL refuses it in text): a filter made only of
        # such values matches nothing, and is not sent to the database.
        return Page(items=[], total=0, limit=limit, offset=offset)
    estimators, datasets, tags = (_storable(values) for values in filters)
    query = _summaries().add_columns(func.count().over().label("n_matching"))
    if shared_with_me:
        query = only_shared_runs(query, viewer)
    else:
        query = only_visible(query, TuningRun.owner_id, viewer)
    if statuses:
        query = query.where(col(TuningRun.status).in_(list(statuses)))
    if estimators:
        query = query.where(col(TuningRun.estimator).in_(list(estimators)))
    if datasets:
        query = query.where(col(Dataset.name).in_(list(datasets)))
    if tags:
        tagged = sa_select(col(RunTag.run_id)).where(
            col(RunTag.tag).in_([tag.strip().lower() for tag in tags])
        )
        query = query.where(col(TuningRun.id).in_(tagged))
    if archived is not None:
        stored = col(TuningRun.archived_at)
        query = query.where(stored.is_not(None) if archived else stored.is_(None))
    query = query.order_by(col(TuningRun.created_at).desc(), col(TuningRun.id))
    rows = session.execute(query.limit(limit).offset(offset)).all()
    total = rows[0].n_matching if rows else 0
    return Page(items=[_summary(row) for row in rows], total=total, limit=limit, offset=offset)


def _storable(values: Sequence[str]) -> list[str]:
    return [value for value in values if "\x00" not in value]


def _unstorable(values: Sequence[str]) -> bool:
    """A filter given whose every value holds a character no stored name can."""
    return bool(values) and not _storable(values)


def get_run_summary(*, session: Session, run_id: str | uuid.UUID, viewer: User) -> RunSummary:
    """One run with its names; NotFound, or Forbidden when `viewer` may not see it."""
    key = parse_id(run_id, field="tuning_run_id")
    row = session.execute(_summaries().where(TuningRun.id == key)).first()
    if row is None:
        raise NotFound(f"no tuning run with id {key}")
    return require_run(session, _summary(row), viewer=viewer, action=Action.READ, key=key)


def get_run_state(
    *, session: Session, run_id: str | uuid.UUID, viewer: User | None = None
) -> RunState:
    """One run's state: a primary-key read of its state columns; no viewer: a trusted caller."""
    key = parse_id(run_id, field="tuning_run_id")
    row = session.execute(sa_select(*STATE_COLUMNS).where(col(TuningRun.id) == key)).first()
    state = None if row is None else RunState(*row)
    return require_run(session, state, viewer=viewer, action=Action.READ, key=key)


@dataclass(frozen=True)
class RunFilterOptions:
    estimators: list[str]
    datasets: list[str]
    tags: list[str]


def run_filter_options(*, session: Session, viewer: User) -> RunFilterOptions:
    """The estimators, datasets and tags that occur in the viewer's runs, for the filters."""
    query = (
        sa_select(col(TuningRun.estimator), col(Dataset.name))
        .join(Dataset, col(Dataset.id) == TuningRun.dataset_id)
        .distinct()
    )
    rows = session.execute(only_visible(query, TuningRun.owner_id, viewer)).all()
    tags = sa_select(col(RunTag.tag)).distinct()
    if not viewer.is_admin:
        tags = tags.join(TuningRun, col(TuningRun.id) == RunTag.run_id)
    tag_rows = session.execute(only_visible(tags, TuningRun.owner_id, viewer)).scalars()
    return RunFilterOptions(
        estimators=sorted({row[0] for row in rows}),
        datasets=sorted({row[1] for row in rows}),
        tags=sorted(tag_rows),
    )
