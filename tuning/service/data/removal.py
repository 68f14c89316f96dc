"""An uploaded dataset archived (hidden from lists, restorable) or deleted once no run uses it.

Bundled datasets are everyone's: nobody archives or deletes them. An upload is its owner's and
admins'; to a user it is shared with it cannot be changed (Forbidden), to anyone else it does
not exist (NotFound), as when reading it.
"""

import uuid

from sqlalchemy import delete, func, select
from sqlmodel import Session, col

from tuning.domain import utcnow
from tuning.errors import Conflict, Forbidden, shown
from tuning.models import Dataset, DatasetShare, TrainingRun, TuningRun, User
from tuning.service.accounts.access import Action
from tuning.service.data.datasets import get_dataset_by_id
from tuning.service.data.files import delete_dataset_with_file


def _upload(
    session: Session, dataset_id: str | uuid.UUID, viewer: User, doing: str, to: Action
) -> Dataset:
    dataset = get_dataset_by_id(session=session, dataset_id=dataset_id, viewer=viewer)
    if dataset.owner_id is None:
        name = shown(dataset.name)
        raise Forbidden(f"{name} is a bundled dataset, everyone's: it cannot be {doing}")
    return get_dataset_by_id(session=session, dataset_id=dataset.id, viewer=viewer, to=to)


def archive_dataset(
    *, session: Session, dataset_id: str | uuid.UUID, viewer: User, archived: bool
) -> Dataset:
    """Hide an upload from the lists of datasets (`archived`), or show it again. Runs on it
    keep working, and it can still be named in a submission."""
    dataset = _upload(session, dataset_id, viewer, "archived", Action.CHANGE)
    dataset.archived_at = (dataset.archived_at or utcnow()) if archived else None
    session.add(dataset)
    session.commit()
    session.refresh(dataset)
    return dataset


def delete_dataset(*, session: Session, dataset_id: str | uuid.UUID, viewer: User) -> None:
    """Delete an upload that no tuning run or training uses (Conflict says how many do)."""
    dataset = _upload(session, dataset_id, viewer, "deleted", Action.DELETE)
    n_runs, n_trainings = (
        session.execute(
            select(func.count()).select_from(kind).where(col(kind.dataset_id) == dataset.id)
        ).scalar_one()
        for kind in (TuningRun, TrainingRun)
    )
    if n_runs or n_trainings:
        users = f"{n_runs} tuning run(s) and {n_trainings} training run(s)"
        name = shown(dataset.name)
        raise Conflict(f"{users} use dataset {name}: delete them first, or archive it instead")
    session.execute(delete(DatasetShare).where(col(DatasetShare.dataset_id) == dataset.id))
    delete_dataset_with_file(session, dataset.id)
    session.commit()
