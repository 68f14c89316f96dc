"""Who may see and change what: owners and admins, and those a run or an upload is shared with.
Every service call asks here.

The rule is small: owners and admins may do anything with a run or an upload; a share lets its
user (or, with no user, everyone signed in) do what its level allows: a run's "read" its
results, trials, notes and status, "contribute" also note and train; an upload's "use" tune and
train on it, "download" also download its file. The rest applies the rule to a loaded row, to a
query (one EXISTS on the share table, never a check per row), and to an id typed by a user.
"""

import uuid
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol, TypeVar

from sqlalchemy import ColumnElement, and_, exists, or_, select
from sqlmodel import Session, col

from tuning.errors import Forbidden, InvalidInput, NotFound, shown
from tuning.models import Dataset, DatasetShare, RunShare, TuningRun, User


class Owned(Protocol):
    @property
    def owner_id(self) -> Any: ...


class Shareable(Protocol):
    @property
    def id(self) -> Any: ...

    @property
    def owner_id(self) -> Any: ...


class Action(StrEnum):
    """What a user asks to do with a run or an upload."""

    READ = "read"  # a run's results, trials, notes, status, CSV and snippet
    NOTE = "note"
    TRAIN = "train"  # a model from a run's parameters
    CANCEL = "cancel"
    CHANGE = "change"  # rename, tag, archive or restore
    DELETE = "delete"
    SHARE = "share"  # share, withdraw a share, or see whom with
    USE = "use"  # tune or train on an upload, read its profile
    DOWNLOAD = "download"  # an upload's CSV file


# What each level of a share allows; owners and admins may do anything.
RUN_LEVELS = {"read": {Action.READ}, "contribute": {Action.READ, Action.NOTE, Action.TRAIN}}
DATASET_LEVELS = {"use": {Action.USE}, "download": {Action.USE, Action.DOWNLOAD}}

_DOING = {
    Action.READ: "read it",
    Action.NOTE: "add notes to it",
    Action.TRAIN: "train models from it",
    Action.CANCEL: "cancel it",
    Action.CHANGE: "rename, tag or archive it",
    Action.DELETE: "delete it",
    Action.SHARE: "share it",
    Action.USE: "tune on it",
    Action.DOWNLOAD: "download it",
}


def may_see(*, viewer_id: int | None, viewer_is_admin: bool, owner_id: int | None) -> bool:
    """Admins see everything; everyone else sees what they own (and what is shared with them:
    see `run_level`, `require_run`)."""
    return viewer_is_admin or (owner_id is not None and owner_id == viewer_id)


R = TypeVar("R", bound=Owned)
S = TypeVar("S", bound=Shareable)


def require_visible(row: R | None, *, viewer: User | None, what: str, key: object) -> R:
    """The row, if it exists and `viewer` owns it or is an admin (no viewer: a trusted caller,
    the CLI). For what cannot be shared: training runs and models."""
    if row is None:
        raise NotFound(f"no {what} with id {key}")
    if viewer is not None and not may_see(
        viewer_id=viewer.id, viewer_is_admin=viewer.is_admin, owner_id=row.owner_id
    ):
        raise Forbidden(f"{what} {key} belongs to another user")
    return row


def only_visible(query: Any, owner_column: ColumnElement[Any] | Any, viewer: User) -> Any:
    """`query` narrowed to the rows `viewer` owns (an admin: all)."""
    return query if viewer.is_admin else query.where(owner_column == viewer.id)


# --- Shares ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Access:
    """What a viewer may do with one run or upload, and why: "owner", "admin", "bundled" (a
    bundled dataset, everyone's), a share's level, or None (nothing)."""

    role: str | None
    levels: dict[str, set[Action]]

    @property
    def is_shared(self) -> bool:
        return self.role in self.levels

    def allows(self, action: Action) -> bool:
        if self.role in ("owner", "admin"):
            return True
        if self.role == "bundled":
            return action is Action.USE
        return action in self.levels.get(self.role or "", set())


def _shared_with(table: type[RunShare] | type[DatasetShare], viewer_id: int | None) -> Any:
    """The shares that reach `viewer_id`: their own and everyone's."""
    user = col(table.user_id)
    return or_(user == viewer_id, user.is_(None))


def _level(session: Session, table: Any, key_column: Any, key: Any, viewer: User) -> str | None:
    """The widest level at which a run or upload is shared with `viewer`, or None."""
    levels = session.execute(
        select(col(table.level)).where(key_column == key, _shared_with(table, viewer.id))
    ).scalars()
    order = list(RUN_LEVELS if table is RunShare else DATASET_LEVELS)
    return max(levels, key=order.index, default=None)


