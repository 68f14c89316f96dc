"""Datasets in the database: bundled ones by name, uploaded CSV files with their content."""

import io
import uuid
from dataclasses import dataclass

import pandas as pd
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from tuning.domain import TaskType
from tuning.errors import InvalidInput, NotFound
from tuning.ml.datasets import BUNDLED, Table, column_types, load_bundled, read_csv
from tuning.models import Dataset, User


def get_dataset(*, session: Session, name: str) -> Dataset:
    """The dataset called `name`, or InvalidInput(field="dataset") listing what exists."""
    dataset = session.exec(select(Dataset).where(Dataset.name == name)).first()
    if dataset is None:
        names = session.exec(select(Dataset.name).order_by(Dataset.name).limit(30)).all()
        raise InvalidInput("dataset", f"unknown dataset '{name}'; available: {', '.join(names)}")
    return dataset


def list_datasets(*, session: Session) -> list[Dataset]:
    return list(session.exec(select(Dataset).order_by(Dataset.kind, Dataset.name)).all())


def upload_dataset(
    *, session: Session, owner: User, name: str, content: bytes, target: str, max_bytes: int
) -> Dataset:
    """Check and store a CSV file, so that a worker on any host can read it."""
    name = name.strip()
    if not name:
        raise InvalidInput("name", "a dataset needs a name")
    if session.exec(select(Dataset.id).where(Dataset.name == name)).first() is not None:
        raise InvalidInput("name", f"a dataset named '{name}' already exists")
    table = read_csv(content, target, max_bytes=max_bytes)
    dataset = Dataset(
        name=name,
        kind="csv",
        task=table.task,
        target=target,
        content=content,
        n_rows=len(table.y),
        n_columns=table.X.shape[1],
        owner_id=owner.id,
    )
    session.add(dataset)
    session.commit()
    session.refresh(dataset)
    return dataset


def load_table(*, session: Session, dataset_id: uuid.UUID) -> Table:
    """The features and target of a stored dataset."""
    dataset = session.get(Dataset, dataset_id)
    if dataset is None:
        raise NotFound(f"no dataset with id {dataset_id}")
    if dataset.kind == "bundled":
        return load_bundled(dataset.name)
    assert dataset.content is not None and dataset.target is not None
    return read_csv(dataset.content, dataset.target)


# --- Choosing a dataset for a new run -------------------------------------------------------


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
    # Five columns, past the four that sqlmodel's `select` has types for: SQLAlchemy's own.
    rows = session.execute(
        sa_select(
            col(Dataset.name),
            col(Dataset.kind),
            col(Dataset.task),
            col(Dataset.n_rows),
            col(Dataset.n_columns),
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
