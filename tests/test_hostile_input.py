"""Hostile and careless input against a real API process: every case is answered 4xx, quickly,
with a short message that names the problem, and nothing is stored or run.

To add a case, add a row to CASES: a name, what to send (as the user, the admin or nobody),
the status expected, and a phrase of the answer. The API here has small body limits so that the
limits can be passed cheaply; everything else is as `make run` serves it.
"""

import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlmodel import Session, func, select

from tuning.config import Settings
from tuning.models import TrainingRun, TuningRun

from factories import bearer
from stack import ApiServer

pytestmark = [pytest.mark.database, pytest.mark.stack]  # a real API process

UPLOAD_LIMIT = 20_000
REQUEST_LIMIT = 64 * 1024
# Every answer comes well within this (seconds), however large or odd the input.
TIME_BOUND = 2.0
# And is short: an error quotes at most a prefix of what was sent.
ANSWER_BOUND = 4_000

TUNE = "/api/v1/tuning/tune"
TRAIN = "/api/v1/models/train"
GOOD = {
    "dataset": "iris",
    "estimator": "RandomForestClassifier",
    "param_grid": {"n_estimators": [10]},
    "cv": 3,
}
# Three rows of each class, labels that are words: what a careless upload looks like.
PRIVATE_CSV = b"x,y,label\n" + b"".join(
    f"{i},{i % 5},{'yes' if i % 2 else 'no'}\n".encode() for i in range(6)
)

# An ID that counts up, given as the target.
ID_TARGET_CSV = b"id,x\n" + b"".join(f"{i},{i % 3}\n".encode() for i in range(1, 41))


@dataclass
class Stack:
    url: str
    user: dict[str, str]  # owns the private dataset
    other: dict[str, str]  # another user
    admin: dict[str, str]
    dataset_id: str
    dataset_name: str
    runtime: Any = field(repr=False)


@pytest.fixture(scope="module")
def stack(settings: Settings, runtime, data_dir: Path) -> Iterator[Stack]:
    small = settings.model_copy(
        update={"max_upload_bytes": UPLOAD_LIMIT, "max_request_bytes": REQUEST_LIMIT}
    )
    with ApiServer(small, data_dir / "hostile-api.log") as server:
        user, other = bearer(runtime), bearer(runtime)
        name = f"private-{uuid.uuid4().hex[:6]}"
        uploaded = httpx.post(
            f"{server.url}/api/v1/datasets",
            headers=user,
            files={"file": ("p.csv", PRIVATE_CSV, "text/csv")},
            data={"target": "label", "name": name},
        )
        assert uploaded.status_code == 201, uploaded.text
        yield Stack(
            server.url,
            user,
            other,
            bearer(runtime, admin=True),
            uploaded.json()["id"],
            name,
            runtime,
        )


@dataclass(frozen=True)
class Case:
    name: str
    method: str
    path: str
    expect: int
    says: str
    json: Any = None
    content: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    files: dict[str, Any] | None = None
    data: dict[str, str] | None = None
    who: str = "user"  # "user", "other" (not the dataset's owner), "admin" or "nobody"

    def send(self, stack: Stack) -> httpx.Response:
        headers = {**({} if self.who == "nobody" else getattr(stack, self.who)), **self.headers}
        path = self.path.format(dataset_id=stack.dataset_id)
        body = _fill(self.json, stack)
        return httpx.request(
            self.method,
            stack.url + path,
            headers=headers,
            json=body,
            content=self.content,
            files=self.files,
            data=self.data,
            timeout=30,
        )


def _fill(body: Any, stack: Stack) -> Any:
    """Put the private dataset's name or id where a case says PRIVATE or PRIVATE_ID."""
    if isinstance(body, dict):
        return {key: _fill(value, stack) for key, value in body.items()}
    if body == "PRIVATE":
        return stack.dataset_name
    if body == "PRIVATE_ID":
        return stack.dataset_id
    return body


def tune(**change: Any) -> dict[str, Any]:
    return {**GOOD, **change}


def raw(text: str) -> dict[str, Any]:
    return {"content": text.encode(), "headers": {"Content-Type": "application/json"}}


# 8,000 distinct values (about 47 KB), 16,000 candidates: over the limit of 10,000.
BIG_GRID = {"max_depth": list(range(1, 8001)), "n_estimators": [10, 20]}

