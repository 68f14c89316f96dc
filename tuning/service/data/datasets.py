"""Datasets in the database: bundled ones by name, everyone's; uploaded CSV files with their
content, private to the user who uploaded them (and visible to admins), unless they share one."""

import contextlib
import io
import unicodedata
import uuid
from dataclasses import dataclass, fields, replace
from datetime import datetime
from typing import Any

import pandas as pd
from sqlalchemy import or_, update
from sqlalchemy import select as sa_select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import Session, col, select

from tuning.config import Settings
from tuning.domain import TaskType, as_utc
from tuning.errors import InvalidInput, NotFound, shown
from tuning.ml.checks import ClassCount, label_counts
from tuning.ml.datasets import BUNDLED, Table, load_bundled, profile_of, read_csv
from tuning.models import Dataset, DatasetFile, User
from tuning.service.accounts.access import Action, only_usable, parse_id, require_dataset
from tuning.service.accounts.quotas import check_upload_bytes
from tuning.service.data.files import dataset_bytes
from tuning.service.data.names import clean_dataset_name

# The longest dataset name or target column name stored.
NAME_LIMIT = 200


def get_dataset(*, session: Session, name: str, viewer: User) -> Dataset:
    """The dataset `viewer` means by `name` (or by id): their own upload first, then a bundled
    one, then (admins only) the one other user's upload of that name. Anything `viewer` may not
    use reads as unknown, so a name's existence never leaks."""
    rows = _usable(session, viewer, name)
    mine = [d for d in rows if d.owner_id == viewer.id]
    bundled = [d for d in rows if d.owner_id is None]
    chosen = mine or bundled or rows
    if len(chosen) == 1:
        return chosen[0]
    if chosen:
        raise InvalidInput(
            "dataset",
            f"{len(chosen)} users have a dataset named {shown(name)}; give its id instead",
        )
    names = session.exec(
        only_usable(select(Dataset.name), Dataset.owner_id, viewer)
        .distinct()
        .order_by(Dataset.name)
        .limit(30)
    ).all()
    available = ", ".join(shown(n, 40) for n in names)
    raise InvalidInput("dataset", f"unknown dataset {shown(name)}; available: {available}")


def _usable(session: Session, viewer: User, name: str) -> list[Dataset]:
    # Names are stored NFKC-normalised (those stored before, as they were typed).
    named = col(Dataset.name).in_({name, unicodedata.normalize("NFKC", name)})
    query = select(Dataset).where(named)
    with contextlib.suppress(ValueError):  # or by id
        by_id = col(Dataset.id) == uuid.UUID(name)
        query = select(Dataset).where(or_(named, by_id))
    # The file is not read here (it is a DatasetFile: only load_table reads it): New run
    # checks a submission at every widget change, and an upload may be 50 MB.
    return list(session.exec(only_usable(query, Dataset.owner_id, viewer)).all())


def get_dataset_by_id(
    *, session: Session, dataset_id: str | uuid.UUID, viewer: User, to: Action = Action.USE
) -> Dataset:
    """One dataset `viewer` may do `to` with; NotFound for one they may not use (no leak),
    Forbidden for a shared one that they may use but not do `to` with."""
    key = parse_id(dataset_id, field="dataset_id")
    return require_dataset(session, session.get(Dataset, key), viewer=viewer, action=to, key=key)


def dataset_file(*, session: Session, dataset_id: str | uuid.UUID, viewer: User) -> bytes:
    """An upload's CSV file, as uploaded, for `viewer` to download: its owner, admins and those
    it is shared with to download (`dataset_bytes` reads it unchecked); a bundled dataset has
    none (NotFound)."""
    dataset = get_dataset_by_id(session=session, dataset_id=dataset_id, viewer=viewer)
    if dataset.owner_id is None:
        raise NotFound(f"dataset {shown(dataset.name)} is bundled: it has no uploaded file")
    dataset = get_dataset_by_id(
        session=session, dataset_id=dataset.id, viewer=viewer, to=Action.DOWNLOAD
    )
    return dataset_bytes(session=session, dataset_id=dataset.id)


def _archived(archived: bool) -> Any:
    stored = col(Dataset.archived_at)
    return stored.is_not(None) if archived else stored.is_(None)


