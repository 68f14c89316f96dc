"""Is each part reachable: the database, Redis, and at least one worker.

Every probe has a short budget and none waits on the broker for the workers: they say they
live in the database, so /healthz answers in about a second whatever Redis does.
"""

from collections.abc import Callable

from sqlalchemy import text
from sqlmodel import Session

from tuning.schemas import Check, Health
from tuning.service.execution.queue import TaskQueue
from tuning.service.operations.workers import live_workers


def check_health(*, session: Session, queue: TaskQueue, worker_timeout_s: float) -> Health:
    database = _check(lambda: session.connection().execute(text("SELECT 1")).one() and "reachable")
    redis = _check(_ping(queue))
    workers = _check(_workers(session, worker_timeout_s))
    return Health(
        ok=database.ok and redis.ok and workers.ok, database=database, redis=redis, workers=workers
    )


def _ping(queue: TaskQueue) -> Callable[[], str]:
    def ping() -> str:
        queue.ping_broker()
        return "reachable"

    return ping


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
    except Exception as exc:  # noqa: BLE001 - a health check reports every failure as such
        return Check(ok=False, detail=f"{type(exc).__name__}: {exc}")
