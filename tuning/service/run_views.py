"""What the dashboard shows of runs and asks before one: pages of summaries, one run, the form.

Read models are plain dataclasses built from one query each, so a page of 50 runs out of
10,000 costs one indexed read, however many runs a user has.
"""

import io
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import func
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from tuning.config import Settings
from tuning.errors import InvalidInput, NotFound
from tuning.ml import catalog
from tuning.ml.datasets import BUNDLED, column_types, read_csv
from tuning.models import ACTIVE, Dataset, RunStatus, TaskType, TuningRun, User, as_utc, utcnow
from tuning.schemas import TuningRunCreate
from tuning.service.runs import get_run, parse_run_id, validate_run

PAGE_SIZE = 50


@dataclass(frozen=True)
class RunSummary:
    """One row of the runs table."""

    id: uuid.UUID
    status: RunStatus
    estimator: str
    dataset: str
    owner: str
    scoring: str
    best_score: float | None
    progress_current: int
    progress_total: int
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None

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
class RunDetail(RunSummary):
    """Everything one run's pages show besides its trials."""

    task: TaskType
    search: str
    param_grid: dict[str, list[Any]]
    n_iter: int | None
    random_state: int | None
    cv: int
    best_params: dict[str, Any] | None
    best_trial_index: int | None
    total_combinations: int
    tuning_time: float | None
    progress_message: str | None
    error_type: str | None
    error_message: str | None


@dataclass(frozen=True)
class RunPage:
    """A page of the viewer's runs, newest first, and how many match the filters in all."""

    runs: list[RunSummary]
    total: int

    @property
    def any_active(self) -> bool:
        return any(run.is_active for run in self.runs)


@dataclass(frozen=True)
class RunFilterOptions:
    estimators: list[str]
    datasets: list[str]


_SUMMARY_COLUMNS = (
    TuningRun.id,
    TuningRun.status,
    TuningRun.estimator,
    col(Dataset.name).label("dataset"),
    col(User.name).label("owner"),
    TuningRun.scoring,
    TuningRun.best_score,
    TuningRun.progress_current,
    TuningRun.progress_total,
    TuningRun.created_at,
    TuningRun.started_at,
    TuningRun.finished_at,
)


def _in_utc(values: dict[str, Any]) -> dict[str, Any]:
    """SQLite hands back naive datetimes; every stored moment is UTC."""
    return {name: as_utc(values[name]) for name in ("created_at", "started_at", "finished_at")}


def _summary(row: Any) -> RunSummary:
    values = dict(row._mapping)
    del values["n_matching"]
    return RunSummary(**{**values, "status": RunStatus(values["status"]), **_in_utc(values)})


def _visible_to(query: Any, viewer: User) -> Any:
    return query if viewer.is_admin else query.where(TuningRun.owner_id == viewer.id)


def list_run_summaries(
    *,
    session: Session,
    viewer: User,
    statuses: Sequence[RunStatus] = (),
    estimators: Sequence[str] = (),
    datasets: Sequence[str] = (),
    limit: int = PAGE_SIZE,
    offset: int = 0,
) -> RunPage:
    """The viewer's runs (an admin's: everyone's) matching the filters, with their dataset names.

    One query: the total comes along as a window count over the filtered rows.
    """
    query = (
        sa_select(*_SUMMARY_COLUMNS, func.count().over().label("n_matching"))
        .join(Dataset, col(Dataset.id) == TuningRun.dataset_id)
        .join(User, col(User.id) == TuningRun.owner_id)
    )
    query = _visible_to(query, viewer)
    if statuses:
        query = query.where(col(TuningRun.status).in_(list(statuses)))
    if estimators:
        query = query.where(col(TuningRun.estimator).in_(list(estimators)))
    if datasets:
        query = query.where(col(Dataset.name).in_(list(datasets)))
    query = query.order_by(col(TuningRun.created_at).desc(), col(TuningRun.id)).limit(limit)
    rows = session.exec(query.offset(offset)).all()  # type: ignore[call-overload]
    if not rows and offset:
        return list_run_summaries(
            session=session,
            viewer=viewer,
            statuses=statuses,
            estimators=estimators,
            datasets=datasets,
            limit=limit,
        )
    total = rows[0].n_matching if rows else 0
    return RunPage(runs=[_summary(row) for row in rows], total=total)


def run_filter_options(*, session: Session, viewer: User) -> RunFilterOptions:
    """The estimators and datasets that occur in the viewer's runs, for the filters."""
    query = (
        sa_select(TuningRun.estimator, Dataset.name)
        .join(Dataset, col(Dataset.id) == TuningRun.dataset_id)
        .distinct()
    )
    rows = session.exec(_visible_to(query, viewer)).all()  # type: ignore[call-overload]
    return RunFilterOptions(
        estimators=sorted({row[0] for row in rows}), datasets=sorted({row[1] for row in rows})
    )


