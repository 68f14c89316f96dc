"""Tuning runs: submit, list, status (the spec's endpoint), results, cancel, notes."""

from typing import Annotated, Literal

import anyio
from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, Field

from tuning import service
from tuning.api.deps import RuntimeDep, TokenDep, UserDep
from tuning.api.idempotency import IDEMPOTENT, KeyedDep, as_response, json_answer
from tuning.api.responses import AUTH, BY_ID, ErrorDetail, quota
from tuning.db import session_scope
from tuning.domain import RunStatus
from tuning.models import TuningRun
from tuning.schemas import (
    RunChange,
    RunPublic,
    RunResults,
    TuningRunCreate,
    TuningStatus,
    UtcDatetime,
)

# Few threads for the polling path: measured on 2 cores, 2 threads serve 50 pollers at ~1,050
# req/s and p99 54 ms, where the shared pool of 40 gave ~700 req/s and p99 200 ms (GIL handoffs).
_POLL_LIMIT = anyio.CapacityLimiter(2)

router = APIRouter(prefix="/api/v1/tuning", tags=["tuning"], responses=AUTH)


class TuningAccepted(BaseModel):
    tuning_run_id: str
    task_id: str | None
    status: RunStatus
    status_url: str


class RunList(BaseModel):
    items: list[RunPublic]
    total: int
    limit: int
    offset: int


@router.post(
    "/tune",
    status_code=202,
    response_model=TuningAccepted,
    responses={
        **quota(429, "Over MAX_ACTIVE_RUNS_PER_USER or MAX_FITS_PER_RUN; nothing was stored"),
        **IDEMPOTENT,
    },
)
def start_tuning(
    run_in: TuningRunCreate,
    request: Request,
    runtime: RuntimeDep,
    user: UserDep,
    keyed: KeyedDep,
) -> Response:
    """Validate and queue a search; poll `status_url` for its progress."""

    def accepted(run: TuningRun) -> service.Answer:
        url = request.app.url_path_for("tuning_status", tuning_run_id=str(run.id))
        body = TuningAccepted(
            tuning_run_id=str(run.id), task_id=run.task_id, status=run.status, status_url=str(url)
        )
        return json_answer(body, 202)

    with session_scope(runtime.engine) as session:
        answer = service.submit_run_once(
            session=session,
            queue=runtime.queue,
            settings=runtime.settings,
            owner=user,
            run_in=run_in,
            request=keyed,
            answer=accepted,
        )
    return as_response(answer)


