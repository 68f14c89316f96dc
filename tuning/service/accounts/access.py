"""Who may see and change what: owners and admins. Every service call asks here.

The rule is one line (`may_see`); the rest applies it to a loaded row, to a query, and to an id
typed by a user, so that no read elsewhere writes the rule again.
"""

import uuid
from typing import Any, Protocol, TypeVar

from sqlalchemy import ColumnElement, or_

from tuning.errors import Forbidden, InvalidInput, NotFound, shown
from tuning.models import User


class Owned(Protocol):
    @property
    def owner_id(self) -> Any: ...


def may_see(*, viewer_id: int | None, viewer_is_admin: bool, owner_id: int | None) -> bool:
    """Admins see everything; everyone else sees what they own."""
    return viewer_is_admin or (owner_id is not None and owner_id == viewer_id)


R = TypeVar("R", bound=Owned)


def require_visible(row: R | None, *, viewer: User | None, what: str, key: object) -> R:
    """The row, if it exists and `viewer` may see it (no viewer: a trusted caller, the CLI)."""
    if row is None:
        raise NotFound(f"no {what} with id {key}")
    if viewer is not None and not may_see(
        viewer_id=viewer.id, viewer_is_admin=viewer.is_admin, owner_id=row.owner_id
    ):
        raise Forbidden(f"{what} {key} belongs to another user")
    return row


def only_visible(query: Any, owner_column: ColumnElement[Any] | Any, viewer: User) -> Any:
    """`query` narrowed to the rows `viewer` may see."""
    return query if viewer.is_admin else query.where(owner_column == viewer.id)


def may_use_dataset(viewer: User, owner_id: int | None) -> bool:
    """Bundled datasets (no owner) are everyone's; an upload is its owner's (and admins')."""
    return owner_id is None or may_see(
        viewer_id=viewer.id, viewer_is_admin=viewer.is_admin, owner_id=owner_id
    )


def only_usable(query: Any, owner_column: Any, viewer: User) -> Any:
    """`query` narrowed to the datasets `viewer` may see and use: bundled ones and their own."""
    if viewer.is_admin:
        return query
    return query.where(or_(owner_column.is_(None), owner_column == viewer.id))


def parse_id(value: str | uuid.UUID, *, field: str) -> uuid.UUID:
    """An id typed by a user; InvalidInput (the spec's "Invalid UUID", 400) when it is not one."""
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise InvalidInput(field, f"{shown(str(value))} is not a valid UUID") from None
