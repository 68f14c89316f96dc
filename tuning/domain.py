"""Words the storage and the pure scikit-learn code share: statuses, tasks, moments in UTC.

Nothing here imports the database, so `tuning.ml` can use these without touching storage.
"""

from datetime import UTC, datetime
from enum import StrEnum
from typing import overload


def utcnow() -> datetime:
    return datetime.now(UTC)


@overload
def as_utc(moment: datetime) -> datetime: ...
@overload
def as_utc(moment: None) -> None: ...
def as_utc(moment: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; every stored moment is UTC."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


class RunStatus(StrEnum):
    """The five statuses of the spec; nothing else is ever stored or returned."""

    PENDING = "PENDING"
    PROGRESS = "PROGRESS"
    SUCCESS = "SUCCESS"
    FAILURE = "FAILURE"
    REVOKED = "REVOKED"

    @property
    def is_finished(self) -> bool:
        return self in FINISHED


FINISHED = frozenset({RunStatus.SUCCESS, RunStatus.FAILURE, RunStatus.REVOKED})
ACTIVE = frozenset({RunStatus.PENDING, RunStatus.PROGRESS})


class TaskType(StrEnum):
    CLASSIFICATION = "classification"
    REGRESSION = "regression"
