"""Reachability of the database, Redis and the workers."""

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from tuning import service
from tuning.api.deps import RuntimeDep
from tuning.db import session_scope
from tuning.schemas import Health

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health, responses={503: {"model": Health}})
def healthz(runtime: RuntimeDep):
    """200 when every part answers; 503 with the failing part named otherwise."""
    with session_scope(runtime.engine) as session:
        health = service.check_health(
            session=session,
            queue=runtime.queue,
            worker_timeout_s=runtime.settings.worker_timeout_s,
            settings=runtime.settings,
        )
        return JSONResponse(health.model_dump(), status_code=200 if health.ok else 503)
