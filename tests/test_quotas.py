"""Quotas through the real API on the test database (SQLite, or PostgreSQL with
TEST_DATABASE_URL): each limit is a 429 (413 for bytes) naming the limit and the use, stores
nothing, and frees when the run ends or the upload is deleted; two submissions at once do not
both take the last slot."""

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func
from sqlmodel import Session, col, select

from tuning.api.app import create_app
from tuning.errors import QuotaExceeded
from tuning.models import Dataset, RunNote, TuningRun, User
from tuning.runtime import Runtime
from tuning.schemas import TuningRunCreate
from tuning.service import create_user, submit_run, user_quotas
from tuning.service.accounts import quotas

from factories import rare_yes_csv
from fakes import RecordingQueue

pytestmark = pytest.mark.database

GRID = {"n_estimators": [10, 20], "max_depth": [None, 3]}  # 4 candidates, 12 fits at cv=3
LIMITS = {
    "max_active_runs_per_user": 2,
    "max_fits_per_run": 20,
    "max_upload_bytes_per_user": 2 * len(rare_yes_csv()) - 1,  # one upload, not two
    "max_notes_per_run": 2,
}


@pytest.fixture
def limited(runtime: Runtime) -> Runtime:
    """The test database with small limits, and a queue that keeps what it is sent (no
    worker runs these runs, so each stays active until the test ends it)."""
    settings = runtime.settings.model_copy(update=LIMITS)
    return replace(runtime, settings=settings, queue=RecordingQueue())


@pytest.fixture
def client(limited: Runtime) -> TestClient:
    return TestClient(create_app(limited))


@pytest.fixture
def analyst(limited: Runtime) -> Iterator[tuple[User, dict[str, str]]]:
    with Session(limited.engine, expire_on_commit=False) as session:
        user, token = create_user(session=session, name=f"quota-{uuid.uuid4().hex[:8]}")
    yield user, {"Authorization": f"Bearer {token}"}


def tune(client: TestClient, headers: dict[str, str], **body: Any) -> Any:
    body = {"dataset": "iris", "estimator": "RandomForestClassifier", "param_grid": GRID, **body}
    return client.post("/api/v1/tuning/tune", json={"cv": 3, **body}, headers=headers)


def count(runtime: Runtime, table: Any, *where: Any) -> int:
    with Session(runtime.engine) as session:
        return session.exec(select(func.count()).select_from(table).where(*where)).one()


def refused(response: Any, code: int, setting: str, limit: int, used: int) -> str:
    """The answer's message, once its code and numbers are checked."""
    assert response.status_code == code, response.text
    body = response.json()
    assert (body["quota"], body["limit"], body["used"]) == (setting, limit, used)
    assert f"({setting})" in body["detail"]
    return str(body["detail"])


def test_active_runs_over_the_limit_are_refused_with_the_numbers_and_free_when_one_ends(
    client, limited, analyst
):
    user, headers = analyst
    first, _ = (tune(client, headers).json()["tuning_run_id"] for _ in range(2))
    mine = col(TuningRun.owner_id) == user.id

    detail = refused(tune(client, headers), 429, "MAX_ACTIVE_RUNS_PER_USER", 2, 2)
    assert detail == (
        "you have 2 active tuning runs (queued or running), the limit is 2 "
        "(MAX_ACTIVE_RUNS_PER_USER); wait for one to finish or cancel one"
    )
    assert count(limited, TuningRun, mine) == 2  # the refused run was not stored

    cancelled = client.post(f"/api/v1/tuning/tune/{first}/cancel", headers=headers)
    assert cancelled.json()["status"] == "REVOKED"
    assert tune(client, headers).status_code == 202

    assert limited.queue.run_sent(engine=limited.engine, settings=limited.settings) > 0
    assert count(limited, TuningRun, mine, col(TuningRun.status) == "SUCCESS") == 2
    assert all(tune(client, headers).status_code == 202 for _ in range(2))


def test_a_run_of_more_fits_than_the_limit_is_refused_and_halving_counts_its_rows(
    client, limited, analyst
):
    user, headers = analyst
    grid = {**GRID, "min_samples_leaf": [1, 2]}  # 8 candidates x 3 folds

    detail = refused(tune(client, headers, param_grid=grid), 429, "MAX_FITS_PER_RUN", 20, 24)
    assert detail.startswith("this run makes 24 fits (8 candidates x 3 folds), the limit is 20")
    assert count(limited, TuningRun, col(TuningRun.owner_id) == user.id) == 0

    # Halving over the same grid: 8 + 3 trials, 33 fits, but those of the first rung on a
    # third of the rows: its cost is 8/3 + 3 candidates on every row, 17 fits.
    accepted = tune(client, headers, param_grid=grid, search="halving")
    assert accepted.status_code == 202, accepted.text
    with Session(limited.engine) as session:
        run = session.get(TuningRun, uuid.UUID(accepted.json()["tuning_run_id"]))
        assert run is not None and run.total_combinations * run.cv == 33

    # 32 candidates: 32 on 18 rows and 11 on 54, x 3 folds: 23.4 fits on every row.
    wider = {**grid, "n_estimators": [10, 20, 30, 40, 50, 60, 70, 80]}
    response = tune(client, headers, param_grid=wider, search="halving")
    detail = refused(response, 429, "MAX_FITS_PER_RUN", 20, 24)
    assert detail.startswith("this run costs 24 fits on every row (43 candidates x 3 folds over")