def run_access(session: Session, run: Shareable, viewer: User | None) -> Access:
    """What `viewer` may do with `run` (no viewer: a trusted caller, as its owner)."""
    if viewer is None or run.owner_id == viewer.id:
        return Access("owner", RUN_LEVELS)
    if viewer.is_admin:
        return Access("admin", RUN_LEVELS)
    return Access(_level(session, RunShare, col(RunShare.run_id), run.id, viewer), RUN_LEVELS)


def require_run(
    session: Session, row: S | None, *, viewer: User | None, action: Action, key: object
) -> S:
    """The run, if it exists and `viewer` may do `action` with it: NotFound, else Forbidden
    (another user's run; or one shared with `viewer` at a level that does not allow it)."""
    if row is None:
        raise NotFound(f"no tuning run with id {key}")
    access = run_access(session, row, viewer)
    if not access.allows(action):
        raise _refused("tuning run", key, access, action)
    return row


def _refused(what: str, key: object, access: Access, action: Action) -> Forbidden:
    if access.role is None:
        return Forbidden(f"{what} {key} belongs to another user")
    if access.role not in access.levels:  # a bundled dataset
        return Forbidden(f"{what} {key} is bundled, everyone's: nobody may {_DOING[action]}")
    allowed = " and ".join(_DOING[a] for a in Action if a in access.levels[access.role])
    doing = _DOING[action]
    wider = [level for level, actions in access.levels.items() if action in actions]
    if not wider:
        return Forbidden(
            f"{what} {key} is shared with you to {allowed}; only its owner or an admin may {doing}"
        )
    return Forbidden(
        f"{what} {key} is shared with you to {allowed}; to {doing}, ask its owner to share it "
        f"with you as {shown(wider[0])}"
    )


def only_readable_runs(query: Any, viewer: User) -> Any:
    """`query` narrowed to the runs `viewer` owns or that are shared with them (admins: all)."""
    if viewer.is_admin:
        return query
    return query.where(or_(col(TuningRun.owner_id) == viewer.id, _run_shared(viewer)))


def only_shared_runs(query: Any, viewer: User) -> Any:
    """`query` narrowed to other users' runs shared with `viewer` (admins too: by share)."""
    return query.where(col(TuningRun.owner_id) != viewer.id, _run_shared(viewer))


def _run_shared(viewer: User) -> Any:
    return exists().where(
        and_(col(RunShare.run_id) == TuningRun.id, _shared_with(RunShare, viewer.id))
    )


# --- Datasets -------------------------------------------------------------------------------


def dataset_access(session: Session, dataset: Shareable, viewer: User) -> Access:
    """What `viewer` may do with a dataset: a bundled one is everyone's to use."""
    if dataset.owner_id is None:
        return Access("bundled", DATASET_LEVELS)
    if dataset.owner_id == viewer.id:
        return Access("owner", DATASET_LEVELS)
    if viewer.is_admin:
        return Access("admin", DATASET_LEVELS)
    level = _level(session, DatasetShare, col(DatasetShare.dataset_id), dataset.id, viewer)
    return Access(level, DATASET_LEVELS)


def require_dataset(
    session: Session, dataset: S | None, *, viewer: User, action: Action, key: object
) -> S:
    """The dataset, if `viewer` may do `action` with it. One they may not even use reads as
    unknown (NotFound), so that an upload's existence never leaks; Forbidden past that."""
    access = None if dataset is None else dataset_access(session, dataset, viewer)
    if dataset is None or access is None or access.role is None:
        raise NotFound(f"no dataset with id {key}")
    if not access.allows(action):
        raise _refused("dataset", key, access, action)
    return dataset


def only_usable(query: Any, owner_column: Any, viewer: User) -> Any:
    """`query` narrowed to the datasets `viewer` may use: bundled ones, their own, and those
    shared with them (admins: all). `query` selects from the dataset table."""
    if viewer.is_admin:
        return query
    shared = exists().where(
        and_(col(DatasetShare.dataset_id) == Dataset.id, _shared_with(DatasetShare, viewer.id))
    )
    return query.where(or_(owner_column.is_(None), owner_column == viewer.id, shared))


def parse_id(value: str | uuid.UUID, *, field: str) -> uuid.UUID:
    """An id typed by a user; InvalidInput (the spec's "Invalid UUID", 400) when it is not one."""
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise InvalidInput(field, f"{shown(str(value))} is not a valid UUID") from None
