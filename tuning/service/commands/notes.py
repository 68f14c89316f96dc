"""Notes on tuning runs: anyone who may read a run may read its notes; its owner, admins and
those it is shared with to contribute may add one."""

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from tuning.config import Settings
from tuning.domain import as_utc
from tuning.errors import InvalidInput
from tuning.models import RunNote, User
from tuning.service.accounts.access import Action
from tuning.service.accounts.quotas import NOTE_LIMIT, check_notes
from tuning.service.reads.runs import get_run


@dataclass(frozen=True)
class Note:
    author: str
    text: str
    created_at: datetime


def add_note(
    *, session: Session, settings: Settings, run_id: str | uuid.UUID, author: User, text: str
) -> Note:
    """A note by `author` on a run they may note; InvalidInput if it is empty or too long,
    QuotaExceeded if the run holds MAX_NOTES_PER_RUN notes."""
    run = get_run(session=session, run_id=run_id, viewer=author, to=Action.NOTE)
    text = text.strip()
    if not text:
        raise InvalidInput("text", "a note needs some text")
    if len(text) > NOTE_LIMIT:
        raise InvalidInput("text", f"{len(text):,} characters; the limit is {NOTE_LIMIT:,}")
    assert author.id is not None, "a stored user"
    check_notes(session=session, settings=settings, user=author, run_id=run.id)
    note = RunNote(run_id=run.id, author_id=author.id, text=text)
    session.add(note)
    session.commit()
    return Note(author.name, text, as_utc(note.created_at) or note.created_at)


def list_notes(*, session: Session, run_id: str | uuid.UUID, viewer: User) -> list[Note]:
    """A run's notes, oldest first, with their authors' names."""
    run = get_run(session=session, run_id=run_id, viewer=viewer, to=Action.READ)
    rows = session.exec(
        select(RunNote, User.name)
        .join(User, col(User.id) == RunNote.author_id)
        .where(RunNote.run_id == run.id)
        .order_by(col(RunNote.created_at), col(RunNote.id))
    ).all()
    return [
        Note(name, note.text, as_utc(note.created_at) or note.created_at) for note, name in rows
    ]
