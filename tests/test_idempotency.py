"""Idempotent submissions: the same `Idempotency-Key` and request give the first answer and
store nothing new; another request under the key is a 409. Tune, train, upload and predict, in
sequence through the app on the real database, and at once through a real API server (two
uvicorn processes) on the real database (PostgreSQL with TEST_DATABASE_URL)."""

import threading
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, update
from sqlmodel import Session, col, select

from tuning.api.app import create_app
from tuning.domain import utcnow
from tuning.models import Dataset, IdempotencyKey, TrainingRun, TuningRun, User
from tuning.schemas import TrainingRunCreate
from tuning.service import (
    authenticate,
    create_user,
    execute_training,
    purge_expired_keys,
    reconcile,
    submit_training,
)

from factories import bearer, rare_yes_csv
from fakes import RecordingQueue
from stack import HOST, ApiServer

pytestmark = pytest.mark.database

TUNE = "/api/v1/tuning/tune"
TRAIN = "/api/v1/models/train"
UPLOAD = "/api/v1/datasets"
RUN = {"dataset": "iris", "estimator": "LogisticRegression", "param_grid": {"C": [0.1, 1.0]}}
SAME_RUN_REORDERED = (
    '{ "param_grid": {"C": [0.1, 1.0]},\n  "estimator": "LogisticRegression", "dataset": "iris" }'
)
TRAINING = {"dataset": "iris", "estimator": "LogisticRegression", "params": {"C": 1.0}}
IRIS_ROW = {
    "sepal length (cm)": 5.1,
    "sepal width (cm)": 3.5,
    "petal length (cm)": 1.4,
    "petal width (cm)": 0.2,
}
ROWS = {"rows": [IRIS_ROW]}


@pytest.fixture(scope="module")
def client(runtime) -> TestClient:
    return TestClient(create_app(runtime))


@pytest.fixture
def alice(runtime) -> dict[str, str]:
    return bearer(runtime)


def keyed(headers: dict[str, str], key: str | None = None) -> dict[str, str]:
    return {**headers, "Idempotency-Key": key or str(uuid.uuid4())}


def owner_of(runtime, headers: dict[str, str]) -> User:
    with Session(runtime.engine) as session:
        user = authenticate(session=session, token=headers["Authorization"].split()[1])
    assert user is not None
    return user


def count(runtime, table: Any, headers: dict[str, str]) -> int:
    user = owner_of(runtime, headers)
    column = IdempotencyKey.user_id if table is IdempotencyKey else table.owner_id
    with Session(runtime.engine) as session:
        query = select(func.count()).select_from(table).where(col(column) == user.id)
        return session.exec(query).one()


def upload_files(content: bytes) -> dict[str, Any]:
    return {"file": ("rare.csv", content, "text/csv")}


def test_the_same_key_twice_is_one_run_and_the_first_answer(client, alice, runtime):
    headers = keyed(alice)
    first = client.post(TUNE, json=RUN, headers=headers)
    again = client.post(
        TUNE,
        content=SAME_RUN_REORDERED,  # key order and spacing do not make another request
        headers={**headers, "Content-Type": "application/json"},
    )

    assert first.status_code == again.status_code == 202, again.text
    assert again.json() == first.json()
    assert again.content == first.content
    assert "idempotent-replayed" not in first.headers
    assert again.headers["idempotent-replayed"] == "true"
    assert count(runtime, TuningRun, alice) == 1
    assert count(runtime, IdempotencyKey, alice) == 1


def test_the_same_key_with_another_body_is_a_409_that_stores_nothing(client, alice, runtime):
    headers = keyed(alice)
    assert client.post(TUNE, json=RUN, headers=headers).status_code == 202

    other = client.post(TUNE, json={**RUN, "cv": 3}, headers=headers)

    assert other.status_code == 409
    assert "different request body" in other.json()["detail"]
    assert "Idempotency-Key" in other.json()["detail"]
    assert count(runtime, TuningRun, alice) == 1


def test_the_same_key_on_another_route_is_a_409(client, alice, runtime):
    headers = keyed(alice)
    assert client.post(TUNE, json=RUN, headers=headers).status_code == 202

    other = client.post(TRAIN, json=TRAINING, headers=headers)

    assert other.status_code == 409
    assert f"for POST {TUNE}" in other.json()["detail"]
    assert count(runtime, TrainingRun, alice) == 0


def test_keys_are_each_users_own(client, alice, runtime):
    bob = bearer(runtime)
    key = str(uuid.uuid4())
    first = client.post(TUNE, json=RUN, headers=keyed(alice, key))
    second = client.post(TUNE, json=RUN, headers=keyed(bob, key))
    assert first.status_code == second.status_code == 202
    assert first.json()["tuning_run_id"] != second.json()["tuning_run_id"]