def upload_dataset(
    *,
    session: Session,
    owner: User,
    name: str,
    content: bytes,
    target: str,
    settings: Settings,
    task: TaskType | None = None,
) -> Dataset:
    """Check, profile and store a CSV file, so that a worker on any host can read it; it is
    `owner`'s. The task is read from the target unless given. At most MAX_UPLOAD_BYTES per
    file (InvalidInput) and MAX_UPLOAD_BYTES_PER_USER in all (StorageQuotaExceeded)."""
    name = clean_dataset_name(name, bundled=list(BUNDLED), limit=NAME_LIMIT)
    if len(target) > NAME_LIMIT:
        raise InvalidInput("target", f"{len(target):,} characters; the limit is {NAME_LIMIT}")
    taken = select(Dataset.id).where(Dataset.name == name, Dataset.owner_id == owner.id)
    if session.exec(taken).first() is not None:
        raise InvalidInput("name", f"you already have a dataset named {shown(name)}")
    table = read_csv(content, target, max_bytes=settings.max_upload_bytes, task=task)
    check_upload_bytes(session=session, settings=settings, user=owner, size=len(content), hold=True)
    dataset = Dataset(
        name=name,
        kind="csv",
        task=table.task,
        target=target,
        size_bytes=len(content),
        n_rows=len(table.y),
        n_columns=table.X.shape[1],
        owner_id=owner.id,
        classes=_classes_of(table),
        profile=profile_of(table, target, task_inferred=task is None),
    )
    session.add(dataset)
    try:
        session.flush()  # the row its file refers to, first
        session.add(DatasetFile(dataset_id=dataset.id, content=content))
        session.commit()
    except IntegrityError:  # the same name, uploaded twice at once
        session.rollback()
        raise InvalidInput("name", f"you already have a dataset named {shown(name)}") from None
    session.refresh(dataset)
    return dataset


def dataset_classes(*, session: Session, dataset: Dataset) -> list[ClassCount] | None:
    """A classification dataset's labels with their row counts (None for regression); read
    from the table once, then kept on the row."""
    if dataset.task is not TaskType.CLASSIFICATION:
        return None
    if dataset.classes is None:  # bundled, or uploaded before labels were kept
        classes = _classes_of(load_table(session=session, dataset_id=dataset.id))
        _keep(session, dataset, classes=classes)
    return [(label, count) for label, count in dataset.classes or []]


def dataset_profile(*, session: Session, dataset: Dataset) -> dict[str, Any]:
    """Each column's kind, gaps, levels and default role, the target's, and the columns no
    estimator can take (tuning.ml.profile); computed at upload, or for bundled and older
    datasets once at first use (the unusable columns of a profile kept before they were
    looked for, too), then kept."""
    if dataset.profile is None or "unusable" not in dataset.profile:
        table = load_table(session=session, dataset_id=dataset.id)
        profile = dataset.profile or profile_of(table, dataset.target or "target")
        profile = {**profile, "unusable": list(table.unusable)}
        _keep(session, dataset, profile=profile)
        return profile
    return dataset.profile


def dataset_profile_by_id(*, session: Session, dataset_id: uuid.UUID) -> dict[str, Any]:
    """`dataset_profile` of a run's dataset, by its id (a run keeps the id)."""
    dataset = session.get(Dataset, dataset_id)
    if dataset is None:
        raise NotFound(f"no dataset with id {dataset_id}")
    return dataset_profile(session=session, dataset=dataset)


def _keep(session: Session, dataset: Dataset, **values: Any) -> None:
    """Store what was read from a dataset's table on its row, and show it on `dataset` as if
    loaded: the caller's session writes nothing (a change it held would lock SQLite against the
    next keep) and stays as it was (its transaction and loaded rows)."""
    with Session(session.get_bind()) as own:
        own.execute(update(Dataset).where(col(Dataset.id) == dataset.id).values(**values))
        own.commit()
    for name, value in values.items():
        set_committed_value(dataset, name, value)


def _classes_of(table: Table) -> list[list[Any]] | None:
    if table.task is not TaskType.CLASSIFICATION:
        return None
    return [[label, count] for label, count in label_counts(table.y)]


