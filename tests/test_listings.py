"""Lists read no stored file (issue 17): every SQL statement a listing sends, through the
service, the API and the dashboard's pages, is read, and none may select an uploaded CSV's
content or a trained model's file. Only the reads that use a file do (the check's own check)."""

import re
import uuid

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session
from test_dashboard import dashboard, open_app  # noqa: F401 (dashboard: a fixture)

from dashboard_ui.support import MODELS_PAGE, NEW_RUN_PAGE
from tuning.api.app import create_app
from tuning.models import User
from tuning.service import (
    archive_dataset,
    create_user,
    get_dataset,
    get_dataset_by_id,
    get_model,
    list_datasets,
    list_training_runs,
    load_table,
    model_bytes,
    read_model,
)

from factories import make_model, make_run, upload_rare_yes
from helpers import recorded_queries

pytestmark = pytest.mark.database

# A SELECT of a stored file, as SQLAlchemy writes one ("dataset_file.content", whatever follows).
FILE_COLUMN = re.compile(r"\b(dataset_file\.content|model_file\.file)\b")


def selects(queries: list[tuple[str, tuple]]) -> list[str]:
    return [sql for sql, _ in queries if sql.lstrip().upper().startswith("SELECT")]


def reading_a_file(queries: list[tuple[str, tuple]]) -> list[str]:
    """The statements among `queries` that select a stored file."""
    return [sql for sql in selects(queries) if FILE_COLUMN.search(sql)]


@pytest.fixture
def account(session: Session) -> tuple[User, str]:
    """A user with two uploads (one of them archived) and a trained model, and their token."""
    user, token = create_user(session=session, name=f"lists-{uuid.uuid4().hex[:8]}")
    upload_rare_yes(session, user)
    archived = upload_rare_yes(session, user)
    archive_dataset(session=session, dataset_id=archived.id, viewer=user, archived=True)
    make_model(session, make_run(session, user), user)
    return user, token


@pytest.fixture
def owner(account: tuple[User, str]) -> User:
    return account[0]


def uploads_of(session: Session, user: User) -> list:
    return [d for d in list_datasets(session=session, viewer=user) if d.owner_id == user.id]


def test_the_check_sees_a_file_read(session, owner):
    """Reading a table and a model's file selects their columns: the check below can fail."""
    upload = uploads_of(session, owner)[0]
    (training,) = list_training_runs(session=session, viewer=owner)
    with recorded_queries() as queries:
        load_table(session=session, dataset_id=upload.id)
        model = get_model(session=session, model_id=training.model_id, viewer=owner)
        assert model_bytes(session=session, model_id=model.id) == b"x"
    assert len(reading_a_file(queries)) == 2, queries


def test_dataset_lists_and_lookups_read_no_file(session, owner):
    with recorded_queries() as queries:
        listed = list_datasets(session=session, viewer=owner)
        archived = list_datasets(session=session, viewer=owner, archived=True)
        upload = next(d for d in listed if d.owner_id == owner.id)
        get_dataset(session=session, name=upload.name, viewer=owner)
        get_dataset_by_id(session=session, dataset_id=upload.id, viewer=owner)
    assert {d.kind for d in listed} == {"bundled", "csv"} and len(archived) == 1
    assert upload.n_rows == 150 and upload.created_at.tzinfo is not None
    assert selects(queries) and not reading_a_file(queries), queries


def test_model_lists_and_reads_read_no_file(session, owner):
    with recorded_queries() as queries:
        (training,) = list_training_runs(session=session, viewer=owner)
        list_training_runs(session=session, viewer=owner, archived=True)
        model = read_model(session=session, model_id=training.model_id, viewer=owner)
    assert model.size_bytes == 0 and model.training_run_id == training.id
    assert selects(queries) and not reading_a_file(queries), queries


def test_the_api_lists_read_no_file(runtime, account):
    _, token = account
    client = TestClient(create_app(runtime))
    headers = {"Authorization": f"Bearer {token}"}
    with recorded_queries() as queries:
        for archived in ("false", "true"):
            answer = client.get(f"/api/v1/datasets?archived={archived}", headers=headers)
            assert answer.status_code == 200
            listed = answer.json()
            assert sum(d["kind"] == "csv" for d in listed) == 1
            assert all(d["profile"] is None for d in listed)
    assert selects(queries) and not reading_a_file(queries), queries


@pytest.mark.usefixtures("dashboard")
def test_the_dashboards_lists_read_no_file(account):
    """New run's dataset picker and uploads manager, and the Models page's list and model."""
    with recorded_queries() as queries:
        app = open_app(account[1], NEW_RUN_PAGE)
        app.switch_page(MODELS_PAGE)
        app.run()
    assert not app.exception, app.exception
    assert selects(queries) and not reading_a_file(queries), queries
