"""Can work be stored now: what stops it, for a check before a write and for a stalled run.

Nothing here writes, so a status read stays as cheap with a full disk as without one: the
local storage (the SQLite file's folder, the embedded Redis's data directory) is one statvfs
each, and what a worker met elsewhere (a full PostgreSQL server, say) it reported into Redis,
one GET. The answer is kept `CACHE_S` per process, so many pollers cost one look.
"""

import time

from tuning.config import Settings
from tuning.errors import StorageUnwritable
from tuning.service.execution.queue import TaskQueue
from tuning.storage import local_problem

CACHE_S = 2.0
# How long a worker's report of a stall holds unless said again: a few heartbeats.
REPORT_TTL_HEARTBEATS = 2

_cache: dict[tuple[str, str, str | None], tuple[float, str | None]] = {}


def stalled_reason(*, settings: Settings, queue: TaskQueue) -> str | None:
    """Why work cannot be stored now, in words; None when nothing stops it."""
    key = (str(settings.data_dir), settings.sqlalchemy_url, settings.redis_url)
    now = time.monotonic()
    cached = _cache.get(key)
    if cached is not None and cached[0] > now:
        return cached[1]
    problem = local_problem(settings)
    reason = str(problem) if problem is not None else queue.stalled()
    _cache[key] = (now + CACHE_S, reason)
    return reason


def require_writable(*, settings: Settings) -> None:
    """Raise `StorageUnwritable` before a write that the local storage cannot take: a
    submission is refused rather than stored half, or accepted and left waiting unsaid."""
    problem = local_problem(settings)
    if problem is not None:
        raise problem


def report_stalled(*, settings: Settings, queue: TaskQueue, error: StorageUnwritable) -> None:
    """A worker's word that it cannot store its work, for status reads elsewhere (best
    effort: when Redis is the storage that is full, the readers' own look says it)."""
    queue.report_stalled(str(error), ttl_s=REPORT_TTL_HEARTBEATS * settings.heartbeat_s)
