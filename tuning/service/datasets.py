"""Datasets in the database: bundled ones by name, uploaded CSV files with their content."""

import uuid

from sqlmodel import Session, select

from tuning.errors import InvalidInput, NotFound
from tuning.ml.datasets import Table, load_bundled, read_csv
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
