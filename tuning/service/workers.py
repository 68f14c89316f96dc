"""Who is working: worker heartbeats in the database, and a lease for one-at-a-time jobs.

Heartbeats live in the database rather than in the broker, so a stalled Redis never makes a
live worker look dead, and any host can tell which workers are alive.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlmodel import Session, col, select

from tuning.db import insert_new
from tuning.domain import utcnow
from tuning.models import Lease, WorkerHeartbeat


@dataclass(frozen=True)
class LiveWorker:
    hostname: str
    concurrency: int
    last_seen: datetime


def beat(*, session: Session, hostname: str, pid: int, concurrency: int) -> None:
    """Say that `hostname` is alive now (and how many processes it runs)."""
    now = utcnow()
    found = session.execute(
        update(WorkerHeartbeat)
        .where(col(WorkerHeartbeat.hostname) == hostname)
        .values(pid=pid, concurrency=concurrency, last_seen=now)
    )
    if found.rowcount == 0:  # type: ignore[attr-defined]  # an UPDATE's CursorResult
        row = {"hostname": hostname, "pid": pid, "concurrency": concurrency}
        insert_new(session, WorkerHeartbeat, [{**row, "started_at": now, "last_seen": now}])
    session.commit()


def live_workers(*, session: Session, timeout_s: float) -> list[LiveWorker]:
    """The workers heard from within `timeout_s`, by name."""
    since = utcnow() - timedelta(seconds=timeout_s)
    rows = session.execute(
        select(WorkerHeartbeat.hostname, WorkerHeartbeat.concurrency, WorkerHeartbeat.last_seen)
        .where(col(WorkerHeartbeat.last_seen) >= since)
        .order_by(col(WorkerHeartbeat.hostname))
    ).all()
    return [LiveWorker(name, concurrency, seen) for name, concurrency, seen in rows]


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
