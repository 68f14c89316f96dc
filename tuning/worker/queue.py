"""The TaskQueue of the service layer, on Celery."""

import contextlib
import uuid
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout

from celery import Celery
from celery.result import AsyncResult
from kombu.exceptions import OperationalError
from redis.exceptions import RedisError

from tuning.errors import Unavailable
from tuning.service.queue import TaskState
from tuning.worker.app import TRAIN_TASK, TUNE_TASK

# One shared thread bounds every result-backend read by a deadline, whatever Redis does.
_reader = ThreadPoolExecutor(max_workers=4, thread_name_prefix="celery-status")


class CeleryQueue:
    def __init__(self, app: Celery, *, timeout: float = 0.5) -> None:
        self.app = app
        self.timeout = timeout

    def enqueue_tuning(self, run_id: uuid.UUID, *, task_id: str) -> None:
        self._send(TUNE_TASK, run_id, task_id)

    def enqueue_training(self, training_run_id: uuid.UUID, *, task_id: str) -> None:
        self._send(TRAIN_TASK, training_run_id, task_id)

    def _send(self, task: str, run_id: uuid.UUID, task_id: str) -> None:
        # ignore_result: the sender never waits on the result, so it must not subscribe to it
        # (that would grow a pubsub subscription per submission in a long-lived API process).
        # Progress and errors still reach the backend: see tuning.worker.tasks.
        try:
            self.app.send_task(
                task, args=[str(run_id)], task_id=task_id, retry=False, ignore_result=True
            )
        except (OperationalError, RedisError, OSError) as exc:
            raise Unavailable(f"the task broker is unreachable: {exc}") from exc

    def task_state(self, task_id: str) -> TaskState | None:
        future = _reader.submit(self._read_state, task_id)
        try:
            return future.result(timeout=self.timeout)
        except FutureTimeout:
            return None
        except Exception:  # noqa: BLE001 - any backend trouble means "ask the database"
            return None

    def _read_state(self, task_id: str) -> TaskState:
        result = AsyncResult(task_id, app=self.app)
        meta = result.backend.get_task_meta(task_id)
        state = meta.get("status", "PENDING")
        info = meta.get("result")
        if state == "FAILURE":
            exc = result.backend.exception_to_python(info) if info else None
            return TaskState(
                state,
                error_type=type(exc).__name__ if exc else None,
                error_message=str(exc) if exc else None,
            )
        return TaskState(state, meta=info if isinstance(info, dict) else None)

    def revoke(self, task_id: str) -> None:
        # Best effort: the database already says REVOKED, and workers check it.
        with contextlib.suppress(Exception):
            self.app.control.revoke(task_id)

    def ping_broker(self) -> None:
        with self.app.connection_for_write() as connection:
            connection.ensure_connection(max_retries=1, timeout=self.timeout)

    def worker_names(self) -> list[str]:
        replies = self.app.control.ping(timeout=1.0) or []
        return [name for reply in replies for name in reply]
