"""Is each part reachable: the database, Redis, and at least one worker."""

from collections.abc import Callable

from sqlalchemy import text
from sqlmodel import Session

from tuning.schemas import Check, Health
from tuning.service.queue import TaskQueue


def check_health(*, session: Session, queue: TaskQueue) -> Health:
    database = _check(lambda: session.connection().execute(text("SELECT 1")).one() and "reachable")
    redis = _check(_ping(queue))
    workers = _check(_workers(queue))
    return Health(
        ok=database.ok and redis.ok and workers.ok, database=database, redis=redis, workers=workers
    )


def _ping(queue: TaskQueue) -> Callable[[], str]:
    def ping() -> str:
        queue.ping_broker()
        return "reachable"

    return ping


def _workers(queue: TaskQueue) -> Callable[[], str]:
    def count() -> str:
        names = queue.worker_names()
        if not names:
            raise RuntimeError("no worker answered; start one with `python -m tuning worker`")
        return f"{len(names)} answering: {', '.join(sorted(names))}"

    return count


def _check(probe: Callable[[], object]) -> Check:
    try:
        return Check(ok=True, detail=str(probe()))
    except Exception as exc:  # noqa: BLE001 - a health check reports every failure as such
        return Check(ok=False, detail=f"{type(exc).__name__}: {exc}")
