"""The Workers page: the live workers by host, what each runs, how busy each was over the last
hour, and the pool's share by user. Admins see every run and user; an analyst sees their own
runs by name and everyone else's as "other users"."""

import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlmodel import Session, col

from tuning.config import Settings
from tuning.domain import ACTIVE, as_utc, utcnow
from tuning.models import UNFINISHED_CHUNK, Chunk, Dataset, TuningRun, User
from tuning.service.operations.workers import LiveWorker, live_workers

UTILISATION_OVER = timedelta(hours=1)
OTHERS = "other users"


@dataclass(frozen=True)
class WorkOnWorker:
    """A chunk running on a worker: its run, if the viewer may see it."""

    run_id: uuid.UUID | None  # None: another user's run
    label: str
    owner: str
    chunk: int
    since: datetime


@dataclass(frozen=True)
class WorkerView:
    hostname: str
    host: str  # the machine: a Celery hostname is name@host
    processes: int
    started_at: datetime
    last_seen: datetime
    running: list[WorkOnWorker]
    utilisation: float  # busy process time over the last hour (or since it started), 0 to 1


@dataclass(frozen=True)
class UserShare:
    """One user's part of the pool now: runs active, chunks running and waiting their turn."""

    user: str
    active_runs: int
    running: int
    waiting: int


@dataclass(frozen=True)
class WorkersOverview:
    workers: list[WorkerView]
    shares: list[UserShare]

    @property
    def processes(self) -> int:
        return sum(worker.processes for worker in self.workers)


def workers_overview(*, session: Session, settings: Settings, viewer: User) -> WorkersOverview:
    """The live workers and the pool's share by user, as `viewer` may see them."""
    live = live_workers(session=session, timeout_s=settings.worker_timeout_s)
    busy = _busy_seconds(session, live)
    running = _running(session, viewer)
    workers = [
        WorkerView(
            hostname=worker.hostname,
            host=worker.hostname.rpartition("@")[2],
            processes=worker.concurrency,
            started_at=worker.started_at,
            last_seen=worker.last_seen,
            running=running.get(worker.hostname, []),
            utilisation=_utilisation(worker, busy.get(worker.hostname, 0.0)),
        )
        for worker in live
    ]
    return WorkersOverview(workers=workers, shares=_shares(session, viewer))


def _utilisation(worker: LiveWorker, busy_s: float) -> float:
    window = min(UTILISATION_OVER, utcnow() - worker.started_at).total_seconds()
    if window <= 0:
        return 0.0
    return min(1.0, busy_s / (worker.concurrency * window))


def _busy_seconds(session: Session, live: list[LiveWorker]) -> dict[str, float]:
    """Seconds of chunk work per worker within the window, running chunks up to now."""
    now = utcnow()
    since = now - UTILISATION_OVER
    rows = session.execute(
        select(col(Chunk.worker), col(Chunk.started_at), col(Chunk.finished_at), col(Chunk.state))
        .where(col(Chunk.worker).in_([worker.hostname for worker in live]))
        .where((col(Chunk.finished_at) >= since) | (col(Chunk.state) == "running"))
    ).all()
    busy: dict[str, float] = defaultdict(float)
    for worker, started, finished, state in rows:
        if started is None:
            continue
        end = now if state == "running" else as_utc(finished) or now
        busy[worker] += max(0.0, (end - max(as_utc(started), since)).total_seconds())
    return busy


def _running(session: Session, viewer: User) -> dict[str, list[WorkOnWorker]]:
    rows = session.execute(
        select(
            col(Chunk.worker),
            col(Chunk.index),
            col(Chunk.started_at),
            col(TuningRun.id),
            col(TuningRun.owner_id),
            col(TuningRun.name),
            col(TuningRun.estimator),
            col(Dataset.name),
            col(User.name),
        )
        .join(TuningRun, col(TuningRun.id) == Chunk.run_id)
        .join(Dataset, col(Dataset.id) == TuningRun.dataset_id)
        .join(User, col(User.id) == TuningRun.owner_id)
        .where(col(Chunk.state) == "running", col(TuningRun.status).in_(list(ACTIVE)))
        .order_by(col(Chunk.started_at))
    ).all()
    by_worker: dict[str, list[WorkOnWorker]] = defaultdict(list)
    for worker, index, started, run_id, owner_id, name, estimator, dataset, owner in rows:
        visible = viewer.is_admin or owner_id == viewer.id
        by_worker[worker or ""].append(
            WorkOnWorker(
                run_id=run_id if visible else None,
                label=(name or f"{estimator} on {dataset}") if visible else "another user's run",
                owner=owner if visible else OTHERS,
                chunk=index,
                since=as_utc(started) or utcnow(),
            )
        )
    return by_worker


def _shares(session: Session, viewer: User) -> list[UserShare]:
    """Active runs and their chunks by user; an analyst's view folds the others into one."""
    rows = session.execute(
        select(
            col(User.id),
            col(User.name),
            func.count(func.distinct(col(TuningRun.id))),
            func.count(col(Chunk.id)).filter(col(Chunk.state) == "running"),
            func.count(col(Chunk.id)).filter(col(Chunk.state) == "queued"),
        )
        .join(TuningRun, col(TuningRun.owner_id) == User.id)
        .outerjoin(
            Chunk, (col(Chunk.run_id) == TuningRun.id) & col(Chunk.state).in_(UNFINISHED_CHUNK)
        )
        .where(col(TuningRun.status).in_(list(ACTIVE)))
        .group_by(col(User.id), col(User.name))
        .order_by(col(User.name))
    ).all()
    own: list[UserShare] = []
    others: list[UserShare] = []
    for user_id, name, runs, running, waiting in rows:
        mine = viewer.is_admin or user_id == viewer.id
        (own if mine else others).append(UserShare(name, runs, running, waiting))
    if others:
        own.append(
            UserShare(
                OTHERS,
                sum(s.active_runs for s in others),
                sum(s.running for s in others),
                sum(s.waiting for s in others),
            )
        )
    return own
