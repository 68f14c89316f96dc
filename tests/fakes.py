"""In process, no broker and no worker: a task queue that records what the service layer sends,
and a migrated SQLite file of a test's own. The fast tier tests chunk planning, stopping,
endings and the reconciler with these; the `stack` tier proves the same on real processes."""

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session

from tuning.config import Settings
from tuning.errors import Unavailable
from tuning.models import TuningRun, User
from tuning.schemas import TuningRunCreate
from tuning.service import create_user, execute_chunk, submit_run
from tuning.service.execution.queue import TaskState


@dataclass(frozen=True)
class Sent:
    """A chunk handed to the queue."""

    run_id: uuid.UUID
    index: int
    task_id: str


@dataclass
class RecordingQueue:
    """A `TaskQueue` that keeps every send in order. `refuse_from = n` makes it refuse every
    chunk after the first n, as a broker that stopped answering; `run_sent` runs the chunks in
    process through `execute_chunk`, the function a worker's task calls."""

    chunks: list[Sent] = field(default_factory=list)
    trainings: list[tuple[uuid.UUID, str]] = field(default_factory=list)
    progress: dict[str, dict[str, Any]] = field(default_factory=dict)
    revoked: list[str] = field(default_factory=list)
    refuse_from: int | None = None
    n_run: int = 0  # chunks run by run_sent so far
    stalled_until: tuple[str, float] | None = None  # a worker's report and when it ends

    def enqueue_chunk(self, run_id: uuid.UUID, index: int, *, task_id: str) -> None:
        if self.refuse_from is not None and len(self.chunks) >= self.refuse_from:
            raise Unavailable("the recording queue refuses, as asked")
        self.chunks.append(Sent(run_id, index, task_id))

    def enqueue_training(self, training_run_id: uuid.UUID, *, task_id: str) -> None:
        self.trainings.append((training_run_id, task_id))

    def task_state(self, task_id: str) -> TaskState | None:
        return None  # as a backend that does not answer: reads fall back to the database

    def report_progress(self, task_id: str, meta: dict[str, Any]) -> None:
        self.progress[task_id] = meta

    def report_stalled(self, reason: str, ttl_s: float) -> None:
        self.stalled_until = (reason, time.monotonic() + ttl_s)

    def stalled(self) -> str | None:
        reason, until = self.stalled_until or ("", 0.0)
        return reason if time.monotonic() < until else None

    def revoke(self, task_id: str) -> None:
        self.revoked.append(task_id)

    def ping_broker(self) -> None:
        if self.refuse_from is not None:
            raise Unavailable("the recording queue refuses, as asked")

    def sent(self, run_id: uuid.UUID) -> list[int]:
        """The chunk indexes sent for `run_id`, in order."""
        return [sent.index for sent in self.chunks if sent.run_id == run_id]

    def run_sent(self, *, engine: Engine, settings: Settings, worker: str = "inline@test") -> int:
        """Run every chunk sent and not run yet, oldest first, those sent meanwhile too, one
        at a time as a single worker process would; how many ran."""
        start = self.n_run
        while self.n_run < len(self.chunks):
            sent = self.chunks[self.n_run]
            self.n_run += 1
            execute_chunk(
                engine=engine,
                queue=self,
                settings=settings,
                run_id=sent.run_id,
                index=sent.index,
                worker=worker,
            )
        return self.n_run - start


@dataclass
class InProcess:
    """What a transport would hold (settings, engine, queue), for a test run in process."""

    settings: Settings
    engine: Engine
    queue: RecordingQueue

    @contextmanager
    def session(self) -> Iterator[Session]:
        with Session(self.engine, expire_on_commit=False) as session:
            yield session

    def user(self, name: str | None = None) -> User:
        with self.session() as session:
            return create_user(session=session, name=name or f"u-{uuid.uuid4().hex[:8]}")[0]

    def submit(self, **fields: Any) -> TuningRun:
        """A run of a new user, stored and its chunk 0 sent, as every transport submits."""
        owner = self.user()
        with self.session() as session:
            return submit_run(
                session=session,
                queue=self.queue,
                settings=self.settings,
                owner=owner,
                run_in=TuningRunCreate(**fields),
            )

    def run_sent(self) -> int:
        return self.queue.run_sent(engine=self.engine, settings=self.settings)
