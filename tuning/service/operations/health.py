"""Is each part reachable: the database, Redis, and at least one worker.

Every probe has a short budget and none waits on the broker for the workers: they say they
live in the database, so /healthz answers in about a second whatever Redis does.
"""

from collections.abc import Callable

from sqlalchemy import text
from sqlmodel import Session

from tuning.config import Settings
from tuning.errors import StorageUnwritable
from tuning.schemas import Check, Health
from tuning.service.execution.queue import TaskQueue
from tuning.service.operations.workers import live_workers
from tuning.storage import Place, local_storage, redis_error


def check_health(
    *,
    session: Session,
    queue: TaskQueue,
    worker_timeout_s: float,
    settings: Settings | None = None,
) -> Health:
    """With `settings`, a database or Redis whose disk here is full or read-only is not ok
    either, and says so (a statvfs each)."""
    places = local_storage(settings) if settings is not None else []
    database = _check(_select(session, [p for p in places if p.kind == "database"]))
    redis = _check(_ping(queue, settings, [p for p in places if p.kind == "redis"]))
    workers = _check(_workers(session, worker_timeout_s))
    return Health(
        ok=database.ok and redis.ok and workers.ok, database=database, redis=redis, workers=workers
    )


def _select(session: Session, places: list[Place]) -> Callable[[], str]:
    def select() -> str:
        session.connection().execute(text("SELECT 1")).one()
        _writable(places)
        return "reachable"

    return select


def _ping(queue: TaskQueue, settings: Settings | None, places: list[Place]) -> Callable[[], str]:
    def ping() -> str:
        try:
            queue.ping_broker()  # Redis refuses PING too while it cannot save: MISCONF
        except Exception as exc:
            unwritable = redis_error(exc, url=settings.broker_url if settings else "")
            if unwritable is None:
                raise
            raise unwritable from exc
        _writable(places)
        return "reachable"

    return ping


def _writable(places: list[Place]) -> None:
    for place in places:
        if found := place.problem():
            raise found


def _workers(session: Session, timeout_s: float) -> Callable[[], str]:
    def count() -> str:
        workers = live_workers(session=session, timeout_s=timeout_s)
        if not workers:
            raise RuntimeError(
                f"no worker heard from in {timeout_s:g} s; start one with `python -m tuning worker`"
            )
        processes = sum(worker.concurrency for worker in workers)
        names = ", ".join(worker.hostname for worker in workers)
        return f"{len(workers)} alive ({processes} processes): {names}"

    return count


def _check(probe: Callable[[], object]) -> Check:
    try:
        return Check(ok=True, detail=str(probe()))
    except StorageUnwritable as exc:  # its words name the storage and the cause
        return Check(ok=False, detail=str(exc))
    except Exception as exc:  # noqa: BLE001 - a health check reports every failure as such
        return Check(ok=False, detail=f"{type(exc).__name__}: {exc}")
