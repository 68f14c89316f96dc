"""Celery tasks: take an id, call the service layer. Nothing else."""

import socket
import uuid

from celery import Task, shared_task

from tuning.service import execute_chunk, execute_training
from tuning.worker import (
    housekeeping,  # noqa: F401  # connects the heartbeat and reconciler
    threads,  # noqa: F401  # one native thread per pool process
)
from tuning.worker.app import TRAIN_TASK, TUNE_TASK
from tuning.worker.process import runtime_for


@shared_task(bind=True, name=TUNE_TASK, store_errors_even_if_ignored=True)
def run_chunk(self: Task, run_id: str, index: int = 0) -> str | None:
    """Evaluate one chunk of a run's candidates; safe to deliver twice (stored ones are skipped)."""
    runtime = runtime_for(self.app)
    status = execute_chunk(
        engine=runtime.engine,
        queue=runtime.queue,
        settings=runtime.settings,
        run_id=uuid.UUID(run_id),
        index=index,
        worker=self.request.hostname or socket.gethostname(),
    )
    return status.value if status else None


@shared_task(bind=True, name=TRAIN_TASK, store_errors_even_if_ignored=True)
def train_model(self: Task, training_run_id: str) -> str | None:
    """Fit a final model; a second delivery of a finished run does nothing."""
    status = execute_training(
        engine=runtime_for(self.app).engine, training_run_id=uuid.UUID(training_run_id)
    )
    return status.value if status else None
