"""Deleting a tuning run with everything that is its own, and nothing else.

A run still queued or running is refused (Conflict: cancel it first), as is one with a model
still being trained from it: a worker would otherwise write trials or a model for a run that
is gone. Runs that refine it stay, no longer linked to it.
"""

import uuid

from sqlalchemy import delete, func, select, update
from sqlmodel import Session, col

from tuning.domain import ACTIVE
from tuning.errors import Conflict
from tuning.models import (
    Chunk,
    Model,
    Proposal,
    RunNote,
    RunShare,
    RunTag,
    TrainingRun,
    Trial,
    TuningRun,
    User,
)
from tuning.service.accounts.access import Action
from tuning.service.data.files import delete_models_with_files
from tuning.service.reads.runs import get_run


def delete_run(*, session: Session, run_id: str | uuid.UUID, viewer: User | None) -> None:
    """Delete a run with its trials, chunks, proposals, notes, tags, shares, training runs and
    models (with their files); its owner and admins only (NotFound, or Forbidden). One
    transaction."""
    run = get_run(session=session, run_id=run_id, viewer=viewer, to=Action.DELETE)
    if run.status in ACTIVE:
        raise Conflict(f"tuning run {run.id} is {run.status.value}: cancel it first")
    trainings = select(col(TrainingRun.id)).where(col(TrainingRun.tuning_run_id) == run.id)
    training = session.execute(
        select(func.count()).where(
            col(TrainingRun.tuning_run_id) == run.id, col(TrainingRun.status).in_(list(ACTIVE))
        )
    ).scalar_one()
    if training:
        raise Conflict(
            f"a model is still being trained from tuning run {run.id}: "
            "wait for it to finish, then delete the run"
        )
    delete_models_with_files(session, col(Model.training_run_id).in_(trainings))
    session.execute(delete(TrainingRun).where(col(TrainingRun.tuning_run_id) == run.id))
    for owned in (Trial, Chunk, Proposal, RunNote, RunTag, RunShare):
        session.execute(delete(owned).where(col(owned.run_id) == run.id))
    session.execute(
        update(TuningRun).where(col(TuningRun.parent_id) == run.id).values(parent_id=None)
    )
    session.execute(delete(TuningRun).where(col(TuningRun.id) == run.id))
    session.commit()
