"""Migration 0015 moves an upload's CSV and a model's file out of the rows that lists read into
tables of their own, and back on downgrade: a database holding both, stored by the revision
before, finds the same bytes after either way (on SQLite, and PostgreSQL with
TEST_DATABASE_URL, in a database of its own, dropped after)."""

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlmodel import Session

from tuning.config import Settings
from tuning.db import alembic_config, create_db_engine
from tuning.models import Dataset, DatasetFile, Model, ModelFile
from tuning.service import dataset_bytes, load_table, model_bytes

from factories import rare_yes_csv
from stack import fresh_database

pytestmark = pytest.mark.database

UUID, TEXT = sa.Uuid(), sa.String()
STATUS = sa.Enum("PENDING", "PROGRESS", "SUCCESS", "FAILURE", "REVOKED", name="runstatus")
TASK = sa.Enum("CLASSIFICATION", "REGRESSION", name="tasktype")
NOW = sa.DateTime(timezone=True)

# The tables as the revision before 0015 has them: the columns a row needs, the files inside.
USER = sa.table(
    "user", sa.column("id", sa.Integer()), *(sa.column(c, TEXT) for c in ("name", "token_hash"))
)
USER.append_column(sa.column("is_admin", sa.Boolean()))
USER.append_column(sa.column("created_at", NOW))
DATASET = sa.table(
    "dataset",
    sa.column("id", UUID),
    *(sa.column(c, TEXT) for c in ("name", "kind", "target")),
    sa.column("task", TASK),
    sa.column("content", sa.LargeBinary()),
    *(sa.column(c, sa.Integer()) for c in ("n_rows", "n_columns", "owner_id")),
    sa.column("created_at", NOW),
)
TRAINING = sa.table(
    "training_run",
    *(sa.column(c, UUID) for c in ("id", "dataset_id", "model_id")),
    sa.column("owner_id", sa.Integer()),
    *(sa.column(c, TEXT) for c in ("estimator", "scoring")),
    sa.column("params", sa.JSON()),
    sa.column("status", STATUS),
    sa.column("created_at", NOW),
)
MODEL = sa.table(
    "trained_model",
    *(sa.column(c, UUID) for c in ("id", "training_run_id")),
    sa.column("owner_id", sa.Integer()),
    sa.column("estimator", TEXT),
    sa.column("file", sa.LargeBinary()),
    sa.column("size_bytes", sa.Integer()),
    sa.column("created_at", NOW),
)


@pytest.fixture
def settings(tmp_path: Path) -> Iterator[Settings]:
    server = os.environ.get("TEST_DATABASE_URL")
    with fresh_database(tmp_path, server, prefix="tuning_files_migration") as url:
        yield Settings(_env_file=None, data_dir=tmp_path, database_url=url)


def revision_before(config: Config) -> str:
    """The revision 0015 follows (0014 today; whichever a later merge puts there)."""
    before = ScriptDirectory.from_config(config).get_revision("0015").down_revision
    assert isinstance(before, str)
    return before


def store_upload_and_model(engine: sa.Engine, csv: bytes, file: bytes) -> tuple[uuid.UUID, ...]:
    """An upload and a trained model as the revision before 0015 stores them, in its rows."""
    dataset_id, training_id, model_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    now = datetime.now(UTC)
    with engine.begin() as connection:
        user = {"name": "ada", "token_hash": "0" * 64, "is_admin": False, "created_at": now}
        owner = connection.execute(sa.insert(USER).values(user).returning(USER.c.id)).scalar()
        connection.execute(
            sa.insert(DATASET).values(
                id=dataset_id, name="rare-yes", kind="csv", target="answer", task="CLASSIFICATION",
                content=csv, n_rows=150, n_columns=3, owner_id=owner, created_at=now,
            )
        )  # fmt: skip
        connection.execute(
            sa.insert(TRAINING).values(
                id=training_id, dataset_id=dataset_id, model_id=model_id, owner_id=owner,
                estimator="Ridge", scoring="r2", params={}, status="SUCCESS", created_at=now,
            )
        )  # fmt: skip
        connection.execute(
            sa.insert(MODEL).values(
                id=model_id, training_run_id=training_id, owner_id=owner, estimator="Ridge",
                file=file, size_bytes=len(file), created_at=now,
            )
        )  # fmt: skip
    return dataset_id, model_id


def test_an_upload_and_a_model_keep_their_bytes_up_and_down(settings):
    config = alembic_config(settings)
    before = revision_before(config)
    command.upgrade(config, before)
    engine = create_db_engine(settings)
    csv, file = rare_yes_csv(), os.urandom(300_000)  # a file longer than a SQLite page
    try:
        dataset_id, model_id = store_upload_and_model(engine, csv, file)

        command.upgrade(config, "head")
        with Session(engine) as session:
            assert dataset_bytes(session=session, dataset_id=dataset_id) == csv
            assert model_bytes(session=session, model_id=model_id) == file
            assert len(load_table(session=session, dataset_id=dataset_id).y) == 150
            # Bundled datasets have no file: one file row for the one upload.
            assert (
                session.execute(sa.select(sa.func.count()).select_from(DatasetFile)).scalar() == 1
            )
            assert session.execute(sa.select(sa.func.count()).select_from(ModelFile)).scalar() == 1
        columns = {t: {c["name"] for c in sa.inspect(engine).get_columns(t)} for t in (
            Dataset.__tablename__, Model.__tablename__
        )}  # fmt: skip
        assert "content" not in columns["dataset"] and "file" not in columns["trained_model"]

        command.downgrade(config, before)
        with engine.connect() as connection:
            stored = sa.select(DATASET.c.content).where(DATASET.c.id == dataset_id)
            assert connection.execute(stored).scalar() == csv
            assert connection.execute(sa.select(MODEL.c.file)).scalar() == file
            bundled = sa.select(DATASET.c.content).where(DATASET.c.kind == "bundled")
            assert set(connection.execute(bundled).scalars()) == {None}
        assert not {"dataset_file", "model_file"} & set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()
