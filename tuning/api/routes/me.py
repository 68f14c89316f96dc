"""The signed-in user: their quotas, the limits and their use."""

from dataclasses import asdict

from fastapi import APIRouter
from pydantic import BaseModel, Field

from tuning import service
from tuning.api.deps import RuntimeDep, UserDep
from tuning.api.responses import AUTH
from tuning.db import session_scope

router = APIRouter(prefix="/api/v1/me", tags=["me"], responses=AUTH)


class UsagePublic(BaseModel):
    setting: str = Field(description="The setting (environment variable) that sets the limit")
    limit: int
    used: int | None = Field(description="Your use now; null for a limit per run or per note")


class QuotasPublic(BaseModel):
    exempt: bool = Field(description="true for an admin, held to none of these")
    active_runs: UsagePublic
    fits_per_run: UsagePublic
    upload_bytes: UsagePublic
    notes_per_run: UsagePublic
    note_chars: UsagePublic


@router.get("/quotas", response_model=QuotasPublic)
def my_quotas(runtime: RuntimeDep, user: UserDep) -> QuotasPublic:
    """Your limits and how much of each you use: active tuning runs, fits per run, bytes of
    stored uploads, notes per run and characters per note. Over one, a request is refused with
    429 (413 for upload bytes) naming the limit and the use."""
    with session_scope(runtime.engine) as session:
        quotas = service.user_quotas(session=session, settings=runtime.settings, user=user)
    return QuotasPublic.model_validate(asdict(quotas))
