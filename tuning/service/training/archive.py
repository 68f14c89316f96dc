"""A trained model archived (hidden from the Models page's list, restorable) or restored."""

import uuid

from sqlmodel import Session

from tuning.domain import utcnow
from tuning.models import Model, User
from tuning.service.training.final_model import get_model


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