def test_without_the_header_each_request_is_its_own(client, alice, runtime):
    assert client.post(TUNE, json=RUN, headers=alice).status_code == 202
    assert client.post(TUNE, json=RUN, headers=alice).status_code == 202
    assert count(runtime, TuningRun, alice) == 2
    assert count(runtime, IdempotencyKey, alice) == 0


@pytest.mark.parametrize(
    ("key", "words"),
    [("", "empty key"), ("k" * 256, "255"), ("two words", "visible ASCII")],
)
def test_a_key_that_cannot_be_one_is_a_422_naming_the_header(client, alice, runtime, key, words):
    answer = client.post(TUNE, json=RUN, headers=keyed(alice, key) | {"Idempotency-Key": key})
    assert answer.status_code == 422, answer.text
    (error,) = answer.json()["detail"]
    assert [part.lower() for part in error["loc"]] == ["header", "idempotency-key"]
    assert words in error["msg"]
    assert count(runtime, TuningRun, alice) == 0


def test_an_error_keeps_no_key_so_the_request_can_be_sent_again(client, alice, runtime):
    headers = keyed(alice)
    refused = client.post(TUNE, json={**RUN, "estimator": "NoSuchEstimator"}, headers=headers)
    assert refused.status_code == 422
    assert count(runtime, IdempotencyKey, alice) == 0

    fixed = client.post(TUNE, json=RUN, headers=headers)  # the same key, a request that works
    assert fixed.status_code == 202
    assert count(runtime, TuningRun, alice) == 1


def test_a_key_older_than_a_day_is_ignored_and_purged(client, alice, runtime):
    headers = keyed(alice)
    first = client.post(TUNE, json=RUN, headers=headers).json()
    _age_keys(runtime, alice, timedelta(days=1, minutes=1))

    later = client.post(TUNE, json=RUN, headers=headers)  # a day on: a new request
    assert later.status_code == 202
    assert later.json()["tuning_run_id"] != first["tuning_run_id"]
    assert "idempotent-replayed" not in later.headers

    _age_keys(runtime, alice, timedelta(days=2))
    with Session(runtime.engine) as session:
        assert purge_expired_keys(session=session) >= 1
    assert count(runtime, IdempotencyKey, alice) == 0


def test_the_reconciler_purges_old_keys(client, alice, runtime):
    client.post(TUNE, json=RUN, headers=keyed(alice))
    _age_keys(runtime, alice, timedelta(days=1, seconds=1))
    with Session(runtime.engine) as session:
        done = reconcile(session=session, queue=runtime.queue, settings=runtime.settings)
    assert done.purged_keys >= 1
    assert count(runtime, IdempotencyKey, alice) == 0


def _age_keys(runtime, headers: dict[str, str], age: timedelta) -> None:
    user = owner_of(runtime, headers)
    with Session(runtime.engine) as session:
        session.execute(
            update(IdempotencyKey)
            .where(col(IdempotencyKey.user_id) == user.id)
            .values(created_at=utcnow() - age)
        )
        session.commit()


def test_train_the_same_key_twice_and_another_body(client, alice, runtime):
    headers = keyed(alice)
    first = client.post(TRAIN, json=TRAINING, headers=headers)
    again = client.post(TRAIN, json=TRAINING, headers=headers)
    other = client.post(TRAIN, json={**TRAINING, "params": {"C": 2.0}}, headers=headers)

    assert first.status_code == again.status_code == 202, first.text
    assert again.json() == first.json()
    assert other.status_code == 409
    assert count(runtime, TrainingRun, alice) == 1


def test_upload_the_same_key_twice_and_another_file(client, alice, runtime):
    headers = keyed(alice)
    form = {"target": "answer", "name": f"rare-{uuid.uuid4().hex[:6]}"}
    # Each send draws a new multipart boundary: the same fields and file are the same request.
    first = client.post(UPLOAD, data=form, files=upload_files(rare_yes_csv()), headers=headers)
    again = client.post(UPLOAD, data=form, files=upload_files(rare_yes_csv()), headers=headers)
    other = client.post(
        UPLOAD, data=form, files=upload_files(rare_yes_csv(seed=1)), headers=headers
    )

    assert first.status_code == again.status_code == 201, first.text
    assert again.content == first.content
    assert other.status_code == 409
    assert count(runtime, Dataset, alice) == 1


@pytest.fixture(scope="module")
def model_id(runtime) -> tuple[str, dict[str, str]]:
    """A LogisticRegression trained on iris in this process (no worker needed: its task is only
    recorded, so that a worker of the stack tier cannot take it too), and its owner's header."""
    with Session(runtime.engine, expire_on_commit=False) as session:
        owner, token = create_user(session=session, name=f"trainer-{uuid.uuid4().hex[:8]}")
        training_id = submit_training(
            session=session,
            queue=RecordingQueue(),
            owner=owner,
            request=TrainingRunCreate(**TRAINING),
        ).id
    execute_training(engine=runtime.engine, training_run_id=training_id)
    with Session(runtime.engine) as session:
        training = session.get(TrainingRun, training_id)
        assert training is not None and training.model_id is not None, training
        return str(training.model_id), {"Authorization": f"Bearer {token}"}


