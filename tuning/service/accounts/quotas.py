"""Quotas: what one user may hold at once, set in configuration (the MAX_... settings).

Each is checked where the thing is stored, in the transaction that stores it, and refused with
a QuotaExceeded that names the limit and the use; nothing is stored then. A run's slot frees
when it ends (finished, failed or cancelled); upload bytes when an upload is deleted (an
archived one is still stored, so it still counts). Admins are exempt unless
`quotas_exempt_admins` is false: the local admin of the CLI is never blocked.
"""

import math
import uuid
from dataclasses import dataclass

from sqlalchemy import func, update
from sqlmodel import Session, col, select

from tuning.config import Settings
from tuning.domain import ACTIVE
from tuning.errors import QuotaExceeded, StorageQuotaExceeded
from tuning.models import Dataset, RunNote, TuningRun, User

# The longest note (the run_note.text column's length): a 422 like any other bad value.
NOTE_LIMIT = 2000


@dataclass(frozen=True)
class Usage:
    """One quota: the setting that sets it, its limit, and the user's use (None for a limit
    per run or per note, which the user holds nothing of until they submit)."""

    setting: str
    limit: int
    used: int | None = None


@dataclass(frozen=True)
class Quotas:
    """A user's limits and use, as New run and `GET /api/v1/me/quotas` show them."""

    exempt: bool  # an admin, held to none of these
    active_runs: Usage
    fits_per_run: Usage
    upload_bytes: Usage
    notes_per_run: Usage
    note_chars: Usage


def user_quotas(*, session: Session, settings: Settings, user: User) -> Quotas:
    """The limits that apply to `user` and how much of each they use now."""
    assert user.id is not None, "a stored user"
    return Quotas(
        exempt=is_exempt(settings, user),
        active_runs=Usage(
            "MAX_ACTIVE_RUNS_PER_USER",
            settings.max_active_runs_per_user,
            count_active_runs(session, user.id),
        ),
        fits_per_run=Usage("MAX_FITS_PER_RUN", settings.max_fits_per_run),
        upload_bytes=Usage(
            "MAX_UPLOAD_BYTES_PER_USER",
            settings.max_upload_bytes_per_user,
            stored_upload_bytes(session, user.id),
        ),
        notes_per_run=Usage("MAX_NOTES_PER_RUN", settings.max_notes_per_run),
        note_chars=Usage("NOTE_LIMIT", NOTE_LIMIT),
    )


def is_exempt(settings: Settings, user: User) -> bool:
    return settings.quotas_exempt_admins and user.is_admin


def count_active_runs(session: Session, user_id: int) -> int:
    """The user's tuning runs queued or running (trainings are one fit each and not counted)."""
    query = select(func.count()).where(
        col(TuningRun.owner_id) == user_id, col(TuningRun.status).in_(ACTIVE)
    )
    return session.exec(query).one()


def stored_upload_bytes(session: Session, user_id: int) -> int:
    """The bytes of the user's stored CSV uploads, archived ones too."""
    query = select(func.coalesce(func.sum(Dataset.size_bytes), 0)).where(
        col(Dataset.owner_id) == user_id
    )
    return int(session.exec(query).one())


def check_active_runs(
    *, session: Session, settings: Settings, user: User, hold: bool = False
) -> None:
    """QuotaExceeded if `user` has MAX_ACTIVE_RUNS_PER_USER runs queued or running.

    With `hold`, the user's row stays locked until the caller commits the new run, so that two
    submissions at once cannot both take the last slot.
    """
    if not _held_to_quotas(session, settings, user, hold=hold):
        return
    assert user.id is not None, "a stored user"
    used, limit = count_active_runs(session, user.id), settings.max_active_runs_per_user
    if used >= limit:
        _refuse(
            session,
            QuotaExceeded(
                f"you have {used} active tuning runs (queued or running), the limit is {limit} "
                "(MAX_ACTIVE_RUNS_PER_USER); wait for one to finish or cancel one",
                setting="MAX_ACTIVE_RUNS_PER_USER",
                limit=limit,
                used=used,
            ),
            held=hold,
        )


