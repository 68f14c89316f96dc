"""Sharing a tuning run or an upload with a named user, or with everyone signed in, and
withdrawing it. Its owner and admins share; `access` says what each level allows.

A share is one row per run (or upload) and user, or one for everyone; sharing again changes
its level. A user reached by both their own share and everyone's gets the wider level.
"""

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, or_
from sqlalchemy import select as sa_select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from tuning.domain import as_utc
from tuning.errors import Conflict, Forbidden, InvalidInput, NotFound, shown
from tuning.models import Dataset, DatasetShare, RunShare, TuningRun, User
from tuning.service.accounts.access import (
    DATASET_LEVELS,
    RUN_LEVELS,
    Access,
    Action,
    dataset_access,
    parse_id,
    require_dataset,
    require_run,
    run_access,
)
from tuning.service.accounts.users import EVERYONE, get_user


@dataclass(frozen=True)
class Share:
    user: str  # a user's name, or EVERYONE
    level: str
    created_at: datetime
    created_by: str


@dataclass(frozen=True)
class _Kind:
    table: type[RunShare] | type[DatasetShare]
    key: str  # the shared thing's column
    levels: dict[str, set[Action]]
    what: str


_RUNS = _Kind(RunShare, "run_id", RUN_LEVELS, "tuning run")
_DATASETS = _Kind(DatasetShare, "dataset_id", DATASET_LEVELS, "dataset")


def share_run(
    *, session: Session, run_id: str | uuid.UUID, user: str, level: str = "read", by: User | None
) -> Share:
    """Share a run with `user` (a name, or "everyone") at `level`: "read" or "contribute".
    Its owner and admins only (`by` None: a trusted caller, the CLI)."""
    run = _run(session, run_id, by)
    return _put(session, _RUNS, run, user=user, level=level, by=by)


def unshare_run(*, session: Session, run_id: str | uuid.UUID, user: str, by: User | None) -> None:
    """Withdraw a run's share with `user` (or "everyone"); NotFound when there is none."""
    _remove(session, _RUNS, _run(session, run_id, by), user)


def run_shares(*, session: Session, run_id: str | uuid.UUID, viewer: User | None) -> list[Share]:
    """Whom a run is shared with, oldest share first: for its owner and admins."""
    return _list(session, _RUNS, _run(session, run_id, viewer).id)


def share_dataset(
    *,
    session: Session,
    dataset_id: str | uuid.UUID,
    user: str,
    level: str = "use",
    by: User | None,
) -> Share:
    """Share an upload with `user` (a name, or "everyone") at `level`: "use" (tune and train
    on it) or "download" (and download its file). Its owner and admins only."""
    dataset = _dataset(session, dataset_id, by)
    return _put(session, _DATASETS, dataset, user=user, level=level, by=by)


def unshare_dataset(
    *, session: Session, dataset_id: str | uuid.UUID, user: str, by: User | None
) -> None:
    """Withdraw an upload's share with `user` (or "everyone"); NotFound when there is none.
    Runs already tuned on it keep working."""
    _remove(session, _DATASETS, _dataset(session, dataset_id, by), user)


def dataset_shares(
    *, session: Session, dataset_id: str | uuid.UUID, viewer: User | None
) -> list[Share]:
    """Whom an upload is shared with, oldest share first: for its owner and admins."""
    return _list(session, _DATASETS, _dataset(session, dataset_id, viewer).id)


def run_viewer_access(*, session: Session, run: Any, viewer: User) -> Access:
    """What `viewer` may do with a run they read (a `RunSummary`): the pages' buttons."""
    return run_access(session, run, viewer)


def dataset_viewer_access(*, session: Session, dataset: Dataset, viewer: User) -> Access:
    """What `viewer` may do with a dataset they may use: the uploads' buttons."""
    return dataset_access(session, dataset, viewer)


def user_names(*, session: Session) -> list[str]:
    """Every user's name, to share with."""
    return list(session.exec(select(User.name).order_by(User.name)).all())


def _run(session: Session, run_id: str | uuid.UUID, by: User | None) -> TuningRun:
    key = parse_id(run_id, field="tuning_run_id")
    found = session.get(TuningRun, key)
    return require_run(session, found, viewer=by, action=Action.SHARE, key=key)


