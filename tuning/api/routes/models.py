"""Training final models and downloading them."""

import uuid

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel

from tuning import service
from tuning.api.deps import RuntimeDep, UserDep
from tuning.api.responses import AUTH, BY_ID
from tuning.db import session_scope
from tuning.models import RunStatus
from tuning.schemas import ArchiveChange, TrainingRunCreate, TrainingStatus, UtcDatetime

router = APIRouter(prefix="/api/v1/models", tags=["models"], responses=AUTH)


class TrainingAccepted(BaseModel):
    training_run_id: str
    task_id: str | None
    status: RunStatus
    status_url: str


@router.post("/train", status_code=202, response_model=TrainingAccepted, responses=BY_ID)
def start_training(
    request_in: TrainingRunCreate,
    request: Request,
    runtime: RuntimeDep,
    user: UserDep,
) -> TrainingAccepted:
    """Train with a tuning run's best parameters, or with a dataset, estimator and params."""
    with session_scope(runtime.engine) as session:
        run = service.submit_training(
            session=session, queue=runtime.queue, owner=user, request=request_in
        )
        url = request.app.url_path_for("training_status", training_run_id=str(run.id))
        return TrainingAccepted(
            training_run_id=str(run.id), task_id=run.task_id, status=run.status, status_url=str(url)
        )


@router.get(
    "/train/{training_run_id}/status",
    response_model=TrainingStatus,
    name="training_status",
    responses=BY_ID,
)
def training_status(training_run_id: str, runtime: RuntimeDep, user: UserDep) -> TrainingStatus:
    """The training run's status, in the tuning status's shape."""
    with session_scope(runtime.engine) as session:
        return service.get_training_status(
            session=session, queue=runtime.queue, training_run_id=training_run_id, viewer=user
        )


@router.get(
    "/{model_id}/download",
    responses={
        **BY_ID,
        200: {"content": {"application/octet-stream": {}}, "description": "A skops file"},
    },
)
def download_model(model_id: str, runtime: RuntimeDep, user: UserDep) -> Response:
    """The fitted pipeline as a skops file: load it with skops.io.load, no unpickling."""
    with session_scope(runtime.engine) as session:
        model = service.get_model(session=session, model_id=model_id, viewer=user)
        filename = f"{model.estimator}-{model.id}.skops"
        return Response(
            model.file,
            media_type="application/octet-stream",
            headers={"Content-Disposition": f'attachment; filename="{filename}"'},
        )


class ModelArchived(BaseModel):
    id: uuid.UUID
    estimator: str
    archived_at: UtcDatetime | None


@router.patch("/{model_id}", response_model=ModelArchived, responses=BY_ID)
def change_model(
    model_id: str, change: ArchiveChange, runtime: RuntimeDep, user: UserDep
) -> ModelArchived:
    """Archive a model (hidden from the list of models; its file stays) or restore it."""
    with session_scope(runtime.engine) as session:
        model = service.archive_model(
            session=session, model_id=model_id, viewer=user, archived=change.archived
        )
        return ModelArchived(id=model.id, estimator=model.estimator, archived_at=model.archived_at)
