"""Celery tasks: take an id, call the service layer. Nothing else."""

import os
import socket
import uuid

from celery import Celery, Task, shared_task
from sqlalchemy import Engine

from tuning.config import Settings
from tuning.db import create_db_engine
from tuning.service.execution import execute_chunk
from tuning.service.training import execute_training
from tuning.worker import (
    housekeeping,  # noqa: F401  # connects the heartbeat and reconciler
    threads,  # noqa: F401  # one native thread per pool process
)
from tuning.worker.app import TRAIN_TASK, TUNE_TASK
from tuning.worker.queue import CeleryQueue

_engines: dict[tuple[int, str], Engine] = {}
_queues: dict[tuple[int, int], CeleryQueue] = {}


def engine_for(settings: Settings) -> Engine:
    """One engine per process: a forked pool child never reuses its parent's connections."""
    key = (os.getpid(), settings.sqlalchemy_url)
    if key not in _engines:
        _engines[key] = create_db_engine(settings)
    return _engines[key]


def queue_for(app: Celery) -> CeleryQueue:
    """The service's TaskQueue on this app, one per process."""
    key = (os.getpid(), id(app))
    if key not in _queues:
        settings: Settings = app.tuning_settings
        _queues[key] = CeleryQueue(
            app, timeout=settings.status_timeout_s, send_timeout=settings.send_timeout_s
        )
    return _queues[key]


@shared_task(bind=True, name=TUNE_TASK, store_errors_even_if_ignored=True)
def run_chunk(self: Task, run_id: str, index: int = 0) -> str | None:
    """Evaluate one chunk of a run's candidates; safe to deliver twice (stored ones are skipped)."""
    status = execute_chunk(
        engine=engine_for(self.app.tuning_settings),
        queue=queue_for(self.app),
        settings=self.app.tuning_settings,
        run_id=uuid.UUID(run_id),
        index=index,
        worker=self.request.hostname or socket.gethostname(),
    )
    return status.value if status else None


@shared_task(bind=True, name=TRAIN_TASK, store_errors_even_if_ignored=True)
def train_model(self: Task, training_run_id: str) -> str | None:
    """Fit a final model; a second delivery of a finished run does nothing."""
    status = execute_training(
        engine=engine_for(self.app.tuning_settings), training_run_id=uuid.UUID(training_run_id)
    )
    return status.value if status else None
