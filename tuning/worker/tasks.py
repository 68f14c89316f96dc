"""Celery tasks: take an id, re-read the row, call the service layer. Nothing else."""

import os
import socket
import uuid

from celery import Task, shared_task
from sqlalchemy import Engine

from tuning.config import Settings
from tuning.db import create_db_engine
from tuning.schemas import Progress
from tuning.service.execution import execute_run
from tuning.service.training import execute_training
from tuning.worker.app import TRAIN_TASK, TUNE_TASK

_engines: dict[tuple[int, str], Engine] = {}


def engine_for(settings: Settings) -> Engine:
    """One engine per process: a forked pool child never reuses its parent's connections."""
    key = (os.getpid(), settings.sqlalchemy_url)
    if key not in _engines:
        _engines[key] = create_db_engine(settings)
    return _engines[key]


@shared_task(bind=True, name=TUNE_TASK, store_errors_even_if_ignored=True)
def run_tuning(self: Task, run_id: str) -> str | None:
    """Execute one tuning run; safe to deliver twice (it resumes from stored trials)."""

    def report(progress: Progress) -> None:
        self.update_state(state="PROGRESS", meta=progress.model_dump())

    status = execute_run(
        engine=engine_for(self.app.tuning_settings),
        run_id=uuid.UUID(run_id),
        report=report,
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