def get_run_detail(*, session: Session, run_id: str | uuid.UUID, viewer: User) -> RunDetail:
    """One run with its dataset and owner names; NotFound or Forbidden as `get_run` decides."""
    run_uuid = parse_run_id(run_id)
    row = session.exec(
        select(TuningRun, Dataset.name, Dataset.task, User.name)
        .join(Dataset, col(Dataset.id) == TuningRun.dataset_id)
        .join(User, col(User.id) == TuningRun.owner_id)
        .where(TuningRun.id == run_uuid)
    ).first()
    # The row is in the identity map now, so this checks the viewer without a second read.
    run = get_run(session=session, run_id=run_uuid, viewer=viewer)
    if row is None:
        raise NotFound(f"no tuning run with id {run_id}")
    _, dataset, task, owner = row
    values = {f.name: getattr(run, f.name) for f in fields(RunDetail) if hasattr(run, f.name)}
    values.update(dataset=dataset, owner=owner, task=TaskType(task), **_in_utc(values))
    return RunDetail(**values)


# --- The new-run form ---------------------------------------------------------------------


@dataclass(frozen=True)
class DatasetChoice:
    name: str
    kind: str  # "bundled" or "csv"
    task: TaskType
    n_rows: int
    n_columns: int
    description: str


def dataset_choices(*, session: Session) -> list[DatasetChoice]:
    """Every dataset a run can use, bundled first; the stored CSV content is not read."""
    rows = session.exec(
        select(
            Dataset.name, Dataset.kind, Dataset.task, Dataset.n_rows, Dataset.n_columns
        ).order_by(col(Dataset.kind), col(Dataset.name))
    ).all()
    choices = []
    for name, kind, task, n_rows, n_columns in rows:
        bundled = BUNDLED.get(name) if kind == "bundled" else None
        description = bundled.description if bundled else "uploaded CSV"
        choices.append(DatasetChoice(name, kind, TaskType(task), n_rows, n_columns, description))
    return choices


@dataclass(frozen=True)
class CsvPreview:
    """An upload before it is stored: its first rows, how each feature column will be read, and
    the task its target implies."""

    head: pd.DataFrame
    n_rows: int
    column_types: dict[str, str]
    task: TaskType


def csv_columns(content: bytes) -> list[str]:
    """The header of an uploaded CSV file, to choose the target from."""
    try:
        header = pd.read_csv(io.BytesIO(content), nrows=0)
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise InvalidInput("file", f"not a readable CSV file: {exc}") from exc
    return [str(column) for column in header.columns]


def preview_csv(*, content: bytes, target: str, max_bytes: int, n_head: int = 10) -> CsvPreview:
    """Read an upload as `upload_dataset` will; InvalidInput names the file or the target."""
    table = read_csv(content, target, max_bytes=max_bytes)
    head = table.X.head(n_head).assign(**{target: table.y.head(n_head)})
    return CsvPreview(head, len(table.y), column_types(table.X), table.task)


def parse_values(text: str) -> list[Any]:
    """Comma-separated grid values as JSON would give them: 3, 0.1, None, True, sqrt, 'a b'."""
    values: list[Any] = []
    for token in (part.strip() for part in text.split(",")):
        if not token:
            continue
        values.append(_parse_value(token))
    return values


_WORDS = {"none": None, "null": None, "true": True, "false": False}


def _parse_value(token: str) -> Any:
    if token.lower() in _WORDS:
        return _WORDS[token.lower()]
    try:
        return int(token)
    except ValueError:
        pass
    try:
        return float(token)
    except ValueError:
        return token.strip("'\"")


def value_range(*, param: str, low: float, high: float, count: int, log: bool, kind: str) -> list:
    """`count` values from low to high, evenly or log-spaced; integers for an int parameter."""
    field = f"param_grid.{param}"
    if count < 1:
        raise InvalidInput(field, "a range needs at least one value")
    if high < low:
        raise InvalidInput(field, f"the range ends ({high:g}) below its start ({low:g})")
    if log and low <= 0:
        raise InvalidInput(field, "a log-spaced range needs a start above 0")
    points = np.geomspace(low, high, count) if log else np.linspace(low, high, count)
    if kind == "int":
        return list(dict.fromkeys(int(np.rint(point)) for point in points))
    return list(dict.fromkeys(float(f"{point:.6g}") for point in points))


def check_submission(
    *, session: Session, settings: Settings, run_in: TuningRunCreate
) -> dict[str, str]:
    """Every problem of a submission by field ("param_grid.max_depth", "cv", ...); {} if none.

    Each grid parameter is checked on its own so that all of them can be shown at once; the
    rest is `validate_run`'s first objection, asked with the parameters that passed.
    """
    errors: dict[str, str] = {}
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
        )
    except InvalidInput as exc:
        errors.setdefault(exc.field, exc.reason)
    return errors
