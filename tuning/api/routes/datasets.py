"""Datasets and the estimator catalog."""

from pathlib import PurePath
from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Query, Response, UploadFile
from fastapi.concurrency import run_in_threadpool

from tuning import service
from tuning.api.deps import RuntimeDep, UserDep
from tuning.api.idempotency import IDEMPOTENT, KeyedDep, as_response, json_answer
from tuning.api.responses import AUTH, BY_ID, ErrorDetail, Responses, quota
from tuning.db import session_scope
from tuning.domain import TaskType
from tuning.models import Dataset
from tuning.schemas import ArchiveChange, DatasetPublic
from tuning.service import NAME_LIMIT

router = APIRouter(prefix="/api/v1", tags=["datasets"], responses=AUTH)


@router.get("/datasets", response_model=list[DatasetPublic])
def list_datasets(
    runtime: RuntimeDep,
    user: UserDep,
    archived: Annotated[
        bool, Query(description="true: the archived uploads only (to restore one)")
    ] = False,
) -> list[DatasetPublic]:
    """Bundled scikit-learn datasets and uploaded CSV files (each one's profile: by id)."""
    with session_scope(runtime.engine) as session:
        listed = service.list_datasets(session=session, viewer=user, archived=archived)
    return [DatasetPublic.model_validate(dataset) for dataset in listed]


IN_USE: Responses = {**BY_ID, 403: {"model": ErrorDetail, "description": "A bundled dataset"}}


@router.patch("/datasets/{dataset_id}", response_model=DatasetPublic, responses=IN_USE)
def change_dataset(
    dataset_id: str, change: ArchiveChange, runtime: RuntimeDep, user: UserDep
) -> DatasetPublic:
    """Archive one of your uploads (hidden from lists; runs on it keep working) or restore it."""
    with session_scope(runtime.engine) as session:
        dataset = service.archive_dataset(
            session=session, dataset_id=dataset_id, viewer=user, archived=change.archived
        )
        return DatasetPublic.model_validate(dataset).model_copy(update={"profile": None})


@router.delete(
    "/datasets/{dataset_id}",
    status_code=204,
    responses={
        **IN_USE,
        409: {"model": ErrorDetail, "description": "Runs use it; the answer says how many"},
    },
)
def delete_dataset(dataset_id: str, runtime: RuntimeDep, user: UserDep) -> Response:
    """Delete one of your uploads that no tuning run or training uses."""
    with session_scope(runtime.engine) as session:
        service.delete_dataset(session=session, dataset_id=dataset_id, viewer=user)
    return Response(status_code=204)


@router.get("/datasets/{dataset_id}", response_model=DatasetPublic, responses=BY_ID)
def get_dataset(dataset_id: str, runtime: RuntimeDep, user: UserDep) -> DatasetPublic:
    """One dataset with its profile: bundled, yours, or shared with you (404 for any other)."""
    with session_scope(runtime.engine) as session:
        dataset = service.get_dataset_by_id(session=session, dataset_id=dataset_id, viewer=user)
        service.dataset_profile(session=session, dataset=dataset)
        return DatasetPublic.model_validate(dataset)


@router.get(
    "/datasets/{dataset_id}/download",
    response_class=Response,
    responses={
        **BY_ID,
        200: {"content": {"text/csv": {}}, "description": "The CSV file as uploaded"},
        403: {"model": ErrorDetail, "description": "Shared with you to use, not to download"},
        404: {"model": ErrorDetail, "description": "Not found, or a bundled dataset (no file)"},
    },
)
def download_dataset(dataset_id: str, runtime: RuntimeDep, user: UserDep) -> Response:
    """An upload's CSV file: yours, or one shared with you to download (admins: any)."""
    key = service.parse_id(dataset_id, field="dataset_id")
    with session_scope(runtime.engine) as session:
        content = service.dataset_file(session=session, dataset_id=key, viewer=user)
    return Response(
        content,
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="dataset-{key}.csv"'},
    )


@router.post(
    "/datasets",
    status_code=201,
    response_model=DatasetPublic,
    responses={
        **quota(
            413, "Over MAX_UPLOAD_BYTES per file, or MAX_UPLOAD_BYTES_PER_USER for your uploads"
        ),
        **IDEMPOTENT,
    },
)
async def upload_dataset(
    file: UploadFile,
    target: Annotated[str, Form(description="The column to predict", max_length=NAME_LIMIT)],
    runtime: RuntimeDep,
    user: UserDep,
    keyed: KeyedDep,
    name: Annotated[
        str | None, Form(description="Defaults to the file name", max_length=NAME_LIMIT)
    ] = None,
    task: Annotated[
        TaskType | None,
        Form(description="Read the target as classes or numbers; default: from its values"),
    ] = None,
) -> Response:
    """Upload a CSV file, private to you, and get its profile: each column's kind, gaps,
    levels and default role, the target's classes, and warnings. A body over the upload limit
    is refused (413) as soon as it passes the limit; a target that cannot be learned (an ID, a
    class of one row) is a 422; a file that would take your stored uploads (archived ones
    too) over MAX_UPLOAD_BYTES_PER_USER is a 413 that says how much they hold."""
    limit = runtime.settings.max_upload_bytes
    content = await file.read(limit + 1)
    if len(content) > limit:
        raise HTTPException(413, f"the file is over the limit of {limit:,} bytes")
    dataset_name = name or PurePath(file.filename or "upload.csv").stem[:NAME_LIMIT]

    def store() -> service.Answer:  # parsing and writing stay off the event loop
        with session_scope(runtime.engine) as session:
            return service.answer_once(
                session=session,
                user=user,
                request=keyed,
                act=lambda: service.upload_dataset(
                    session=session,
                    owner=user,
                    name=dataset_name,
                    content=content,
                    target=target,
                    settings=runtime.settings,
                    task=task,
                ),
                answer=lambda dataset: json_answer(DatasetPublic.model_validate(dataset), 201),
                creates=Dataset,
            )

    return as_response(await run_in_threadpool(store))


@router.get("/estimators")
def list_estimators(user: UserDep) -> dict[str, Any]:
    """The estimator catalog with parameter metadata, the scorer names each task accepts, and
    the ones that fit each kind of target (binary, multiclass, regression)."""
    return {
        "estimators": service.catalog_as_dict(),
        "scorers": {task.value: service.scorers_for(task) for task in TaskType},
        "scorers_by_target": service.scorers_by_target(),
    }