def test_uploads_over_the_users_bytes_are_refused_with_413_archived_ones_count_until_deleted(
    client, limited, analyst
):
    user, headers = analyst
    content = rare_yes_csv()

    def upload() -> Any:
        files = {"file": ("answers.csv", content, "text/csv")}
        name = f"answers-{uuid.uuid4().hex[:6]}"
        return client.post(
            "/api/v1/datasets",
            files=files,
            data={"target": "answer", "name": name},
            headers=headers,
        )

    first = upload()
    assert first.status_code == 201, first.text
    mine = col(Dataset.owner_id) == user.id
    limit = LIMITS["max_upload_bytes_per_user"]
    detail = refused(upload(), 413, "MAX_UPLOAD_BYTES_PER_USER", limit, len(content))
    assert f"your uploads hold {len(content):,} bytes and this file is {len(content):,}" in detail
    assert count(limited, Dataset, mine) == 1

    dataset_url = f"/api/v1/datasets/{first.json()['id']}"
    client.patch(dataset_url, json={"archived": True}, headers=headers).raise_for_status()
    assert upload().status_code == 413
    assert client.delete(dataset_url, headers=headers).status_code == 204
    assert upload().status_code == 201


def test_notes_over_the_limit_on_a_run_are_refused(client, limited, analyst):
    _, headers = analyst
    run_id = tune(client, headers).json()["tuning_run_id"]
    url = f"/api/v1/tuning/tune/{run_id}/notes"
    for text in ("first", "second"):
        assert client.post(url, json={"text": text}, headers=headers).status_code == 201

    detail = refused(
        client.post(url, json={"text": "third"}, headers=headers), 429, "MAX_NOTES_PER_RUN", 2, 2
    )
    assert detail.startswith("this run has 2 notes, the limit is 2 per run")
    assert count(limited, RunNote, col(RunNote.run_id) == uuid.UUID(run_id)) == 2


def test_admins_are_exempt_unless_the_setting_says_otherwise(limited):
    with Session(limited.engine, expire_on_commit=False) as session:
        _, token = create_user(session=session, name=f"lead-{uuid.uuid4().hex[:8]}", is_admin=True)
    headers = {"Authorization": f"Bearer {token}"}
    client = TestClient(create_app(limited))
    assert all(tune(client, headers).status_code == 202 for _ in range(3))
    assert client.get("/api/v1/me/quotas", headers=headers).json()["exempt"] is True

    strict = limited.settings.model_copy(update={"quotas_exempt_admins": False})
    client = TestClient(create_app(replace(limited, settings=strict)))
    refused(tune(client, headers), 429, "MAX_ACTIVE_RUNS_PER_USER", 2, 3)


def test_me_quotas_shows_each_limit_and_the_users_use(client, analyst):
    _, headers = analyst
    tune(client, headers)
    body = client.get("/api/v1/me/quotas", headers=headers).json()

    assert body["exempt"] is False
    assert body["active_runs"] == {"setting": "MAX_ACTIVE_RUNS_PER_USER", "limit": 2, "used": 1}
    assert body["fits_per_run"] == {"setting": "MAX_FITS_PER_RUN", "limit": 20, "used": None}
    assert body["upload_bytes"]["used"] == 0
    assert body["notes_per_run"]["limit"] == 2
    assert body["note_chars"] == {"setting": "NOTE_LIMIT", "limit": 2000, "used": None}


def test_two_submissions_at_once_do_not_both_take_the_last_slot(limited, analyst, monkeypatch):
    """Each submission counts, then waits a moment before it stores its run: without the lock
    on the user's row, both would count one active run and both would be stored."""
    user, _ = analyst
    counted = quotas.count_active_runs

    def slow_count(session: Session, user_id: int) -> int:
        n = counted(session, user_id)
        time.sleep(0.3)
        return n

    monkeypatch.setattr(quotas, "count_active_runs", slow_count)
    submit(limited, user)  # one of the two slots
    outcomes = at_once(lambda: submit(limited, user), n=2)

    assert sorted(type(outcome).__name__ for outcome in outcomes) == ["QuotaExceeded", "UUID"]
    assert count(limited, TuningRun, col(TuningRun.owner_id) == user.id) == 2
    with Session(limited.engine) as session:
        assert (
            user_quotas(session=session, settings=limited.settings, user=user).active_runs.used == 2
        )


def submit(runtime: Runtime, owner: User) -> uuid.UUID:
    with Session(runtime.engine, expire_on_commit=False) as session:
        run_in = TuningRunCreate(
            dataset="iris", estimator="RandomForestClassifier", param_grid=GRID, cv=3
        )
        return submit_run(
            session=session,
            queue=runtime.queue,
            settings=runtime.settings,
            owner=owner,
            run_in=run_in,
        ).id


def at_once(call: Callable[[], Any], *, n: int) -> list[Any]:
    """`call` in `n` threads released together: each one's result, or the QuotaExceeded."""
    barrier, outcomes = threading.Barrier(n), []

    def one() -> None:
        barrier.wait()
        try:
            outcomes.append(call())
        except QuotaExceeded as exc:
            outcomes.append(exc)

    threads = [threading.Thread(target=one) for _ in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return outcomes
