"""Idempotent submissions: a request sent again with the same `Idempotency-Key` is given the
first answer and stores nothing new.

The key's row is inserted in the same transaction as what the request creates (the run, the
training run, the upload), at its commit; the unique key (user, key) decides between two
copies sent at once: the second's commit fails as a whole, so nothing of it is stored, and it
answers with the first's row. Neither waits on the other beyond the database's own wait for
the first commit. A request whose answer is an error stores no key: it may be sent again.
Keys are kept a day (`KEPT_FOR`); older ones are ignored and purged by the reconciler.
"""

import hashlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any, TypeVar

from sqlalchemy import delete, event
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, SQLModel, col, select

from tuning.domain import as_utc, utcnow
from tuning.errors import Conflict, InvalidInput, TuningError, shown
from tuning.models import IdempotencyKey, User

IDEMPOTENCY_HEADER = "Idempotency-Key"
IDEMPOTENCY_KEY_LIMIT = 255
KEPT_FOR = timedelta(days=1)

T = TypeVar("T")


@dataclass(frozen=True)
class Answer:
    """What a request was answered: the status code, the body as sent and its media type;
    `replayed` when it is the stored first answer given again."""

    status_code: int
    body: str
    media_type: str = "application/json"
    replayed: bool = False


@dataclass(frozen=True)
class KeyedRequest:
    """A request sent with an idempotency key: the key, where it was sent ("POST /path") and
    the SHA-256 of its body in canonical form (`request_hash`)."""

    key: str
    route: str
    body_hash: str


def request_hash(content: bytes) -> str:
    """The SHA-256 (hex) of a request's body, in the canonical form its transport chose."""
    return hashlib.sha256(content).hexdigest()


def check_key(key: str) -> str:
    """The key, or InvalidInput naming the header: 1 to 255 visible ASCII characters."""
    if not key:
        raise InvalidInput(
            IDEMPOTENCY_HEADER, "an empty key; send 1 to 255 characters, e.g. a UUID"
        )
    if len(key) > IDEMPOTENCY_KEY_LIMIT:
        raise InvalidInput(
            IDEMPOTENCY_HEADER, f"{len(key):,} characters; the limit is {IDEMPOTENCY_KEY_LIMIT}"
        )
    if not all("!" <= char <= "~" for char in key):
        raise InvalidInput(IDEMPOTENCY_HEADER, f"{shown(key)}: use visible ASCII characters only")
    return key


def answer_once(
    *,
    session: Session,
    user: User,
    request: KeyedRequest | None,
    act: Callable[[], T],
    answer: Callable[[T], Answer],
    creates: type[SQLModel] | None = None,
) -> Answer:
    """`answer(act())`, once per key: a request with a key seen within a day is given the
    stored first answer without acting; the same key with another route or body is a
    Conflict. `creates`: the table of what `act` stores and commits; the key is stored in that
    commit (else after `act`, for a request that stores nothing, such as a prediction)."""
    if request is None:
        return answer(act())
    assert user.id is not None, "a stored user"
    check_key(request.key)
    first = _first_answer(session, user.id, request)
    if first is not None:
        return first
    recorder = _Recorder(user.id, request, answer, creates)
    try:
        with recorder.listening(session):
            result = act()
        if recorder.stored is None:
            recorder.store(session, answer(result))
            session.commit()
    except (TuningError, IntegrityError):
        # A copy sent at the same moment may have been stored first: its answer is ours.
        session.rollback()
        first = _first_answer(session, user.id, request)
        if first is not None:
            return first
        raise
    assert recorder.stored is not None
    return recorder.stored


def purge_expired_keys(*, session: Session) -> int:
    """Delete the keys older than `KEPT_FOR`; how many."""
    before = utcnow() - KEPT_FOR
    purged = session.execute(delete(IdempotencyKey).where(col(IdempotencyKey.created_at) < before))
    session.commit()
    return int(getattr(purged, "rowcount", 0) or 0)


def _first_answer(session: Session, user_id: int, request: KeyedRequest) -> Answer | None:
    """The stored answer to this key, if one within a day; Conflict if it answered another
    request."""
    row = session.exec(
        select(IdempotencyKey).where(
            col(IdempotencyKey.user_id) == user_id, col(IdempotencyKey.key) == request.key
        )
    ).first()
    if row is None:
        return None
    if as_utc(row.created_at) < utcnow() - KEPT_FOR:  # expired: the key is free again
        session.execute(delete(IdempotencyKey).where(col(IdempotencyKey.id) == row.id))
        session.commit()
        return None
    used = f"{IDEMPOTENCY_HEADER} {shown(request.key)} was used within the last day"
    if row.route != request.route:
        raise Conflict(f"{used} for {row.route}; send a new key with a new request")
    if row.body_hash != request.body_hash:
        raise Conflict(
            f"{used} with a different request body; send a new key with a new request, or "
            "the first body again to get its answer"
        )
    return Answer(row.status_code, row.response, row.media_type, replayed=True)


class _Recorder:
    """Stores the key in the commit that stores what the request creates."""

    def __init__(
        self,
        user_id: int,
        request: KeyedRequest,
        answer: Callable[[Any], Answer],
        creates: type[SQLModel] | None,
    ) -> None:
        self.user_id, self.request, self.answer, self.creates = user_id, request, answer, creates
        self.created: SQLModel | None = None
        self.stored: Answer | None = None

    def store(self, session: Session, answer: Answer) -> None:
        self.stored = replace(answer, replayed=False)
        session.add(
            IdempotencyKey(
                user_id=self.user_id,
                key=self.request.key,
                route=self.request.route,
                body_hash=self.request.body_hash,
                status_code=answer.status_code,
                media_type=answer.media_type,
                response=answer.body,
            )
        )

    @contextmanager
    def listening(self, session: Session) -> Iterator[None]:
        event.listen(session, "pending_to_persistent", self.persisted)
        event.listen(session, "before_commit", self.before_commit)
        try:
            yield
        finally:
            event.remove(session, "pending_to_persistent", self.persisted)
            event.remove(session, "before_commit", self.before_commit)

    def persisted(self, session: Session, instance: object) -> None:
        if self.creates is not None and self.created is None and isinstance(instance, self.creates):
            self.created = instance

    def before_commit(self, session: Session) -> None:
        # The commit flushes what is added here before it sends COMMIT: one transaction.
        if self.stored is None and self.created is not None:
            self.store(session, self.answer(self.created))
