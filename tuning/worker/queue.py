"""The TaskQueue of the service layer, on Celery."""

import contextlib
import time
import uuid
from functools import cached_property

import redis
from celery import Celery
from kombu.exceptions import OperationalError
from redis.backoff import NoBackoff
from redis.exceptions import RedisError
from redis.retry import Retry

from tuning.errors import Unavailable
from tuning.service.queue import TaskState
from tuning.worker.app import TRAIN_TASK, TUNE_TASK

# After a failed status read, how long status reads skip Redis and use the database.
REDIS_RETRY_AFTER_S = 2.0


class CeleryQueue:
    def __init__(self, app: Celery, *, timeout: float = 0.5) -> None:
        self.app = app
        self.timeout = timeout
        self._redis_down_until = 0.0

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
        """One GET of Celery's result key, within the time budget; None when Redis cannot answer."""
        backend = self.app.backend
        if time.monotonic() < self._redis_down_until:
            return None
        try:
            raw = self._status_client.get(backend.get_key_for_task(task_id))
        except (RedisError, OSError):
            # Answer from the database for a while rather than pay the timeout on every poll.
            self._redis_down_until = time.monotonic() + REDIS_RETRY_AFTER_S
            return None
        if raw is None:
            return TaskState("PENDING")  # what Celery says of a task it has no result for
        meta = backend.decode_result(raw)
        state, info = meta.get("status", "PENDING"), meta.get("result")
        if state == "FAILURE":
            exc = backend.exception_to_python(info) if info else None
            return TaskState(
                state,
                error_type=type(exc).__name__ if exc else None,
                error_message=str(exc) if exc else None,
            )
        return TaskState(state, meta=info if isinstance(info, dict) else None)

    @cached_property
    def _status_client(self) -> redis.Redis:
        # Celery's own connection settings, with its socket timeouts as the whole budget: no
        # retries, so a stopped or hung Redis costs one timeout, never a hang.
        params = dict(self.app.backend.connparams)
        params.update(
            socket_timeout=self.timeout, retry_on_timeout=False, retry=Retry(NoBackoff(), 0)
        )
        if "socket_connect_timeout" in params:
            params["socket_connect_timeout"] = self.timeout
        return redis.Redis(connection_pool=redis.ConnectionPool(**params))

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
