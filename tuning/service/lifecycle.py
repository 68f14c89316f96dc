"""What tuning and training runs share: checking a configuration, queueing, ending."""

import uuid
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy import update
from sqlmodel import Session, col

from tuning.domain import ACTIVE, RunStatus, utcnow
from tuning.errors import InvalidInput, Unavailable
from tuning.ml import catalog
from tuning.models import Dataset, TrainingRun, TuningRun
from tuning.service.datasets import get_dataset

AnyRun = TuningRun | TrainingRun


def estimator_and_dataset(
    *, session: Session, estimator: str, dataset: str
) -> tuple[catalog.EstimatorSpec, Dataset]:
    """The catalog entry and the stored dataset, checked to be for the same task."""
    spec = catalog.get_estimator(estimator)
    found = get_dataset(session=session, name=dataset)
    if spec.task != found.task:
        raise InvalidInput(
            "estimator",
            f"{spec.name} is for {spec.task.value}; dataset '{found.name}' is {found.task.value}",
        )
    return spec, found


R = TypeVar("R", TuningRun, TrainingRun)


def store_and_enqueue(*, session: Session, run: R, enqueue: Callable[[uuid.UUID, str], None]) -> R:
    """Commit the run as PENDING, then hand it to a worker (commit before enqueue).

    If the broker refuses, the run is stored as FAILURE with the reason, never left PENDING for
    a worker that will not come, and Unavailable is raised.
    """
    run.task_id = str(uuid.uuid4())
    session.add(run)
    session.commit()
    try:
        enqueue(run.id, run.task_id)
    except Unavailable as exc:
        finish(
            session=session,
            kind=type(run),
            run_id=run.id,
            status=RunStatus.FAILURE,
            error_type="BrokerUnavailable",
            error_message=str(exc),
        )
        raise
    session.refresh(run)
    return run


def update_active(
    *, session: Session, kind: type[AnyRun], run_id: uuid.UUID, **values: object
) -> bool:
    """Update the run only while it is still active, and commit; False once it has ended.

    The one guarded update: a cancel, a finish and a worker's progress all go through it, so a
    run that ended (or was cancelled) is never moved again by a late writer.
    """
    result = session.exec(
        update(kind).where(col(kind.id) == run_id, col(kind.status).in_(ACTIVE)).values(**values)
    )
    session.commit()
    return result.rowcount == 1


def finish(
    *, session: Session, kind: type[AnyRun], run_id: uuid.UUID, status: RunStatus, **values: object
) -> bool:
    """Move an active run to a final status; False if it had already ended (e.g. cancelled)."""
    return update_active(
        session=session, kind=kind, run_id=run_id, status=status, finished_at=utcnow(), **values
    )
