"""Stored files: an upload's CSV and a trained model's skops file, each a row of its own table
(DatasetFile, ModelFile) beside the row that lists read. Every read of a file's bytes comes
here; the writes sit with the dataset's or model's own, in the same transaction."""

import uuid
from typing import Any

from sqlalchemy import delete, select
from sqlmodel import Session, col

from tuning.errors import NotFound
from tuning.models import Dataset, DatasetFile, Model, ModelFile


def dataset_bytes(*, session: Session, dataset_id: uuid.UUID) -> bytes:
    """An uploaded dataset's CSV file as uploaded; NotFound for a bundled one (it has none)."""
    return _stored(session, DatasetFile.content, DatasetFile.dataset_id, dataset_id, "dataset")


def model_bytes(*, session: Session, model_id: uuid.UUID) -> bytes:
    """A trained model's skops file. No check of who asks: read the model with get_model first."""
    return _stored(session, ModelFile.file, ModelFile.model_id, model_id, "model")


def _stored(session: Session, column: Any, key: Any, value: uuid.UUID, owner: str) -> bytes:
    found = session.execute(select(col(column)).where(col(key) == value)).scalar_one_or_none()
    if found is None:
        raise NotFound(f"no stored file for {owner} {value}")
    return bytes(found)


def delete_models_with_files(session: Session, models: Any) -> None:
    """Delete the models that `models` (a WHERE clause on Model) selects with their files,
    uncommitted: the caller's transaction holds both."""
    ids = select(col(Model.id)).where(models)
    session.execute(delete(ModelFile).where(col(ModelFile.model_id).in_(ids)))
    session.execute(delete(Model).where(models))


def delete_dataset_with_file(session: Session, dataset_id: uuid.UUID) -> None:
    """Delete a dataset's row with its file, uncommitted."""
    session.execute(delete(DatasetFile).where(col(DatasetFile.dataset_id) == dataset_id))
    session.execute(delete(Dataset).where(col(Dataset.id) == dataset_id))
