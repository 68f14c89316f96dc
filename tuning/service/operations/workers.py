"""Who is working: worker heartbeats in the database, and a lease for one-at-a-time jobs.

Heartbeats live in the database rather than in the broker, so a stalled Redis never makes a
live worker look dead, and any host can tell which workers are alive.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlmodel import Session, col, select

from tuning.config import Settings
from tuning.db import insert_new
from tuning.domain import as_utc, utcnow
from tuning.models import Lease, WorkerHeartbeat


@dataclass(frozen=True)
class LiveWorker:
    hostname: str
    concurrency: int
    started_at: datetime  # of this worker process: a restart under the same name is a new one
    last_seen: datetime


def beat(
    *, session: Session, hostname: str, pid: int, concurrency: int, started_at: datetime
) -> None:
    """Say that the worker `hostname`, started at `started_at`, is alive now."""
    values = {"pid": pid, "concurrency": concurrency, "started_at": started_at}
    found = session.execute(
        update(WorkerHeartbeat)
        .where(col(WorkerHeartbeat.hostname) == hostname)
        .values(last_seen=utcnow(), **values)
    )
    if found.rowcount == 0:  # type: ignore[attr-defined]  # an UPDATE's CursorResult
        row = {"hostname": hostname, "last_seen": utcnow(), **values}
        insert_new(session, WorkerHeartbeat, [row])
    session.commit()


def live_workers(*, session: Session, timeout_s: float) -> list[LiveWorker]:
    """The workers heard from within `timeout_s`, by name."""
    since = utcnow() - timedelta(seconds=timeout_s)
    rows = session.exec(
        select(WorkerHeartbeat)
        .where(col(WorkerHeartbeat.last_seen) >= since)
        .order_by(col(WorkerHeartbeat.hostname))
    ).all()
    return [
        LiveWorker(row.hostname, row.concurrency, as_utc(row.started_at), as_utc(row.last_seen))
        for row in rows
    ]


def live_processes(*, session: Session, settings: Settings) -> int:
    """Worker processes that sent a heartbeat within the timeout, over every host."""
    live = live_workers(session=session, timeout_s=settings.worker_timeout_s)
    return sum(worker.concurrency for worker in live)


def take_lease(*, session: Session, name: str, holder: str, ttl_s: float) -> bool:
    """Hold the lease `name` for `ttl_s` more seconds if it is free, expired or already ours."""
    now = utcnow()
    expires = now + timedelta(seconds=ttl_s)
    insert_new(session, Lease, [{"name": name, "holder": holder, "expires_at": expires}])
    taken = session.execute(
        update(Lease)
        .where(
            col(Lease.name) == name,
            (col(Lease.holder) == holder) | (col(Lease.expires_at) < now),
        )
        .values(holder=holder, expires_at=expires)
    )
    session.commit()
    return taken.rowcount == 1  # type: ignore[attr-defined]  # an UPDATE's CursorResult
