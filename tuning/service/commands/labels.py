"""A run's name and tags, checked the same way at launch and later, and a run renamed, tagged,
archived or restored.

Tags are trimmed and lower-cased, so that "Baseline" and "baseline " are one tag and the
filter on Runs finds both; each is kept once, in the order given. They are stored twice: in
the run's `tags` column (read with the run) and as `run_tag` rows (an index to filter on).
"""

import unicodedata
import uuid
from collections.abc import Sequence

from sqlalchemy import delete
from sqlmodel import Session, col

from tuning.domain import utcnow
from tuning.errors import Forbidden, InvalidInput, shown
from tuning.models import RunTag, TuningRun, User
from tuning.schemas import RunChange
from tuning.service.accounts.access import Action
from tuning.service.reads.runs import RunSummary, get_run, get_run_summary

RUN_NAME_LIMIT = 200
TAG_LIMIT = 50
TAGS_PER_RUN = 20


def _control_character(text: str) -> str | None:
    return next((c for c in text if unicodedata.category(c) == "Cc"), None)


def clean_name(name: str | None) -> str | None:
    """A run's name trimmed; None for no name. InvalidInput("name") when it cannot be one."""
    if name is None or not name.strip():
        return None
    name = name.strip()
    if len(name) > RUN_NAME_LIMIT:
        raise InvalidInput("name", f"{len(name):,} characters; the limit is {RUN_NAME_LIMIT}")
    if (found := _control_character(name)) is not None:
        raise InvalidInput("name", f"contains a control character ({found!r}); remove it")
    return name


def clean_tags(tags: Sequence[str] | None) -> list[str]:
    """Tags trimmed, lower-cased and each kept once, in order; InvalidInput("tags") names the
    tag at fault."""
    cleaned: list[str] = []
    for position, raw in enumerate(tags or [], start=1):
        tag = raw.strip().lower()
        where = f"tag {position} ({shown(raw, 40)})"
        if not tag:
            raise InvalidInput("tags", f"{where} is empty")
        if len(tag) > TAG_LIMIT:
            raise InvalidInput("tags", f"{where} has {len(tag):,} characters; the limit is 50")
        if "," in tag:
            raise InvalidInput("tags", f"{where} contains a comma: give each tag on its own")
        if _control_character(tag) is not None:
            raise InvalidInput("tags", f"{where} contains a control character; remove it")
        if tag not in cleaned:
            cleaned.append(tag)
    if len(cleaned) > TAGS_PER_RUN:
        raise InvalidInput("tags", f"{len(cleaned)} tags; a run has at most {TAGS_PER_RUN}")
    return cleaned


def label_errors(name: str | None, tags: Sequence[str] | None) -> dict[str, str]:
    """What is wrong with a name and tags, by field ({} if nothing), to show all at once."""
    errors = {}
    for check in (lambda: clean_name(name), lambda: clean_tags(tags)):
        try:
            check()
        except InvalidInput as exc:
            errors[exc.field] = exc.reason
    return errors


def set_tags(session: Session, run: TuningRun, tags: list[str]) -> None:
    """The run's tags, cleaned, in its column and its `run_tag` rows (not committed)."""
    run.tags = tags or None
    session.add(run)
    session.flush()  # the run's row first: its tags refer to it
    session.execute(delete(RunTag).where(col(RunTag.run_id) == run.id))
    session.add_all(RunTag(run_id=run.id, tag=tag) for tag in tags)


def change_run(
    *, session: Session, run_id: str | uuid.UUID, viewer: User, change: RunChange
) -> RunSummary:
    """Rename, retag, archive or restore a run, or (admins only) set its priority: the fields
    `change` was sent with. Its owner and admins only (NotFound or Forbidden, as for reading
    it)."""
    run = get_run(session=session, run_id=run_id, viewer=viewer, to=Action.CHANGE)
    sent = change.model_fields_set
    if change.priority is not None:
        if not viewer.is_admin:
            raise Forbidden("only an admin sets a run's priority")
        run.priority = change.priority
    name = clean_name(change.name) if "name" in sent else run.name
    tags = clean_tags(change.tags) if "tags" in sent else None  # checked before any write
    run.name = name
    if tags is not None:
        set_tags(session, run, tags)
    if change.archived is not None:
        run.archived_at = (run.archived_at or utcnow()) if change.archived else None
    session.add(run)
    session.commit()
    return get_run_summary(session=session, run_id=run.id, viewer=viewer)
