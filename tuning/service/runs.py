"""Tuning runs: check, submit, cancel, and the one read model of a run that every transport uses.

A run is read as a `RunSummary`: its row with its dataset's and owner's names, from one query.
`list_runs` returns a page of them and `get_run_summary` one; the API, the CLI and the dashboard
shape these themselves.
"""

import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from datetime import datetime
from typing import Any, Generic, TypeVar

from sqlalchemy import func
from sqlalchemy import select as sa_select
from sqlmodel import Session, col

from tuning.config import Settings
from tuning.domain import ACTIVE, RunStatus, TaskType, as_utc, utcnow
from tuning.errors import InvalidInput, NotFound, shown
from tuning.ml import catalog
from tuning.ml.checks import check_folds, resolve_pos_label
from tuning.ml.columns import n_groups, resolve_roles
from tuning.ml.scoring import DEFAULT_SCORING, validate_scoring
from tuning.ml.search import n_candidates
from tuning.models import Dataset, TuningRun, User
from tuning.schemas import TuningRunCreate
from tuning.service.access import may_see, only_visible, parse_id, require_visible
from tuning.service.datasets import dataset_classes, dataset_profile
from tuning.service.lifecycle import estimator_and_dataset, finish, store_and_enqueue
from tuning.service.queue import TaskQueue
from tuning.service.scorers import check_scorer
from tuning.service.strategies import check_early_stopping, halving_schedule, search_space

PAGE_SIZE = 50
T = TypeVar("T")


def get_run(*, session: Session, run_id: str | uuid.UUID, viewer: User | None = None) -> TuningRun:
    """The run's row, if it exists and `viewer` (when given) may see it."""
    key = parse_id(run_id, field="tuning_run_id")
    return require_visible(session.get(TuningRun, key), viewer=viewer, what="tuning run", key=key)


def validate_run(
    *, session: Session, settings: Settings, run_in: TuningRunCreate, viewer: User
) -> TuningRun:
    """Check a submission against the catalog, the dataset and the limits; store nothing.

    Cheap checks first and every one linear in the input, so that a large or hostile body is
    refused quickly: sizes, then values, then what the dataset's labels allow.
    """
    spec, dataset = estimator_and_dataset(
        session=session, estimator=run_in.estimator, dataset=run_in.dataset, viewer=viewer
    )
    if run_in.search == "grid":
        _check_size(grid_size(run_in.param_grid), settings)
    catalog.validate_param_grid(spec.name, run_in.param_grid)
    scoring = run_in.scoring or DEFAULT_SCORING[dataset.task]
    validate_scoring(scoring, dataset.task)
    _check_cv(run_in.cv, settings)
    classes = dataset_classes(session=session, dataset=dataset)
    check_folds(run_in.cv, task=dataset.task, n_rows=dataset.n_rows, classes=classes)
    roles = _column_roles(session, dataset, run_in)
    pos_label = resolve_pos_label(run_in.pos_label, task=dataset.task, classes=classes)
    check_scorer(
        scoring,
        task=dataset.task,
        classes=classes,
        pos_label=pos_label,
        estimator=spec.name,
        param_grid=run_in.param_grid,
    )
    space = search_space(run_in, spec.name, settings)
    halving = None
    if run_in.search == "halving":
        n_classes = len(classes) if classes else None
        halving, first = halving_schedule(run_in, space, n_rows=dataset.n_rows, n_classes=n_classes)
        space = replace(space, n_iter=first.n_iter)
        total = sum(halving["n_candidates"])
    else:
        total = n_candidates(space)
    _check_size(total, settings)
    check_early_stopping(run_in)
    parent_id = _parent_id(session, run_in.parent_run_id, viewer)
    return TuningRun(
        dataset_id=dataset.id,
        estimator=spec.name,
        search=run_in.search,
        param_grid=run_in.param_grid,
        halving=halving,
        stop_after_no_improvement=run_in.stop_after_no_improvement,
        time_budget_s=run_in.time_budget_s,
        return_train_score=run_in.return_train_score,
        n_iter=space.n_iter,
        random_state=space.random_state,
        cv=run_in.cv,
        scoring=scoring,
        column_roles=roles,
        pos_label=pos_label,
        progress_total=total,
        total_combinations=total,
        owner_id=0,
        parent_id=parent_id,
    )


def _column_roles(session: Session, dataset: Dataset, run_in: TuningRunCreate) -> dict[str, Any]:
    """The run's column roles, checked against the dataset's profile and its folds."""
    profile = dataset_profile(session=session, dataset=dataset)
    requested = run_in.columns.model_dump() if run_in.columns is not None else None
    roles = resolve_roles(profile, requested)
    groups = n_groups(profile, roles)
    if groups is not None and groups < run_in.cv:
        raise InvalidInput(
            "cv",
            f"{run_in.cv} folds, but the group column {shown(roles['group'])} has only "
            f"{groups} groups: each fold needs a group of its own; choose at most {groups} folds",
        )
    if roles["time"] is not None and run_in.cv >= dataset.n_rows:
        raise InvalidInput("cv", f"{run_in.cv} folds, but the dataset has {dataset.n_rows} rows")
    return roles


def _parent_id(session: Session, parent_run_id: str | None, viewer: User) -> uuid.UUID | None:
    """The run a submission refines: one the viewer may see; another user's reads as unknown."""
    if parent_run_id is None:
        return None
    key = parse_id(parent_run_id, field="parent_run_id")
    parent = session.get(TuningRun, key)
    if parent is None or not may_see(
        viewer_id=viewer.id, viewer_is_admin=viewer.is_admin, owner_id=parent.owner_id
    ):
        raise InvalidInput("parent_run_id", f"no tuning run with id {key}")
    return parent.id


def grid_size(param_grid: dict[str, Any]) -> int:
    """How many candidates a grid makes, counted without looking at its values."""
    sizes = [len(v) if isinstance(v, list | tuple) else 1 for v in param_grid.values()]
    return math.prod(sizes)


def _check_size(total: int, settings: Settings) -> None:
    if total > settings.max_candidates:
        raise InvalidInput(
            "param_grid", f"{total:,} candidates; the limit is {settings.max_candidates:,}"
        )


def _check_cv(cv: int, settings: Settings) -> None:
    if not 2 <= cv <= settings.max_cv_folds:
        raise InvalidInput("cv", f"{cv:,} folds; choose between 2 and {settings.max_cv_folds}")


def submit_run(
    *, session: Session, queue: TaskQueue, settings: Settings, owner: User, run_in: TuningRunCreate
) -> TuningRun:
    """Validate, store the run as PENDING, then enqueue it (commit before enqueue)."""
    run = validate_run(session=session, settings=settings, run_in=run_in, viewer=owner)
    assert owner.id is not None, "a stored user"
    run.owner_id = owner.id
    return store_and_enqueue(session=session, run=run, queue=queue)


def cancel_run(
    *, session: Session, queue: TaskQueue, run_id: str | uuid.UUID, viewer: User | None = None
) -> TuningRun:
    """REVOKED: a queued run never starts; a running one stops at its next candidate."""
    run = get_run(session=session, run_id=run_id, viewer=viewer)
    cancelled = finish(session=session, kind=TuningRun, run_id=run.id, status=RunStatus.REVOKED)
    if cancelled and run.task_id:
        queue.revoke(run.task_id)
    session.refresh(run)
    return run


# --- Reading runs ---------------------------------------------------------------------------


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
