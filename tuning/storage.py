"""Full or read-only storage, told apart from other errors and said in words.

The database engine (`tuning.db`), the task queue (`tuning.worker.queue`) and every transport's
last resort (API, CLI, dashboard) call these, so that "database or disk is full", SQLSTATE
53100, Redis's MISCONF or an ENOSPC all reach a user as one `StorageUnwritable` that names the
storage and the cause. `local_problem` reads the same from the file system (one statvfs per
path) for a check before a write, and for the status of a run that cannot store its trials.
"""

import errno
import os
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from sqlalchemy import make_url

from tuning.config import Settings
from tuning.errors import StorageUnwritable

# Less free space than this is full: SQLite and Redis's append-only file then fail at their
# next pages, and a check before a write says so rather than start what cannot be stored.
FULL_BELOW_BYTES = 1024 * 1024

FREE_SPACE = "Free some space"
WRITABLE = "Make it writable again (remount it read-write, or fix its permissions)"
# SQLite's result codes (and their extended ones, e.g. SQLITE_READONLY_DBMOVED) that mean the
# file cannot be written, and those that may: the file system then says whether it is full.
_SQLITE_FULL = "SQLITE_FULL"
_SQLITE_READONLY = "SQLITE_READONLY"
_SQLITE_MAYBE = ("SQLITE_CANTOPEN", "SQLITE_IOERR")
# PostgreSQL's SQLSTATEs: disk_full, read_only_sql_transaction.
_PG_CAUSES = {
    "53100": ("the database server's disk is full", "Free some space on the database server"),
    "25006": (
        "the database server takes reads only (a read-only transaction, or a standby)",
        "Point DATABASE_URL at a writable primary",
    ),
}
_OS_CAUSES = {
    errno.ENOSPC: None,  # the disk is full: said with its free bytes
    errno.EDQUOT: ("the disk quota is used up", "Free some space, or raise the quota"),
    errno.EROFS: ("its file system is read-only", WRITABLE),
}


def size_text(n_bytes: int) -> str:
    """Bytes for a person: 0 bytes, 512 KiB, 3.4 MiB, 12.0 GiB."""
    if n_bytes < 1024:
        return f"{n_bytes} bytes"
    value = float(n_bytes)
    for unit in ("KiB", "MiB", "GiB", "TiB"):
        value /= 1024
        if value < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "KiB" else f"{value:.1f} {unit}"
    raise AssertionError("unreachable")


def disk_problem(path: Path) -> tuple[str, str] | None:
    """Why the file system holding `path` (or its nearest existing parent) takes no writes, as
    (cause, remedy); None when it has room and is writable. One statvfs."""
    existing = next((p for p in (path, *path.parents) if p.exists()), None)
    if existing is None:
        return None
    found = os.statvfs(existing)
    if found.f_flag & os.ST_RDONLY:
        return "its file system is read-only", WRITABLE
    free = found.f_bavail * found.f_frsize
    if free < FULL_BELOW_BYTES:
        return f"the disk is full ({size_text(free)} free)", FREE_SPACE
    return None


def database_name(url: str) -> str:
    """ "The database /x/.data/tuning.db", or its server's URL without the password."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return f"The database {parsed.database}"
    return f"The database {parsed.render_as_string(hide_password=True)}"


def database_error(exc: BaseException, *, url: str) -> StorageUnwritable | None:
    """A database driver's error as `StorageUnwritable` when it says the database cannot be
    written; None for any other error."""
    storage = database_name(url)
    sqlstate = getattr(exc, "sqlstate", None)
    if sqlstate in _PG_CAUSES:
        return StorageUnwritable(storage, *_PG_CAUSES[sqlstate])
    if not isinstance(exc, sqlite3.Error):
        return None
    code = getattr(exc, "sqlite_errorname", "") or ""
    database = make_url(url).database or ""
    on_disk = disk_problem(Path(database)) if database and database != ":memory:" else None
    if code == _SQLITE_FULL or "database or disk is full" in str(exc):
        return StorageUnwritable(storage, *(on_disk or ("the disk is full", FREE_SPACE)))
    if code.startswith(_SQLITE_READONLY) or "readonly database" in str(exc):
        return StorageUnwritable(storage, *(on_disk or ("it is read-only", WRITABLE)))
    if code.startswith(_SQLITE_MAYBE) and on_disk is not None:
        return StorageUnwritable(storage, *on_disk)
    return None


def redis_error(exc: BaseException, *, url: str) -> StorageUnwritable | None:
    """Redis's refusals to write (MISCONF, READONLY, OOM) as `StorageUnwritable`."""
    text = str(exc)
    storage = f"Redis at {_without_password(url)}"
    if text.startswith("MISCONF"):
        said = text.split(":", 1)[-1].strip().rstrip(".") or "see its log"
        return StorageUnwritable(
            storage, f"it cannot save its data to disk ({said})", f"{FREE_SPACE} where it saves"
        )
    if text.startswith("READONLY"):
        return StorageUnwritable(
            storage, "it is a read-only replica", "Point REDIS_URL at the primary"
        )
    if text.startswith("OOM"):
        return StorageUnwritable(
            storage, "it is out of memory (maxmemory)", "Free memory, or raise its maxmemory"
        )
    return None


def file_error(exc: OSError) -> StorageUnwritable | None:
    """A write's ENOSPC, EDQUOT or EROFS as `StorageUnwritable` naming the file."""
    if exc.errno not in _OS_CAUSES:
        return None
    name = f"The file {exc.filename}" if exc.filename else "A file"
    cause = _OS_CAUSES[exc.errno]
    if cause is None:
        free = disk_problem(Path(str(exc.filename))) if exc.filename else None
        cause = free or ("the disk is full", FREE_SPACE)
    return StorageUnwritable(name, *cause)


def storage_error(exc: BaseException) -> StorageUnwritable | None:
    """`exc`, or the error it was raised from, as `StorageUnwritable`; None if neither says
    that storage cannot be written. For a transport's last resort: the engine and the queue
    translate what they raise already."""
    for error in _chain(exc):
        if isinstance(error, StorageUnwritable):
            return error
        if isinstance(error, OSError) and (found := file_error(error)):
            return found
    return None


@dataclass(frozen=True)
class Place:
    """Storage that the stack keeps on this machine's disks."""

    kind: Literal["database", "redis"]
    name: str  # as a message starts: "The database /x/.data/tuning.db"
    path: Path

    def problem(self) -> StorageUnwritable | None:
        """Why it cannot be written now, read from its file system; None if it can."""
        found = disk_problem(self.path)
        return StorageUnwritable(self.name, *found) if found else None


def local_storage(settings: Settings) -> list[Place]:
    """The SQLite file, and the data directory where the embedded Redis saves, when used."""
    places: list[Place] = []
    url = settings.sqlalchemy_url
    if make_url(url).get_backend_name() == "sqlite" and (database := make_url(url).database):
        places.append(Place("database", database_name(url), Path(database)))
    if not settings.redis_url:
        name = f"Redis's data directory {settings.data_dir}"
        places.append(Place("redis", name, settings.data_dir))
    return places


def local_problem(settings: Settings) -> StorageUnwritable | None:
    """The first local storage of `settings` that cannot be written (a statvfs each)."""
    return next((found for place in local_storage(settings) if (found := place.problem())), None)


def _without_password(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - not an URL SQLAlchemy reads (redis+socket://): as it is
        return url.split("@")[-1]


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__
