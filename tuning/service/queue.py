"""What the service layer needs from the task queue. The Celery adapter lives in tuning.worker."""

import uuid
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class TaskState:
    """A task's state as the result backend reports it."""

    state: str  # Celery's name: PENDING, STARTED, PROGRESS, RETRY, SUCCESS, FAILURE, REVOKED
    meta: dict[str, Any] | None = None
    error_type: str | None = None
    error_message: str | None = None


class TaskQueue(Protocol):
    def enqueue_tuning(self, run_id: uuid.UUID, *, task_id: str) -> None:
        """Hand the run to a worker; raise tuning.errors.Unavailable if the broker refuses."""

    def enqueue_training(self, training_run_id: uuid.UUID, *, task_id: str) -> None:
        """Hand a training run to a worker; raise Unavailable if the broker refuses."""

    def task_state(self, task_id: str) -> TaskState | None:
        """The task's live state, or None when the backend does not answer within its budget."""

    def revoke(self, task_id: str) -> None:
        """Ask workers to drop the task if it has not started (best effort)."""

    def ping_broker(self) -> None:
        """Raise if the broker does not answer."""

    def worker_names(self) -> list[str]:
        """The workers that answer a ping within a second."""
