"""Tuning runs: submit, list, status (the spec's endpoint), results, cancel."""

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel

from tuning import service
from tuning.api.deps import RuntimeDep, SessionDep, TokenDep, UserDep
from tuning.api.responses import AUTH, BROKER, BY_ID
from tuning.models import RunStatus
from tuning.schemas import RunPublic, RunResults, TuningRunCreate, TuningStatus

router = APIRouter(prefix="/api/v1/tuning", tags=["tuning"], responses=AUTH)


class TuningAccepted(BaseModel):
    tuning_run_id: str
    task_id: str | None
    status: RunStatus
    status_url: str


class RunList(BaseModel):
    items: list[RunPublic]
    limit: int
    offset: int


@router.post(
    "/tune",
    status_code=202,
    response_model=TuningAccepted,
    responses=BROKER,
)
def start_tuning(
    run_in: TuningRunCreate,
    request: Request,
    session: SessionDep,
    runtime: RuntimeDep,
    user: UserDep,
) -> TuningAccepted:
    """Validate and queue a search; poll `status_url` for its progress."""
    run = service.submit_run(
        session=session, queue=runtime.queue, settings=runtime.settings, owner=user, run_in=run_in
    )
    url = request.app.url_path_for("tuning_status", tuning_run_id=str(run.id))
    return TuningAccepted(
        tuning_run_id=str(run.id), task_id=run.task_id, status=run.status, status_url=str(url)
    )


@router.get("/tune", response_model=RunList)
def list_tuning_runs(
    session: SessionDep,
    user: UserDep,
    status: RunStatus | None = None,
    estimator: str | None = None,
    dataset: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
) -> RunList:
    """Your runs (an admin's: everyone's), newest first."""
    items = service.list_runs(
        session=session,
        viewer=user,
        status=status,
        estimator=estimator,
        dataset=dataset,
        limit=limit,
        offset=offset,
    )
    return RunList(items=items, limit=limit, offset=offset)


@router.get(
    "/tune/{tuning_run_id}/status",
    response_model=TuningStatus,
    name="tuning_status",
    responses=BY_ID,
)
def tuning_status(
    tuning_run_id: str, session: SessionDep, runtime: RuntimeDep, token: TokenDep
) -> TuningStatus:
    """The run's status: PENDING, PROGRESS, SUCCESS, FAILURE or REVOKED."""
    return service.get_status_for_token(
        session=session, queue=runtime.queue, run_id=tuning_run_id, token=token
    )


@router.get(
    "/tune/{tuning_run_id}/results",
    response_model=RunResults,
    responses={**BY_ID, 200: {"content": {"text/csv": {}}}},
)
def tuning_results(
    tuning_run_id: str,
    session: SessionDep,
    user: UserDep,
    format: Literal["json", "csv"] = "json",
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
):
    """The run's configuration, its trials (paged; all of them with ?format=csv) and the best."""
    run = service.get_run(session=session, run_id=tuning_run_id, viewer=user)
    if format == "csv":
        return PlainTextResponse(
            service.trials_csv(session=session, run=run),
            media_type="text/csv",
            headers={"Content-Disposition": f'attachment; filename="trials-{run.id}.csv"'},
        )
    return service.get_results(session=session, run=run, limit=limit, offset=offset)


@router.post("/tune/{tuning_run_id}/cancel", response_model=TuningStatus, responses=BY_ID)
def cancel_tuning(
    tuning_run_id: str, session: SessionDep, runtime: RuntimeDep, user: UserDep
) -> TuningStatus:
    """Cancel: a queued run never starts; a running one stops after its current candidate."""
    run = service.cancel_run(
        session=session, queue=runtime.queue, run_id=tuning_run_id, viewer=user
    )
    return service.tuning_status(run=run, queue=runtime.queue)