@router.get("/tune", response_model=RunList)
def list_tuning_runs(
    runtime: RuntimeDep,
    user: UserDep,
    status: RunStatus | None = None,
    estimator: str | None = None,
    dataset: str | None = None,
    tags: Annotated[
        str | None,
        Query(max_length=2000, description="Runs with any of these tags, separated by commas"),
    ] = None,
    archived: Annotated[
        bool, Query(description="true: the archived runs only (to restore one)")
    ] = False,
    shared: Annotated[
        Literal["with_me"] | None,
        Query(description="with_me: other users' runs shared with you, instead of yours"),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
) -> RunList:
    """Your runs (an admin's: everyone's), newest first; archived ones only when asked; with
    `shared=with_me`, the runs others shared with you (or with everyone)."""
    with session_scope(runtime.engine) as session:
        page = service.list_runs(
            session=session,
            viewer=user,
            statuses=[status] if status else [],
            estimators=[estimator] if estimator else [],
            datasets=[dataset] if dataset else [],
            tags=[tag for tag in (tags or "").split(",") if tag.strip()],
            archived=archived,
            shared_with_me=shared == "with_me",
            limit=limit,
            offset=offset,
        )
        items = [RunPublic.model_validate(run) for run in page.items]
        return RunList(items=items, total=page.total, limit=limit, offset=offset)


@router.get(
    "/tune/{tuning_run_id}/status",
    response_model=TuningStatus,
    name="tuning_status",
    responses=BY_ID,
)
async def tuning_status(tuning_run_id: str, runtime: RuntimeDep, token: TokenDep) -> Response:
    """The run's status: PENDING, PROGRESS, SUCCESS, FAILURE or REVOKED."""

    def read() -> TuningStatus:
        # One thread hop that opens, reads and closes: a connection is never held by a request
        # waiting for a thread, so many pollers cannot starve the pool.
        with session_scope(runtime.engine) as session:
            return service.get_status_for_token(
                session=session,
                queue=runtime.queue,
                run_id=tuning_run_id,
                token=token,
                settings=runtime.settings,
            )

    # Already a TuningStatus: serialised once here rather than validated again by FastAPI.
    status = await anyio.to_thread.run_sync(read, limiter=_POLL_LIMIT)
    return Response(status.to_json(), media_type="application/json")


@router.get(
    "/tune/{tuning_run_id}/results",
    response_model=RunResults,
    responses={**BY_ID, 200: {"content": {"text/csv": {}}}},
)
def tuning_results(
    tuning_run_id: str,
    runtime: RuntimeDep,
    user: UserDep,
    format: Literal["json", "csv"] = "json",
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
):
    """The run's configuration, its trials (paged; all of them with ?format=csv) and the best."""
    with session_scope(runtime.engine) as session:
        if format == "json":
            return service.get_results(
                session=session, run_id=tuning_run_id, viewer=user, limit=limit, offset=offset
            )
        results = service.run_trials(session=session, run_id=tuning_run_id, viewer=user)
    return PlainTextResponse(
        service.trials_csv(results.trials),
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="trials-{results.run.id}.csv"'},
    )


@router.patch("/tune/{tuning_run_id}", response_model=RunPublic, responses=BY_ID)
def change_tuning_run(
    tuning_run_id: str, change: RunChange, runtime: RuntimeDep, user: UserDep
) -> RunPublic:
    """Rename, retag, archive (`"archived": true`) or restore a run: only the fields sent
    change; a null name or tags clear them. Its owner and admins only."""
    with session_scope(runtime.engine) as session:
        run = service.change_run(session=session, run_id=tuning_run_id, viewer=user, change=change)
        return RunPublic.model_validate(run)


@router.delete(
    "/tune/{tuning_run_id}",
    status_code=204,
    responses={**BY_ID, 409: {"model": ErrorDetail, "description": "The run is still going"}},
)
def delete_tuning_run(tuning_run_id: str, runtime: RuntimeDep, user: UserDep) -> Response:
    """Delete a finished run with its trials, notes, training runs and models (a queued or
    running one: cancel it first). Runs refining it stay, unlinked. Owner and admins only."""
    with session_scope(runtime.engine) as session:
        service.delete_run(session=session, run_id=tuning_run_id, viewer=user)
    return Response(status_code=204)


@router.post("/tune/{tuning_run_id}/cancel", response_model=TuningStatus, responses=BY_ID)
def cancel_tuning(tuning_run_id: str, runtime: RuntimeDep, user: UserDep) -> Response:
    """Cancel: a queued run never starts; a running one stops after its current candidate and
    reports the best of what it stored. A cancel after the last candidate is stored changes
    nothing: the run ends SUCCESS. The answer is the run's status after the cancel."""
    with session_scope(runtime.engine) as session:
        run = service.cancel_run(
            session=session, queue=runtime.queue, run_id=tuning_run_id, viewer=user
        )
        status = service.get_status(session=session, queue=runtime.queue, run_id=run.id)
    return Response(status.to_json(), media_type="application/json")


class NotePublic(BaseModel):
    author: str
    text: str
    created_at: UtcDatetime


class NoteCreate(BaseModel):
    text: str = Field(min_length=1, max_length=service.NOTE_LIMIT)


@router.get("/tune/{tuning_run_id}/notes", response_model=list[NotePublic], responses=BY_ID)
def list_notes(tuning_run_id: str, runtime: RuntimeDep, user: UserDep) -> list[NotePublic]:
    """The run's notes, oldest first: who wrote what, when."""
    with session_scope(runtime.engine) as session:
        notes = service.list_notes(session=session, run_id=tuning_run_id, viewer=user)
    return [NotePublic(**vars(note)) for note in notes]


@router.post(
    "/tune/{tuning_run_id}/notes",
    status_code=201,
    response_model=NotePublic,
    responses={**BY_ID, **quota(429, "The run holds MAX_NOTES_PER_RUN notes")},
)
def add_note(
    tuning_run_id: str, note: NoteCreate, runtime: RuntimeDep, user: UserDep
) -> NotePublic:
    """Add a note to a run of yours, or one shared with you to contribute."""
    with session_scope(runtime.engine) as session:
        added = service.add_note(
            session=session,
            settings=runtime.settings,
            run_id=tuning_run_id,
            author=user,
            text=note.text,
        )
    return NotePublic(**vars(added))
