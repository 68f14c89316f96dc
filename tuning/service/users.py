"""Users and their API tokens. Only a SHA-256 of each token is stored."""

import hashlib
import hmac
import secrets

from sqlmodel import Session, select

from tuning.errors import InvalidInput, NotFound
from tuning.models import User

LOCAL_ADMIN = "admin"


def hash_token(token: str) -> str:
    # Tokens are 256 random bits, so a fast hash is enough; a slow KDF adds nothing here.
    return hashlib.sha256(token.encode()).hexdigest()


def create_user(*, session: Session, name: str, is_admin: bool = False) -> tuple[User, str]:
    """A new user and their API token; the token is shown once and never stored."""
    name = name.strip()
    if not name:
        raise InvalidInput("name", "a user needs a name")
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
    session.commit()
    return token
