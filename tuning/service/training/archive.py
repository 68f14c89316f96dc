"""A trained model archived (hidden from the Models page's list, restorable) or restored, and
the one change of a model the API takes: its threshold, its archive, or both."""

import uuid

from sqlmodel import Session

from tuning.domain import utcnow
from tuning.models import Model, User
from tuning.schemas import ModelChange, ModelPublic, ThresholdChange
from tuning.service.training.final_model import get_model
from tuning.service.training.thresholds import read_model, set_model_threshold


def archive_model(
    *, session: Session, model_id: str | uuid.UUID, viewer: User | None, archived: bool
) -> Model:
    """Hide a model from the list of trainings (`archived`), or show it again; its owner and
    admins only. Its file can still be downloaded and used by id."""
    model = get_model(session=session, model_id=model_id, viewer=viewer)
    model.archived_at = (model.archived_at or utcnow()) if archived else None
    session.add(model)
    session.commit()
    session.refresh(model)
    return model


def change_model(
    *, session: Session, model_id: str | uuid.UUID, viewer: User | None, change: ModelChange
) -> ModelPublic:
    """Move the threshold if `change` names one (checked first: a refused threshold changes
    nothing), then archive or restore the model if it says so."""
    threshold = change.model_dump(exclude={"archived"}, exclude_defaults=True)
    if threshold or change.archived is None:  # nothing asked: the threshold's own error
        set_model_threshold(
            session=session,
            model_id=model_id,
            viewer=viewer,
            change=ThresholdChange.model_validate(threshold),
        )
    if change.archived is not None:
        archive_model(session=session, model_id=model_id, viewer=viewer, archived=change.archived)
    return read_model(session=session, model_id=model_id, viewer=viewer)
