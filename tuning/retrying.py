"""A command's retry when its database connection is lost, for a submission that carries an
idempotency key: sent again with the same key, it is stored once however many times it went."""

import time
from collections.abc import Callable, Sequence
from typing import TypeVar

from sqlalchemy import Engine
from sqlalchemy.exc import InterfaceError, OperationalError

T = TypeVar("T")

# About 7.5 s in all: long enough for a database restart or a failover, short enough that a
# user at a terminal is not left wondering.
BACKOFF_S = (0.5, 1.0, 2.0, 4.0)


class ConnectionLost(Exception):
    """The database could not be reached after every retry; the message says what was tried."""


def retry_on_lost_connection(
    attempt: Callable[[], T],
    *,
    engine: Engine,
    backoff_s: Sequence[float] = BACKOFF_S,
    said: Callable[[str], None] = lambda _: None,
) -> T:
    """`attempt()`, called again after each pause in `backoff_s` while it fails because the
    connection to a database server was refused, reset or timed out (never for SQLite, whose
    errors no retry mends); then ConnectionLost. `said` hears of each retry."""
    pauses = list(backoff_s)
    while True:
        try:
            return attempt()
        except (OperationalError, InterfaceError) as exc:
            if not _connection_lost(exc, engine):
                raise
            reason = str(exc.orig or exc).strip().splitlines()[0]
            if not pauses:
                raise ConnectionLost(
                    f"the database at {engine.url.render_as_string(hide_password=True)} did not "
                    f"answer ({reason}); tried {len(backoff_s) + 1} times over "
                    f"{sum(backoff_s):g} s"
                ) from None
            pause = pauses.pop(0)
            said(f"the database did not answer ({reason}); trying again in {pause:g} s")
            time.sleep(pause)


def _connection_lost(exc: OperationalError | InterfaceError, engine: Engine) -> bool:
    return exc.connection_invalidated or engine.dialect.name != "sqlite"
