"""Sharing a tuning run or an upload with a user (by name) or with `everyone`, and withdrawing
it: its owner and admins only. What each level allows is in the README."""

from typing import Literal

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field

from tuning import service
from tuning.api.deps import RuntimeDep, UserDep
from tuning.api.responses import AUTH, BY_ID, ErrorDetail, Responses
from tuning.db import session_scope
from tuning.schemas import UtcDatetime

router = APIRouter(prefix="/api/v1", tags=["sharing"], responses=AUTH)

SHARES: Responses = {
    **BY_ID,
    403: {"model": ErrorDetail, "description": "Another user's, or shared with you only"},
    404: {"model": ErrorDetail, "description": "No such run, dataset, user or share"},
}
USER = "A user's name, or `everyone` for every signed-in user"


class SharePublic(BaseModel):
    user: str = Field(description=USER)
    level: str
    created_at: UtcDatetime
    created_by: str


class RunShareChange(BaseModel):
    level: Literal["read", "contribute"] = Field(
        default="read",
        description="read: its results, trials, notes and status; contribute: also add notes "
        "and train models from it",
    )


class DatasetShareChange(BaseModel):
    level: Literal["use", "download"] = Field(
        default="use", description="use: tune and train on it; download: also download its file"
    )


@router.get(
    "/tuning/tune/{tuning_run_id}/shares", response_model=list[SharePublic], responses=SHARES
)
def run_shares(tuning_run_id: str, runtime: RuntimeDep, user: UserDep) -> list[SharePublic]:
    """Whom the run is shared with (its owner and admins)."""
    with session_scope(runtime.engine) as session:
        shares = service.run_shares(session=session, run_id=tuning_run_id, viewer=user)
    return [SharePublic(**vars(share)) for share in shares]


@router.put(
    "/tuning/tune/{tuning_run_id}/shares/{user_name}",
    response_model=SharePublic,
    responses=SHARES,
)
def share_run(
    tuning_run_id: str,
    user_name: str,
    change: RunShareChange,
    runtime: RuntimeDep,
    user: UserDep,
) -> SharePublic:
    """Share the run with a user, or `everyone`; again, to change the level."""
    with session_scope(runtime.engine) as session:
        share = service.share_run(
            session=session, run_id=tuning_run_id, user=user_name, level=change.level, by=user
        )
    return SharePublic(**vars(share))


@router.delete("/tuning/tune/{tuning_run_id}/shares/{user_name}", status_code=204, responses=SHARES)
def unshare_run(tuning_run_id: str, user_name: str, runtime: RuntimeDep, user: UserDep) -> Response:
    """Withdraw the run's share with a user, or with `everyone`."""
    with session_scope(runtime.engine) as session:
        service.unshare_run(session=session, run_id=tuning_run_id, user=user_name, by=user)
    return Response(status_code=204)


@router.get("/datasets/{dataset_id}/shares", response_model=list[SharePublic], responses=SHARES)
def dataset_shares(dataset_id: str, runtime: RuntimeDep, user: UserDep) -> list[SharePublic]:
    """Whom the upload is shared with (its owner and admins)."""
    with session_scope(runtime.engine) as session:
        shares = service.dataset_shares(session=session, dataset_id=dataset_id, viewer=user)
    return [SharePublic(**vars(share)) for share in shares]


@router.put(
    "/datasets/{dataset_id}/shares/{user_name}", response_model=SharePublic, responses=SHARES
)
def share_dataset(
    dataset_id: str,
    user_name: str,
    change: DatasetShareChange,
    runtime: RuntimeDep,
    user: UserDep,
) -> SharePublic:
    """Share the upload with a user, or `everyone`: they may tune on it (and, at `download`,
    download it)."""
    with session_scope(runtime.engine) as session:
        share = service.share_dataset(
            session=session, dataset_id=dataset_id, user=user_name, level=change.level, by=user
        )
    return SharePublic(**vars(share))


@router.delete("/datasets/{dataset_id}/shares/{user_name}", status_code=204, responses=SHARES)
def unshare_dataset(
    dataset_id: str, user_name: str, runtime: RuntimeDep, user: UserDep
) -> Response:
    """Withdraw the upload's share; runs already tuned on it keep working."""
    with session_scope(runtime.engine) as session:
        service.unshare_dataset(session=session, dataset_id=dataset_id, user=user_name, by=user)
    return Response(status_code=204)
