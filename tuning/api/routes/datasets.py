"""Datasets and the estimator catalog."""

from pathlib import PurePath
from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, UploadFile
from fastapi.concurrency import run_in_threadpool

from tuning import service
from tuning.api.deps import RuntimeDep, UserDep
from tuning.api.responses import AUTH, BY_ID
from tuning.db import session_scope
from tuning.domain import TaskType
from tuning.schemas import DatasetPublic
from tuning.service import NAME_LIMIT

router = APIRouter(prefix="/api/v1", tags=["datasets"], responses=AUTH)


@router.get("/datasets", response_model=list[DatasetPublic])
def list_datasets(runtime: RuntimeDep, user: UserDep) -> list[DatasetPublic]:
    """Bundled scikit-learn datasets and uploaded CSV files (each one's profile: by id)."""
    with session_scope(runtime.engine) as session:
        return [
            DatasetPublic.model_validate(d).model_copy(update={"profile": None})
            for d in service.list_datasets(session=session, viewer=user)
        ]


@router.get("/datasets/{dataset_id}", response_model=DatasetPublic, responses=BY_ID)
def get_dataset(dataset_id: str, runtime: RuntimeDep, user: UserDep) -> DatasetPublic:
    """One dataset with its profile: bundled, or one of yours (404 for another user's)."""
    with session_scope(runtime.engine) as session:
        dataset = service.get_dataset_by_id(session=session, dataset_id=dataset_id, viewer=user)
        service.dataset_profile(session=session, dataset=dataset)
        return DatasetPublic.model_validate(dataset)


@router.post("/datasets", status_code=201, response_model=DatasetPublic)
async def upload_dataset(
    file: UploadFile,
    target: Annotated[str, Form(description="The column to predict", max_length=NAME_LIMIT)],
    runtime: RuntimeDep,
    user: UserDep,
    name: Annotated[
        str | None, Form(description="Defaults to the file name", max_length=NAME_LIMIT)
    ] = None,
    task: Annotated[
        TaskType | None,
        Form(description="Read the target as classes or numbers; default: from its values"),
    ] = None,
) -> DatasetPublic:
    """Upload a CSV file, private to you, and get its profile: each column's kind, gaps,
    levels and default role, the target's classes, and warnings. A body over the upload limit
    is refused (413) as soon as it passes the limit; a target that cannot be learned (an ID, a
    class of one row) is a 422."""
    limit = runtime.settings.max_upload_bytes
    content = await file.read(limit + 1)
    if len(content) > limit:
        raise HTTPException(413, f"the file is over the limit of {limit:,} bytes")
    dataset_name = name or PurePath(file.filename or "upload.csv").stem[:NAME_LIMIT]

    def store() -> DatasetPublic:  # parsing and writing stay off the event loop
        with session_scope(runtime.engine) as session:
            dataset = service.upload_dataset(
                session=session,
                owner=user,
                name=dataset_name,
                content=content,
                target=target,
                max_bytes=limit,
                task=task,
            )
            return DatasetPublic.model_validate(dataset)

    return await run_in_threadpool(store)


@router.get("/estimators")
def list_estimators(user: UserDep) -> dict[str, Any]:
    """The estimator catalog with parameter metadata, the scorer names each task accepts, and
    the ones that fit each kind of target (binary, multiclass, regression)."""
    return {
        "estimators": service.catalog_as_dict(),
        "scorers": {task.value: service.scorers_for(task) for task in TaskType},
        "scorers_by_target": service.scorers_by_target(),
    }