def test_predict_the_same_key_twice_and_other_rows(client, runtime, model_id):
    model, owner = model_id
    url = f"/api/v1/models/{model}/predict"
    headers = keyed(owner)
    first = client.post(url, json=ROWS, headers=headers)
    again = client.post(url, json=ROWS, headers=headers)
    as_csv = client.post(url, params={"format": "csv"}, json=ROWS, headers=headers)
    other = client.post(url, json={"rows": ROWS["rows"] * 2}, headers=headers)

    assert first.status_code == again.status_code == 200, first.text
    assert again.content == first.content
    assert again.headers["idempotent-replayed"] == "true"
    assert as_csv.status_code == other.status_code == 409  # the query is part of the request
    assert count(runtime, IdempotencyKey, owner) == 1


def test_the_header_is_in_the_openapi_of_each_route(client):
    paths = client.get("/openapi.json").json()["paths"]
    for path in (TUNE, TRAIN, UPLOAD, "/api/v1/models/{model_id}/predict"):
        operation = paths[path]["post"]
        names = [parameter["name"] for parameter in operation.get("parameters", [])]
        assert "Idempotency-Key" in names, path
        assert "409" in operation["responses"], path


# --- At once, through a real server ----------------------------------------------------------


@pytest.fixture(scope="module")
def api_processes(settings, data_dir):
    """`python -m tuning api --workers 2`: two processes that share nothing but the database."""
    command = ("-m", "tuning", "api", "--host", HOST, "--workers", "2")
    with ApiServer(settings, data_dir / "api-idempotency.log", command=command) as server:
        yield server.url


def at_once(n: int, send: Callable[[int], httpx.Response]) -> list[httpx.Response]:
    """`send(i)` from `n` threads released together."""
    ready = threading.Barrier(n)
    answers: list[httpx.Response | None] = [None] * n

    def one(index: int) -> None:
        ready.wait()
        answers[index] = send(index)

    threads = [threading.Thread(target=one, args=(index,)) for index in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert all(answer is not None for answer in answers), "a request did not come back"
    return [answer for answer in answers if answer is not None]


def same_answers(answers: list[httpx.Response], status_code: int) -> None:
    assert {answer.status_code for answer in answers} == {status_code}, [
        answer.text for answer in answers
    ]
    assert len({answer.content for answer in answers}) == 1


@pytest.mark.stack
@pytest.mark.parametrize("route", ["tune", "train", "upload"])
def test_copies_sent_at_once_create_one_and_all_get_its_answer(api_processes, runtime, route):
    owner = bearer(runtime)
    headers = keyed(owner)
    name = f"rare-{uuid.uuid4().hex[:6]}"
    content = rare_yes_csv()

    def send(_: int) -> httpx.Response:
        url = api_processes
        if route == "tune":
            return httpx.post(url + TUNE, json=RUN, headers=headers, timeout=60)
        if route == "train":
            return httpx.post(url + TRAIN, json=TRAINING, headers=headers, timeout=60)
        form = {"target": "answer", "name": name}
        return httpx.post(
            url + UPLOAD, data=form, files=upload_files(content), headers=headers, timeout=60
        )

    answers = at_once(8, send)

    same_answers(answers, 201 if route == "upload" else 202)
    table = {"tune": TuningRun, "train": TrainingRun, "upload": Dataset}[route]
    assert count(runtime, table, owner) == 1
    assert count(runtime, IdempotencyKey, owner) == 1


@pytest.mark.stack
def test_predictions_sent_at_once_all_get_the_first_answer(api_processes, runtime, model_id):
    model, owner = model_id
    headers = keyed(owner)
    url = f"{api_processes}/api/v1/models/{model}/predict"

    answers = at_once(6, lambda _: httpx.post(url, json=ROWS, headers=headers, timeout=60))

    same_answers(answers, 200)
    with Session(runtime.engine) as session:
        stored = session.exec(
            select(IdempotencyKey).where(IdempotencyKey.key == headers["Idempotency-Key"])
        ).all()
    assert len(stored) == 1 and stored[0].response == answers[0].text


@pytest.mark.stack
def test_other_bodies_at_once_under_one_key_store_one(api_processes, runtime):
    owner = bearer(runtime)
    headers = keyed(owner)

    answers = at_once(
        6,
        lambda i: httpx.post(
            api_processes + TUNE,
            json={**RUN, "param_grid": {"C": [0.1 * (i + 1)]}},
            headers=headers,
            timeout=60,
        ),
    )

    codes = sorted(answer.status_code for answer in answers)
    assert codes == [202] + [409] * 5, [answer.text for answer in answers]
    assert count(runtime, TuningRun, owner) == 1