CASES = [
    # Numbers beyond what Python floats, the database or scikit-learn take.
    Case("huge int in a grid", "POST", TUNE, 422, "is too large",
         json=tune(param_grid={"max_depth": [10**400]})),
    Case("int past 64 bits in a grid", "POST", TUNE, 422, "is too large",
         json=tune(param_grid={"max_depth": [10**30]})),
    Case("huge float parameter", "POST", TUNE, 422, "not a finite number",
         json=tune(estimator="LogisticRegression", param_grid={"C": [10**400]})),
    Case("a range in a grid search", "POST", TUNE, 422, "grid takes lists",
         json=tune(estimator="LogisticRegression", param_grid={"C": {"low": 1, "high": 9}})),
    Case("a range past the catalog's bounds", "POST", TUNE, 422, "below the minimum",
         json=tune(search="random", n_iter=3, param_grid={"max_depth": {"low": -5, "high": 9}})),
    Case("a range of 10**400", "POST", TUNE, 422, "finite",
         json=tune(search="bayes", n_iter=3,
                   param_grid={"max_depth": {"low": 1, "high": 10**400}})),
    Case("halving factor of 1", "POST", TUNE, 422, "greater than 1",
         json=tune(search="halving", halving={"factor": 1})),
    Case("halving min_resources past the rows", "POST", TUNE, 422, "more than the dataset",
         json=tune(search="halving", halving={"min_resources": 10**6})),
    Case("halving options on a grid search", "POST", TUNE, 422, "need search",
         json=tune(halving={"factor": 2})),
    Case("a time budget of a century", "POST", TUNE, 422, "less than or equal",
         json=tune(time_budget_s=3.2e9)),
    Case("n_iter of 2**63", "POST", TUNE, 422, "less than or equal",
         json=tune(search="random", n_iter=2**63)),
    Case("random_state of 2**63", "POST", TUNE, 422, "less than or equal",
         json=tune(random_state=2**63)),
    Case("random_state of 2**32", "POST", TUNE, 422, "less than or equal",
         json=tune(random_state=2**32)),
    Case("random_state of -1", "POST", TUNE, 422, "greater than or equal",
         json=tune(random_state=-1)),
    Case("cv NaN", "POST", TUNE, 422, "cv",
         **raw(json.dumps(GOOD).replace('"cv": 3', '"cv": NaN'))),
    Case("cv Infinity", "POST", TUNE, 422, "cv",
         **raw(json.dumps(GOOD).replace('"cv": 3', '"cv": Infinity'))),
    Case("cv true", "POST", TUNE, 422, "valid integer", json=tune(cv=True)),
    Case("cv 5.0", "POST", TUNE, 422, "valid integer", json=tune(cv=5.0)),
    Case("n_iter 0", "POST", TUNE, 422, "greater than or equal",
         json=tune(search="random", n_iter=0)),
    Case("n_iter past the candidate limit", "POST", TUNE, 422, "the limit is",
         json=tune(search="random", n_iter=10**6)),
    # Sizes: refused in time linear in the input.
    Case("8,000 grid values", "POST", TUNE, 422, "the limit is", json=tune(param_grid=BIG_GRID)),
    Case("8,000 grid values, random search", "POST", TUNE, 202, "PENDING",
         json=tune(search="random", n_iter=1, param_grid=BIG_GRID)),
    Case("8,000 values with a duplicate at the end", "POST", TUNE, 422, "duplicate value 1",
         json=tune(search="random", n_iter=1,
                   param_grid={"max_depth": [*BIG_GRID["max_depth"], 1]})),
    Case("a body over the limit", "POST", TUNE, 413, "over the limit",
         json=tune(dataset="x" * 10_000_000)),
    Case("a long dataset name", "POST", TUNE, 422, "at most 200", json=tune(dataset="x" * 5_000)),
    # The scorer and the folds against the dataset, at submit rather than on a worker.
    Case("roc_auc on three classes", "POST", TUNE, 422, "'roc_auc' scores two classes",
         json=tune(scoring="roc_auc")),
    Case("precision on word labels", "POST", TUNE, 422, "give pos_label, one of 'no', 'yes'",
         json=tune(dataset="PRIVATE", scoring="precision")),
    Case("precision on word labels with their positive class", "POST", TUNE, 202, "PENDING",
         json=tune(dataset="PRIVATE", scoring="precision", pos_label="yes")),
    Case("a positive class that is not a label", "POST", TUNE, 422,
         "'maybe' is not one of this dataset's classes: 'no', 'yes'",
         json=tune(dataset="PRIVATE", scoring="precision", pos_label="maybe")),
    Case("a positive class of three classes", "POST", TUNE, 422,
         "a positive class is for a target of two classes", json=tune(pos_label=1)),
    Case("a 5,000-character positive class", "POST", TUNE, 422, "at most 200",
         json=tune(dataset="PRIVATE", pos_label="y" * 5_000)),
    Case("a positive class as an object", "POST", TUNE, 422, "pos_label",
         json=tune(dataset="PRIVATE", pos_label={"label": "yes"})),
    # A scorer needs an output the estimator has, at submit rather than on every candidate.
    Case("SVC has no probabilities for neg_log_loss", "POST", TUNE, 422,
         "SVC has no predict_proba here",
         json=tune(estimator="SVC", param_grid={"C": [1.0]}, scoring="neg_log_loss")),
    Case("8,000 grid values checked for probabilities", "POST", TUNE, 202, "PENDING",
         json=tune(estimator="KNeighborsClassifier", search="random", n_iter=1,
                   scoring="neg_log_loss", param_grid={"n_neighbors": list(range(1, 8001))})),
    Case("more folds than rows of a class", "POST", TUNE, 422, "has only 3 rows",
         json=tune(dataset="PRIVATE", cv=5)),
    Case("a regression scorer for classes", "POST", TUNE, 422, "scores regressors",
         json=tune(scoring="r2")),
    # The training path checks the same.
    Case("training with an unknown scorer", "POST", TRAIN, 422, "unknown scorer",
         json={"dataset": "iris", "estimator": "RandomForestClassifier", "scoring": "nope"}),
    Case("training classes with r2", "POST", TRAIN, 422, "scores regressors",
         json={"dataset": "iris", "estimator": "RandomForestClassifier", "scoring": "r2"}),
    Case("training SVC with neg_log_loss", "POST", TRAIN, 422, "SVC has no predict_proba",
         json={"dataset": "iris", "estimator": "SVC", "scoring": "neg_log_loss"}),
    Case("training with a seed of 2**32", "POST", TRAIN, 422, "less than or equal",
         json={"dataset": "iris", "estimator": "RandomForestClassifier", "random_state": 2**32}),
    # Another user's dataset is as if it did not exist.
    Case("tuning on another user's dataset", "POST", TUNE, 422, "unknown dataset",
         json=tune(dataset="PRIVATE"), who="other"),
    Case("tuning on another user's dataset by id", "POST", TUNE, 422, "unknown dataset",
         json=tune(dataset="PRIVATE_ID"), who="other"),
    Case("training on another user's dataset", "POST", TRAIN, 422, "unknown dataset",
         json={"dataset": "PRIVATE", "estimator": "RandomForestClassifier"}, who="other"),
    Case("reading another user's dataset", "GET", "/api/v1/datasets/{dataset_id}", 404,
         "no dataset", who="other"),
    Case("reading an own dataset", "GET", "/api/v1/datasets/{dataset_id}", 200, "private-"),
    Case("an admin reads any dataset", "GET", "/api/v1/datasets/{dataset_id}", 200, "private-",
         who="admin"),
    # Bodies and headers.
    Case("a body that is not JSON", "POST", TUNE, 400, "Content-Type: application/json",
         content=b"dataset=iris", headers={"Content-Type": "text/plain"}),
    Case("broken JSON", "POST", TUNE, 400, "not valid JSON", **raw('{"dataset": ')),
    Case("a JSON list", "POST", TUNE, 400, "JSON object", **raw("[1, 2]")),
    Case("a garbage token and a garbage id", "GET", f"{TUNE}/not-a-uuid/status", 401,
         "unknown or revoked token", headers={"Authorization": "Bearer garbage"}, who="nobody"),
    Case("a good token and a garbage id", "GET", f"{TUNE}/not-a-uuid/status", 400, "Invalid UUID"),
    Case("a long garbage id", "GET", f"{TUNE}/{'z' * 3000}/status", 400, "Invalid UUID"),
    # Uploads.
    Case("an upload one byte over the limit", "POST", "/api/v1/datasets", 413, "20,000 bytes",
         files={"file": ("big.csv", b"a,b\n" + b"1" * (UPLOAD_LIMIT - 3), "text/csv")},
         data={"target": "b"}),
    Case("an upload far over the limit", "POST", "/api/v1/datasets", 413, "over the limit",
         files={"file": ("big.csv", b"a,b\n" + b"1,2\n" * 100_000, "text/csv")},
         data={"target": "b"}),
    Case("a 5,000-character dataset name", "POST", "/api/v1/datasets", 422, "at most 200",
         files={"file": ("d.csv", PRIVATE_CSV, "text/csv")},
         data={"target": "label", "name": "n" * 5_000}),
    Case("a 5,000-character target", "POST", "/api/v1/datasets", 422, "at most 200",
         files={"file": ("d.csv", PRIVATE_CSV, "text/csv")}, data={"target": "t" * 5_000}),
    Case("a bundled dataset's name", "POST", "/api/v1/datasets", 422, "bundled dataset's name",
         files={"file": ("d.csv", PRIVATE_CSV, "text/csv")},
         data={"target": "label", "name": "iris"}),
    # Careless targets, and column roles the dataset cannot take.
    Case("an ID as the target", "POST", "/api/v1/datasets", 422, "looks like an ID",
         files={"file": ("d.csv", ID_TARGET_CSV, "text/csv")}, data={"target": "id"}),
    Case("a class with a single row", "POST", "/api/v1/datasets", 422, "has a single row",
         files={"file": ("d.csv", PRIVATE_CSV + b"9,9,maybe\n", "text/csv")},
         data={"target": "label"}),
    Case("text read as numbers", "POST", "/api/v1/datasets", 422, "regression cannot predict",
         files={"file": ("d.csv", PRIVATE_CSV, "text/csv")},
         data={"target": "label", "task": "regression"}),
    Case("an unknown task", "POST", "/api/v1/datasets", 422, "classification",
         files={"file": ("d.csv", PRIVATE_CSV, "text/csv")},
         data={"target": "label", "task": "clustering"}),
    Case("leaving out an unknown column", "POST", TUNE, 422, "no feature column named",
         json=tune(columns={"ignore": ["nope"]})),
    Case("leaving out every column", "POST", TUNE, 422, "no feature column is left",
         json=tune(columns={"ignore": ["sepal length (cm)", "sepal width (cm)",
                                       "petal length (cm)", "petal width (cm)"]})),
    Case("5,000 columns left out", "POST", TUNE, 422, "no feature column named",
         json=tune(columns={"ignore": [f"c{i}" for i in range(5_000)]})),
    Case("an unknown role", "POST", TUNE, 422, "Extra inputs are not permitted",
         json=tune(columns={"target": "petal width (cm)"})),
]  # fmt: skip