def load_table(*, session: Session, dataset_id: uuid.UUID) -> Table:
    """The features and target of a stored dataset."""
    dataset = session.get(Dataset, dataset_id)
    if dataset is None:
        raise NotFound(f"no dataset with id {dataset_id}")
    if dataset.kind == "bundled":
        return load_bundled(dataset.name)
    assert dataset.target is not None
    content = dataset_bytes(session=session, dataset_id=dataset.id)
    return read_csv(content, dataset.target, stored=dataset.task)


# --- Lists of datasets -----------------------------------------------------------------------


@dataclass(frozen=True)
class DatasetSummary:
    """A dataset as its lists show it (the API's, New run's pickers, the uploads manager): its
    row's small columns, never its file, profile or labels."""

    id: uuid.UUID
    name: str
    kind: str  # "bundled" or "csv"
    task: TaskType
    target: str | None
    n_rows: int
    n_columns: int
    owner_id: int | None  # None: bundled, everyone's
    created_at: datetime
    archived_at: datetime | None
    owner: str | None  # its owner's name; None: bundled
    description: str  # the bundled set's own, else whose upload it is, as the viewer sees it


# The listed columns, in DatasetSummary's order (the last, the description, is built here).
_SUMMARY_FIELDS = [f.name for f in fields(DatasetSummary)][:-1]
_SUMMARY_COLUMNS = (*(col(getattr(Dataset, name)) for name in _SUMMARY_FIELDS[:-1]), col(User.name))


def list_datasets(
    *, session: Session, viewer: User, archived: bool = False
) -> list[DatasetSummary]:
    """Bundled datasets, then `viewer`'s uploads and those shared with them (an admin's:
    everyone's), by name; the archived ones instead with `archived`. One query of the listed
    columns: no file is read."""
    query = sa_select(*_SUMMARY_COLUMNS).outerjoin(User, col(User.id) == Dataset.owner_id)
    query = only_usable(query, col(Dataset.owner_id), viewer)
    query = query.where(_archived(archived)).order_by(col(Dataset.kind), col(Dataset.name))
    return [_summary(viewer, *row) for row in session.execute(query).all()]


def _summary(viewer: User, *values: Any) -> DatasetSummary:
    listed = dict(zip(_SUMMARY_FIELDS, values, strict=True))
    summary = DatasetSummary(**listed, description="uploaded CSV")
    bundled = BUNDLED.get(summary.name) if summary.kind == "bundled" else None
    description = bundled.description if bundled else "uploaded CSV"
    if summary.owner is not None and summary.owner_id != viewer.id:
        owner = summary.owner
        description = f"uploaded CSV, {owner}'s" if viewer.is_admin else f"shared by {owner}"
    return replace(
        summary,
        task=TaskType(summary.task),
        created_at=as_utc(summary.created_at),  # SQLite hands back naive datetimes
        archived_at=as_utc(summary.archived_at),
        description=description,
    )


@dataclass(frozen=True)
class CsvPreview:
    """An upload before it is stored: its first rows, its profile (each column's kind, gaps,
    levels and default role; the target's task and classes; warnings) and its task."""

    head: pd.DataFrame
    n_rows: int
    profile: dict[str, Any]
    task: TaskType


def csv_columns(content: bytes) -> list[str]:
    """The header of an uploaded CSV file, to choose the target from."""
    try:
        header = pd.read_csv(io.BytesIO(content), nrows=0)
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise InvalidInput("file", f"not a readable CSV file: {str(exc)[:200]}") from exc
    return [str(column) for column in header.columns]


def preview_csv(
    *,
    content: bytes,
    target: str,
    max_bytes: int,
    task: TaskType | None = None,
    n_head: int = 10,
) -> CsvPreview:
    """Read an upload as `upload_dataset` will; InvalidInput names the file or the target."""
    table = read_csv(content, target, max_bytes=max_bytes, task=task)
    head = table.X.head(n_head).assign(**{target: table.y.head(n_head)})
    profile = profile_of(table, target, task_inferred=task is None)
    return CsvPreview(head, len(table.y), profile, table.task)
