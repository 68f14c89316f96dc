"""The TaskQueue of the service layer, on Celery."""

import contextlib
import logging
import time
import uuid
from concurrent.futures import ThreadPoolExecutor, TimeoutError
from functools import cached_property
from typing import Any

import redis
from celery import Celery
from kombu.exceptions import OperationalError
from redis.backoff import NoBackoff
from redis.exceptions import RedisError
from redis.retry import Retry

from tuning.errors import Unavailable
from tuning.service import TaskState
from tuning.storage import redis_error
from tuning.worker.app import TRAIN_TASK, TUNE_TASK

log = logging.getLogger(__name__)

# After a failed status read, how long status reads skip Redis and use the database.
REDIS_RETRY_AFTER_S = 2.0
# Where a worker says why it cannot store its work (its words, with a time to live).
STALLED_KEY = "tuning:stalled"


class CeleryQueue:
    def __init__(
        self, app: Celery, *, timeout: float = 0.5, send_timeout: float = 1.5, expires_s: int = 0
    ) -> None:
        self.app = app
        self.timeout = timeout
        self.send_timeout = send_timeout
        expires = app.conf.result_expires
        seconds = expires.total_seconds() if hasattr(expires, "total_seconds") else expires
        self.expires_s = expires_s or int(seconds or 86400)
        self._redis_down_until = 0.0
        # Sends run here so that a caller waits `send_timeout` at most, whatever Redis does.
        self._senders = ThreadPoolExecutor(max_workers=4, thread_name_prefix="celery-send")

    def enqueue_chunk(self, run_id: uuid.UUID, index: int, *, task_id: str) -> None:
        self._send(TUNE_TASK, [str(run_id), index], task_id)

    def enqueue_training(self, training_run_id: uuid.UUID, *, task_id: str) -> None:
        self._send(TRAIN_TASK, [str(training_run_id)], task_id)

    def _send(self, task: str, args: list[object], task_id: str) -> None:
        # ignore_result: the sender never waits on the result, so it must not subscribe to it
        # (that would grow a pubsub subscription per submission in a long-lived API process).
        sent = self._senders.submit(
            self.app.send_task, task, args=args, task_id=task_id, retry=False, ignore_result=True
        )
        try:
            sent.result(timeout=self.send_timeout)
        except TimeoutError as exc:
            # The send may still go through later; the reconciler may send it too, and a second
            # delivery of the same work stores nothing twice.
            raise Unavailable(
                f"the task broker did not answer within {self.send_timeout:g} s"
            ) from exc
        except (OperationalError, RedisError, OSError) as exc:
            # Unavailable either way (the run waits in the outbox), in words when Redis is full.
            unwritable = redis_error(exc, url=self.app.conf.broker_url or "")
            raise unwritable or Unavailable(f"the task broker is unreachable: {exc}") from exc

    def report_progress(self, task_id: str, meta: dict[str, Any]) -> None:
        """One SET of Celery's result key in its own format, within the budget, or nothing."""
        backend = self.app.backend
        value = backend.encode(
            {
                "status": "PROGRESS",
                "result": meta,
                "traceback": None,
                "children": [],
                "date_done": None,
                "task_id": task_id,
            }
        )
        try:
            self._status_client.set(backend.get_key_for_task(task_id), value, ex=self.expires_s)
        except (RedisError, OSError) as exc:
            said = redis_error(exc, url=self.app.conf.broker_url or "") or exc
            log.warning("progress of task %s not published: %s", task_id, said)

    def report_stalled(self, reason: str, ttl_s: float) -> None:
        # When Redis takes no writes either, the readers' own look at the disks says why.
        with contextlib.suppress(RedisError, OSError):
            self._status_client.set(STALLED_KEY, reason.encode(), px=max(1, int(ttl_s * 1000)))

    def stalled(self) -> str | None:
        if time.monotonic() < self._redis_down_until:
            return None
        try:
            said = self._status_client.get(STALLED_KEY)
        except (RedisError, OSError):
            self._redis_down_until = time.monotonic() + REDIS_RETRY_AFTER_S
            return None
        if isinstance(said, bytes):
            return said.decode(errors="replace")
        return said or None

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
        self._status_client.ping()