def _stored(runtime) -> tuple[int, int]:
    with Session(runtime.engine) as session:
        runs = session.exec(select(func.count()).select_from(TuningRun)).one()
        trainings = session.exec(select(func.count()).select_from(TrainingRun)).one()
    return runs, trainings


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_hostile_input_gets_a_short_quick_4xx_and_stores_nothing(stack: Stack, case: Case):
    before = _stored(stack.runtime)
    began = time.monotonic()
    response = case.send(stack)
    took = time.monotonic() - began

    assert response.status_code == case.expect, response.text[:ANSWER_BOUND]
    assert case.says in response.text, response.text[:ANSWER_BOUND]
    assert took < TIME_BOUND, f"{took:.2f} s"
    assert len(response.content) < ANSWER_BOUND, "the answer echoes what was sent"
    if case.expect >= 400:
        assert _stored(stack.runtime) == before, "a refused request stored something"


def test_a_chunked_body_is_cut_at_the_limit(stack: Stack):
    sent = 0

    def body() -> Iterator[bytes]:  # no Content-Length: the server counts as it reads
        nonlocal sent
        for _ in range(200):
            sent += 8192
            yield b" " * 8192

    try:
        response = httpx.post(
            stack.url + TUNE,
            headers={**stack.user, "Content-Type": "application/json"},
            content=body(),
            timeout=30,
        )
    except httpx.TransportError:
        pytest.fail("the connection broke instead of a 413")
    assert response.status_code == 413 and "over the limit" in response.text


