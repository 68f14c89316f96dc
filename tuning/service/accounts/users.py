"""Users, their API tokens and their dashboard sign-ins. Only a SHA-256 of each token and
each browser session's secret is stored."""

import hashlib
import hmac
import secrets
from datetime import timedelta

from sqlalchemy import delete
from sqlmodel import Session, col, select

from tuning.domain import as_utc, utcnow
from tuning.errors import InvalidInput, NotFound
from tuning.models import BrowserSession, User

LOCAL_ADMIN = "admin"
# Not a user's name: a share with every signed-in user is "with everyone".
EVERYONE = "everyone"


def hash_token(token: str) -> str:
    # Tokens are 256 random bits, so a fast hash is enough; a slow KDF adds nothing here.
    return hashlib.sha256(token.encode()).hexdigest()


def create_user(*, session: Session, name: str, is_admin: bool = False) -> tuple[User, str]:
    """A new user and their API token; the token is shown once and never stored."""
    name = name.strip()
    if not name:
        raise InvalidInput("name", "a user needs a name")
    if name.lower() == EVERYONE:
        raise InvalidInput("name", f"'{name}' means every user when sharing; choose another")
    if session.exec(select(User).where(User.name == name)).first() is not None:
        raise InvalidInput("name", f"a user named '{name}' already exists")
    token = secrets.token_urlsafe(32)
    user = User(name=name, is_admin=is_admin, token_hash=hash_token(token))
    session.add(user)
    session.commit()
    session.refresh(user)
    return user, token


def authenticate(*, session: Session, token: str) -> User | None:
    """The user whose token this is, or None."""
    digest = hash_token(token)
    user = session.exec(select(User).where(User.token_hash == digest)).first()
    if user is None or not hmac.compare_digest(user.token_hash, digest):
        return None
    return user


def get_user(*, session: Session, name: str) -> User:
    user = session.exec(select(User).where(User.name == name)).first()
    if user is None:
        raise NotFound(f"no user named '{name}'")
    return user


def ensure_local_admin(*, session: Session) -> tuple[User, str | None]:
    """The local admin, created on first use; the token is returned only when just created."""
    user = session.exec(select(User).where(User.name == LOCAL_ADMIN)).first()
    if user is not None:
        return user, None
    return create_user(session=session, name=LOCAL_ADMIN, is_admin=True)


def rotate_token(*, session: Session, user: User) -> str:
    """A new API token for `user`; the old one stops working."""
    token = secrets.token_urlsafe(32)
    user.token_hash = hash_token(token)
    session.add(user)
    session.execute(delete(BrowserSession).where(col(BrowserSession.user_id) == user.id))
    session.commit()
    return token


def start_browser_session(*, session: Session, user: User, lifetime_s: float) -> str:
    """A new dashboard sign-in for `user`: the secret for the browser's cookie, shown once."""
    assert user.id is not None, "a stored user"
    secret = secrets.token_urlsafe(32)
    expires_at = utcnow() + timedelta(seconds=lifetime_s)
    session.add(
        BrowserSession(secret_hash=hash_token(secret), user_id=user.id, expires_at=expires_at)
    )
    # Expired sign-ins go as new ones come: the table holds only live ones, give or take.
    session.execute(delete(BrowserSession).where(col(BrowserSession.expires_at) < utcnow()))
    session.commit()
    return secret


def browser_session_user(*, session: Session, secret: str) -> User | None:
    """The user of a live dashboard sign-in, or None (unknown, expired or ended).

    The dashboard asks at every script run: one query, by the table's primary key (the
    secret's hash), joined to its user."""
    found = session.exec(
        select(User, BrowserSession.expires_at)
        .join(BrowserSession, col(BrowserSession.user_id) == col(User.id))
        .where(col(BrowserSession.secret_hash) == hash_token(secret))
    ).first()
    if found is None or as_utc(found[1]) <= utcnow():
        return None
    return found[0]


def end_browser_session(*, session: Session, secret: str) -> None:
    """Sign-out: the secret stops working at once, wherever its cookie still is."""
    session.execute(
        delete(BrowserSession).where(col(BrowserSession.secret_hash) == hash_token(secret))
    )
    session.commit()