def check_fits(*, settings: Settings, user: User, run: TuningRun, fits: float) -> None:
    """QuotaExceeded if the run's cost in fits, as its search counts them (`full_data_fits`: a
    halving rung on a third of the rows counts a third), is over MAX_FITS_PER_RUN."""
    limit, used = settings.max_fits_per_run, math.ceil(fits)
    if is_exempt(settings, user) or used <= limit:
        return
    counted = f"{run.total_combinations:,} candidates x {run.cv} folds"
    cost = f"this run makes {used:,} fits ({counted})"
    if run.halving is not None:
        cost = (
            f"this run costs {used:,} fits on every row ({counted} over its rungs, a rung on "
            "a third of the rows counting a third)"
        )
    raise QuotaExceeded(
        f"{cost}, the limit is {limit:,} per run (MAX_FITS_PER_RUN); choose fewer candidates "
        "or folds",
        setting="MAX_FITS_PER_RUN",
        limit=limit,
        used=used,
    )


def check_upload_bytes(
    *, session: Session, settings: Settings, user: User, size: int, hold: bool = False
) -> None:
    """StorageQuotaExceeded if `size` more bytes would take the user's stored uploads over
    MAX_UPLOAD_BYTES_PER_USER. With `hold`, the user's row stays locked until the caller
    commits the upload."""
    if not _held_to_quotas(session, settings, user, hold=hold):
        return
    assert user.id is not None, "a stored user"
    used, limit = stored_upload_bytes(session, user.id), settings.max_upload_bytes_per_user
    if used + size > limit:
        _refuse(
            session,
            StorageQuotaExceeded(
                f"your uploads hold {used:,} bytes and this file is {size:,} bytes, the limit "
                f"is {limit:,} bytes per user (MAX_UPLOAD_BYTES_PER_USER); delete an upload you "
                "no longer need (archived ones count until deleted)",
                setting="MAX_UPLOAD_BYTES_PER_USER",
                limit=limit,
                used=used,
            ),
            held=hold,
        )


def check_notes(*, session: Session, settings: Settings, user: User, run_id: uuid.UUID) -> None:
    """QuotaExceeded if the run holds MAX_NOTES_PER_RUN notes. The run's row stays locked until
    the caller commits the note."""
    if is_exempt(settings, user):
        return
    hold_row(session, TuningRun, run_id)
    query = select(func.count()).where(col(RunNote.run_id) == run_id)
    used, limit = session.exec(query).one(), settings.max_notes_per_run
    if used >= limit:
        _refuse(
            session,
            QuotaExceeded(
                f"this run has {used} notes, the limit is {limit} per run (MAX_NOTES_PER_RUN); "
                "say more in fewer notes, or ask an admin to raise the limit",
                setting="MAX_NOTES_PER_RUN",
                limit=limit,
                used=used,
            ),
            held=True,
        )


def hold_row(session: Session, table: type[User] | type[TuningRun], key: object) -> None:
    """Lock a row until the session commits or rolls back, so that a count and the insert it
    allows are one step: PostgreSQL's `SELECT ... FOR UPDATE`. SQLite has no row locks, and
    its driver begins a transaction at the first write, so there a write to the row takes the
    database's one write lock instead."""
    row = col(table.id) == key
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(table.id).where(row).with_for_update())
    else:
        session.execute(update(table).where(row).values(id=table.id))


def _held_to_quotas(session: Session, settings: Settings, user: User, *, hold: bool) -> bool:
    """Whether `user` is held to quotas (not an exempt admin); if so and `hold`, their row is
    locked until the caller commits."""
    if is_exempt(settings, user):
        return False
    if hold:
        hold_row(session, User, user.id)
    return True


def _refuse(session: Session, error: QuotaExceeded, *, held: bool) -> None:
    """Release the lock if one is held (nothing is stored), then answer."""
    if held:
        session.rollback()
    raise error