def test_datasets_are_private_to_their_owner_and_visible_to_admins(stack: Stack):
    def names(headers: dict[str, str]) -> set[str]:
        listed = httpx.get(f"{stack.url}/api/v1/datasets", headers=headers)
        assert listed.status_code == 200
        return {dataset["name"] for dataset in listed.json()}

    assert stack.dataset_name in names(stack.user)
    assert stack.dataset_name in names(stack.admin)
    assert stack.dataset_name not in names(stack.other)
    assert "iris" in names(stack.other)  # bundled datasets are everyone's

    # A name is unique per owner only: another user may use it for their own upload.
    again = httpx.post(
        f"{stack.url}/api/v1/datasets",
        headers=stack.other,
        files={"file": ("p.csv", PRIVATE_CSV, "text/csv")},
        data={"target": "label", "name": stack.dataset_name},
    )
    assert again.status_code == 201, again.text
    assert again.json()["id"] != stack.dataset_id
    twice = httpx.post(
        f"{stack.url}/api/v1/datasets",
        headers=stack.user,
        files={"file": ("p.csv", PRIVATE_CSV, "text/csv")},
        data={"target": "label", "name": stack.dataset_name},
    )
    assert twice.status_code == 422 and "already have" in twice.text

    # The unknown-dataset message lists what the asker may use, never another user's names.
    refused = httpx.post(stack.url + TUNE, headers=stack.other, json=tune(dataset="nope"))
    assert refused.status_code == 422 and "iris" in refused.text
    assert stack.dataset_name in refused.text  # their own copy now
    own = httpx.post(stack.url + TUNE, headers=bearer(stack.runtime), json=tune(dataset="nope"))
    assert stack.dataset_name not in own.text