def _dataset(session: Session, dataset_id: str | uuid.UUID, by: User | None) -> Dataset:
    key = parse_id(dataset_id, field="dataset_id")
    found = session.get(Dataset, key)
    if found is not None and found.owner_id is None:
        raise Forbidden(f"{shown(found.name)} is a bundled dataset: everyone has it already")
    if by is None:  # a trusted caller
        if found is None:
            raise NotFound(f"no dataset with id {key}")
        return found
    return require_dataset(session, found, viewer=by, action=Action.SHARE, key=key)


def _put(
    session: Session, kind: _Kind, thing: Any, *, user: str, level: str, by: User | None
) -> Share:
    if level not in kind.levels:
        choices = " or ".join(kind.levels)
        raise InvalidInput("level", f"{shown(level)} is not a level; choose {choices}")
    user_id = _recipient(session, user, thing.owner_id)
    found = session.exec(_shares_of(kind, thing.id, user_id)).first()
    if found is None:
        by_id = by.id if by is not None else thing.owner_id
        found = kind.table(**{kind.key: thing.id, "user_id": user_id, "created_by": by_id})
    found.level = level
    session.add(found)
    try:
        session.commit()
    except IntegrityError:  # the same share, made twice at once
        session.rollback()
        raise Conflict(f"{kind.what} {thing.id} was being shared with {user}: try again") from None
    return next(s for s in _list(session, kind, thing.id) if s.user == user)


def _recipient(session: Session, user: str, owner_id: int | None) -> int | None:
    """The id of the user named `user`, or None for everyone."""
    if user == EVERYONE:
        return None
    found = get_user(session=session, name=user)
    if found.id == owner_id:
        raise InvalidInput("user", f"{shown(user)} owns it: a share is for other users")
    return found.id


def _shares_of(kind: _Kind, key: uuid.UUID, user_id: int | None) -> Any:
    user = col(kind.table.user_id)
    whose = user.is_(None) if user_id is None else user == user_id
    return select(kind.table).where(getattr(kind.table, kind.key) == key, whose)


def _remove(session: Session, kind: _Kind, thing: Any, user: str) -> None:
    user_id = None if user == EVERYONE else get_user(session=session, name=user).id
    found = session.exec(_shares_of(kind, thing.id, user_id)).first()
    if found is None:
        raise NotFound(f"{kind.what} {thing.id} is not shared with {shown(user)}")
    session.execute(delete(kind.table).where(col(kind.table.id) == found.id))
    session.commit()


def _list(session: Session, kind: _Kind, key: uuid.UUID) -> list[Share]:
    recipient, creator = aliased(User), aliased(User)
    table = kind.table
    rows = session.execute(
        sa_select(col(table.level), col(table.created_at), col(recipient.name), col(creator.name))
        .outerjoin(recipient, col(recipient.id) == table.user_id)
        .join(creator, col(creator.id) == table.created_by)
        .where(getattr(table, kind.key) == key)
        .order_by(col(table.created_at), col(table.id))
    ).all()
    return [
        Share(name or EVERYONE, level, as_utc(created_at), by)
        for level, created_at, name, by in rows
    ]


@dataclass(frozen=True)
class SharedDataset:
    """Another user's upload shared with the viewer, at the widest level that reaches them."""

    id: uuid.UUID
    name: str
    owner: str
    level: str
    n_rows: int


def shared_datasets(*, session: Session, viewer: User) -> list[SharedDataset]:
    """Other users' uploads shared with `viewer` (not archived), by name: one query."""
    rows = session.execute(
        sa_select(
            col(Dataset.id),
            col(Dataset.name),
            col(User.name),
            col(DatasetShare.level),
            col(Dataset.n_rows),
        )
        .join(Dataset, col(Dataset.id) == DatasetShare.dataset_id)
        .join(User, col(User.id) == Dataset.owner_id)
        .where(
            col(Dataset.owner_id) != viewer.id,
            col(Dataset.archived_at).is_(None),
            or_(col(DatasetShare.user_id) == viewer.id, col(DatasetShare.user_id).is_(None)),
        )
        .order_by(col(Dataset.name))
    ).all()
    order = list(DATASET_LEVELS)
    widest: dict[uuid.UUID, SharedDataset] = {}
    for key, name, owner_name, level, n_rows in rows:
        kept = widest.get(key)
        if kept is None or order.index(level) > order.index(kept.level):
            widest[key] = SharedDataset(key, name, owner_name, level, n_rows)
    return list(widest.values())
