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
    """Every send answers within its budget or raises tuning.errors.Unavailable: the database
    row is the source of truth, and the reconciler sends what did not go."""

    def enqueue_chunk(self, run_id: uuid.UUID, index: int, *, task_id: str) -> None:
        """Hand chunk `index` of a tuning run to a worker."""

    def enqueue_training(self, training_run_id: uuid.UUID, *, task_id: str) -> None:
        """Hand a training run to a worker."""

    def task_state(self, task_id: str) -> TaskState | None:
        """The task's live state, or None when the backend does not answer within its budget."""

    def report_progress(self, task_id: str, meta: dict[str, Any]) -> None:
        """Best effort: publish a run's live progress; a broker that does not answer is skipped."""

    def report_stalled(self, reason: str, ttl_s: float) -> None:
        """Best effort: say for `ttl_s` seconds why workers cannot store their work."""

    def stalled(self) -> str | None:
        """What a worker last said stops it storing its work, within its ttl; None if nothing
        (or the broker does not answer within its budget)."""

    def revoke(self, task_id: str) -> None:
        """Ask workers to drop the task if it has not started (best effort)."""

    def ping_broker(self) -> None:
        """Raise if the broker does not answer within the budget."""
