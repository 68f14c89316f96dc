"""Datasets and the estimator catalog."""

from pathlib import PurePath
from typing import Annotated, Any

from fastapi import APIRouter, Form, UploadFile
from fastapi.concurrency import run_in_threadpool

from tuning import service
from tuning.api.deps import RuntimeDep, UserDep
from tuning.api.responses import AUTH
from tuning.db import session_scope
from tuning.domain import TaskType
from tuning.errors import InvalidInput
from tuning.schemas import DatasetPublic

router = APIRouter(prefix="/api/v1", tags=["datasets"], responses=AUTH)


@router.get("/datasets", response_model=list[DatasetPublic])
def list_datasets(runtime: RuntimeDep, user: UserDep) -> list[DatasetPublic]:
    """Bundled scikit-learn datasets and uploaded CSV files."""
    with session_scope(runtime.engine) as session:
        return [DatasetPublic.model_validate(d) for d in service.list_datasets(session=session)]


@router.post("/datasets", status_code=201, response_model=DatasetPublic)
async def upload_dataset(
    file: UploadFile,
    target: Annotated[str, Form(description="The column to predict")],
    runtime: RuntimeDep,
    user: UserDep,
    name: Annotated[str | None, Form(description="Defaults to the file name")] = None,
) -> DatasetPublic:
    """Upload a CSV file; numeric and text columns are both handled."""
    limit = runtime.settings.max_upload_bytes
    content = await file.read(limit + 1)
    if len(content) > limit:
        raise InvalidInput("file", f"the file is over the limit of {limit:,} bytes")
    dataset_name = name or PurePath(file.filename or "upload.csv").stem

    def store() -> DatasetPublic:  # parsing and writing stay off the event loop
        with session_scope(runtime.engine) as session:
            dataset = service.upload_dataset(
                session=session,
                owner=user,
                name=dataset_name,
                content=content,
                target=target,
                max_bytes=limit,
            )
            return DatasetPublic.model_validate(dataset)

    return await run_in_threadpool(store)


@router.get("/estimators")
def list_estimators(user: UserDep) -> dict[str, Any]:
    """The estimator catalog with parameter metadata, and the scorers for each task."""
    return {
        "estimators": service.catalog_as_dict(),
        "scorers": {task.value: service.scorers_for(task) for task in TaskType},
    }
