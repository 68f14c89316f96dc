"""Hostile and careless input against a real API process: every case is answered 4xx, quickly,
with a short message that names the problem, and nothing is stored or run.

To add a case, add a row to CASES: a name, what to send (as the user, the admin or nobody),
the status expected, and a phrase of the answer. The API here has small body limits so that the
limits can be passed cheaply; everything else is as `make run` serves it.
"""

import json
import re
import time
import unicodedata
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests
from fastapi.testclient import TestClient
from sqlmodel import Session, func, select

from tuning.api.app import create_app
from tuning.config import Settings
from tuning.domain import TaskType
from tuning.models import Dataset, DatasetFile, TrainingRun, TuningRun
from tuning.service import create_user

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
# PRIVATE_CSV with infinity in its y column, as spreadsheets and pandas write it.
INFINITE_CSV = PRIVATE_CSV.replace(b"\n2,2,no", b"\n2,Infinity,no").replace(b"\n4,4", b"\n4,-inf")
# A numeric target of 3 rows: 2 folds of 2 rows cannot be had.
SHORT_CSV = b"x,price\n1,1.5\n2,2.5\n3,3.5\n"
# Every feature column empty (a trailing comma on every line makes one).
EMPTY_FEATURES_CSV = b"label,x\n" + b"yes,\nno,\n" * 4


def upload(csv: bytes, name: str, target: str = "label") -> dict[str, Any]:
    """The multipart fields of an upload of `csv` as `name`, for a Case."""
    return {"files": {"file": ("d.csv", csv, "text/csv")}, "data": {"target": target, "name": name}}


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
    # Names that read as a bundled one's, or hide what they hold.
    Case("a bundled name in capitals", "POST", "/api/v1/datasets", 422,
         "'IRIS' is, ignoring case, 'iris', a bundled dataset's name",
         **upload(PRIVATE_CSV, "IRIS")),
    Case("a bundled name in full-width letters", "POST", "/api/v1/datasets", 422,
         "'iris' is 'iris', a bundled dataset's name",
         **upload(PRIVATE_CSV, "\uff49\uff52\uff49\uff53")),
    Case("a bundled name with a Cyrillic i", "POST", "/api/v1/datasets", 422,
         "looks like 'iris', a bundled dataset's name", **upload(PRIVATE_CSV, "\u0456ris")),
    Case("a bundled name with Cyrillic a and e", "POST", "/api/v1/datasets", 422,
         "looks like 'breast_cancer'", **upload(PRIVATE_CSV, "br\u0435ast_c\u0430ncer")),
    Case("a bundled name with an accent", "POST", "/api/v1/datasets", 422,
         "looks like 'wine'", **upload(PRIVATE_CSV, "w\u00efne")),
    Case("a zero-width space in a name", "POST", "/api/v1/datasets", 422,
         "character 4, U+200B ZERO WIDTH SPACE, is invisible",
         **upload(PRIVATE_CSV, "iri\u200bs")),
    Case("a byte-order mark in a name", "POST", "/api/v1/datasets", 422,
         "U+FEFF ZERO WIDTH NO-BREAK SPACE, is invisible", **upload(PRIVATE_CSV, "\ufeffsales")),
    Case("a right-to-left override in a name", "POST", "/api/v1/datasets", 422,
         "U+202E RIGHT-TO-LEFT OVERRIDE, changes the direction",
         **upload(PRIVATE_CSV, "sales\u202evsc.exe")),
    Case("a left-to-right isolate in a name", "POST", "/api/v1/datasets", 422,
         "U+2066 LEFT-TO-RIGHT ISOLATE, changes the direction", **upload(PRIVATE_CSV, "\u2066x")),
    Case("an Arabic letter mark in a name", "POST", "/api/v1/datasets", 422,
         "U+061C ARABIC LETTER MARK", **upload(PRIVATE_CSV, "sales\u061c")),
    Case("a right-to-left mark in a name", "POST", "/api/v1/datasets", 422,
         "U+200F RIGHT-TO-LEFT MARK", **upload(PRIVATE_CSV, "sales\u200f")),
    Case("a file named like a bundled dataset", "POST", "/api/v1/datasets", 422,
         "looks like 'iris'", files={"file": ("\u0456ris.csv", PRIVATE_CSV, "text/csv")},
         data={"target": "label"}),
    # Values no estimator can fit, and targets no folds can split.
    Case("infinity in a feature", "POST", "/api/v1/datasets", 422,
         "column 'y' holds infinity in 2 rows (the first: inf in row 3 under the header)",
         **upload(INFINITE_CSV, "infinite")),
    Case("minus infinity first", "POST", "/api/v1/datasets", 422,
         "(the first: -inf in row 3 under the header)",
         **upload(INFINITE_CSV.replace(b"Infinity", b"-Infinity"), "infinite")),
    Case("infinity in a numeric target", "POST", "/api/v1/datasets", 422,
         "column 'price' holds infinity in 1 row", **upload(
             b"x,price\n" + b"".join(f"{i},{i * 1.5}\n".encode() for i in range(30)) + b"7,inf\n",
             "infinite", target="price")),
    Case("every feature empty", "POST", "/api/v1/datasets", 422,
         "every feature column is empty", **upload(EMPTY_FEATURES_CSV, "empty")),
    Case("a numeric target of 3 rows", "POST", "/api/v1/datasets", 422,
         "cross-validation needs at least 4", **upload(SHORT_CSV, "short", target="price")),
    Case("a single class", "POST", "/api/v1/datasets", 422, "has a single value",
         **upload(b"x,label\n" + b"1,yes\n" * 10, "one-class")),
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


# --- Uploads that cannot be tuned, and the same refused at submit on older uploads ------------


def test_an_empty_column_is_dropped_with_a_warning_and_cannot_be_kept_as_a_feature(stack: Stack):
    csv = b"x,notes,label\n" + b"".join(
        f"{i},,{'yes' if i % 2 else 'no'}\n".encode() for i in range(8)
    )
    name = f"gaps-{uuid.uuid4().hex[:6]}"
    uploaded = httpx.post(f"{stack.url}/api/v1/datasets", headers=stack.user, **upload(csv, name))
    assert uploaded.status_code == 201, uploaded.text
    profile = uploaded.json()["profile"]
    said = {w["column"]: w["message"] for w in profile["warnings"]}
    assert said["notes"] == "dropped: every value is missing, so it cannot be a feature"
    assert next(c for c in profile["columns"] if c["name"] == "notes")["role"] == "ignored"

    assert (
        httpx.post(stack.url + TUNE, headers=stack.user, json=tune(dataset=name)).status_code == 202
    )
    kept = httpx.post(
        stack.url + TUNE, headers=stack.user, json=tune(dataset=name, columns={"ignore": []})
    )
    assert kept.status_code == 422
    assert "'notes' is empty (every value is missing), so it cannot be a feature" in kept.text


def _older_upload(stack: Stack, csv: bytes, target: str, task: TaskType) -> tuple[str, Any]:
    """A dataset stored as uploads were before these checks: its file as sent, no profile and
    no labels kept. Its name, and its owner's Authorization header."""
    name = f"older-{uuid.uuid4().hex[:6]}"
    with Session(stack.runtime.engine) as session:
        owner, token = create_user(session=session, name=f"older-{uuid.uuid4().hex[:8]}")
        dataset = Dataset(
            name=name, kind="csv", task=task, target=target, size_bytes=len(csv),
            n_rows=csv.count(b"\n") - 1, n_columns=csv.split(b"\n")[0].count(b","),
            owner_id=owner.id,
        )  # fmt: skip
        session.add(dataset)
        session.flush()
        session.add(DatasetFile(dataset_id=dataset.id, content=csv))
        session.commit()
    return name, {"Authorization": f"Bearer {token}"}


def test_a_run_on_an_older_upload_is_refused_what_uploads_now_are(stack: Stack):
    infinite, owner = _older_upload(stack, INFINITE_CSV, "label", TaskType.CLASSIFICATION)
    before = _stored(stack.runtime)
    refused = httpx.post(stack.url + TUNE, headers=owner, json=tune(dataset=infinite))
    assert refused.status_code == 422
    assert "'y' holds infinity in 2 rows (the first: inf in row 3 under the header)" in refused.text
    assert "leave it out" in refused.text
    assert _stored(stack.runtime) == before
    # Left out, the column is no harm: the rest of the file is tuned.
    without = tune(dataset=infinite, columns={"ignore": ["y"]})
    assert httpx.post(stack.url + TUNE, headers=owner, json=without).status_code == 202

    csv = b"x,label\n" + b"1,yes\n" * 10
    one_class, owner = _older_upload(stack, csv, "label", TaskType.CLASSIFICATION)
    refused = httpx.post(stack.url + TUNE, headers=owner, json=tune(dataset=one_class))
    assert (
        refused.status_code == 422
        and "the target column 'label' has a single value" in refused.text
    )

    short, owner = _older_upload(stack, SHORT_CSV, "price", TaskType.REGRESSION)
    regression = tune(dataset=short, estimator="RandomForestRegressor", cv=2)
    refused = httpx.post(stack.url + TUNE, headers=owner, json=regression)
    assert refused.status_code == 422 and "each fold needs 2 rows to be scored" in refused.text
    assert _stored(stack.runtime) == (before[0] + 1, before[1])  # the one 202 above


def test_names_are_stored_nfkc_and_found_by_either_form(stack: Stack):
    typed = f"\ufb01gures\u00a0{uuid.uuid4().hex[:6]}"  # a ligature and a no-break space
    stored = unicodedata.normalize("NFKC", typed)
    owner = bearer(stack.runtime)
    assert stored != typed and stored.startswith("figures ")
    uploaded = httpx.post(
        f"{stack.url}/api/v1/datasets", headers=owner, **upload(PRIVATE_CSV, typed)
    )
    assert uploaded.status_code == 201, uploaded.text
    assert uploaded.json()["name"] == stored
    for name in (typed, stored):
        submitted = httpx.post(stack.url + TUNE, headers=owner, json=tune(dataset=name, cv=3))
        assert submitted.status_code == 202, submitted.text
    again = httpx.post(f"{stack.url}/api/v1/datasets", headers=owner, **upload(PRIVATE_CSV, stored))
    assert again.status_code == 422 and "already have a dataset named" in again.text


# --- The edges of HTTP: 413 as clients read it, HEAD, security headers ------------------------

TEN_MB = 10 * 1024 * 1024


def _urllib_post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def _requests_post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
    answer = requests.post(url, data=body, headers=headers, timeout=30)
    return answer.status_code, answer.json()


def _httpx_post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
    answer = httpx.post(url, content=body, headers=headers, timeout=30)
    return answer.status_code, answer.json()


CLIENTS = {"urllib": _urllib_post, "requests": _requests_post, "httpx": _httpx_post}


@pytest.mark.parametrize("client", CLIENTS)
def test_a_10_mb_body_gets_its_413_in_every_common_client(stack: Stack, client: str):
    """The server reads the rest of a refused body before it answers: a client still sending
    would otherwise see a reset (a broken pipe in urllib and requests), not the 413."""
    post = CLIENTS[client]
    body = b'{"dataset": "' + b"x" * TEN_MB + b'"}'
    headers = {**stack.user, "Content-Type": "application/json"}
    status, answer = post(stack.url + TUNE, body, headers)
    assert status == 413
    assert answer == {"detail": f"the request body is over the limit of {REQUEST_LIMIT:,} bytes"}

    # An upload's limit, and a body sent in chunks (no Content-Length) past it.
    multipart = b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.csv"\r\n\r\n'
    form = {**stack.user, "Content-Type": "multipart/form-data; boundary=b"}
    status, answer = post(f"{stack.url}/api/v1/datasets", multipart + b"1," * (TEN_MB // 2), form)
    assert status == 413 and "over the limit" in answer["detail"]
    # The connection is left usable: the next request on a new one is answered as ever.
    assert httpx.get(f"{stack.url}/healthz").status_code in (200, 503)


def test_a_10_mb_body_in_chunks_gets_its_413(stack: Stack):
    def body() -> Iterator[bytes]:  # no Content-Length: the server counts as it reads
        for _ in range(TEN_MB // 65536):
            yield b" " * 65536

    response = httpx.post(
        stack.url + TUNE,
        headers={**stack.user, "Content-Type": "application/json"},
        content=body(),
        timeout=30,
    )
    assert response.status_code == 413 and "over the limit" in response.json()["detail"]


def _get_paths(stack: Stack, owner: dict[str, str]) -> list[str]:
    """Every GET route of the app, its path parameters filled in: a run of `owner`'s, the
    private dataset, ids that exist nowhere, and an unknown user name."""
    run = httpx.post(stack.url + TUNE, headers=owner, json=tune(cv=3)).json()
    values = {
        "tuning_run_id": run["tuning_run_id"],
        "dataset_id": stack.dataset_id,
        "user": "nobody-at-all",
    }
    app = create_app(stack.runtime)
    # The schema's GET operations (every API route is in it), and the docs' own routes.
    schema = app.openapi()["paths"]
    templates = [path for path, operations in schema.items() if "get" in operations]
    templates += [r.path for r in app.routes if "GET" in (getattr(r, "methods", None) or ())]
    paths = []
    for template in dict.fromkeys(templates):
        path = template
        for name in re.findall(r"{(\w+)}", template):
            path = path.replace(f"{{{name}}}", values.get(name, str(uuid.uuid4())))
        paths.append(path)
    assert len(paths) >= 15, paths
    return paths


VARYING = {"date", "content-length", "etag"}  # what two answers to the same request may differ in


def test_head_answers_where_get_does_with_the_same_status_and_headers(stack: Stack):
    owner = bearer(stack.runtime)
    paths = _get_paths(stack, owner)
    assert "/healthz" in paths and any(p.endswith("/status") for p in paths)
    for path in paths:
        for who in (owner, stack.user, {}):
            get = httpx.get(stack.url + path, headers=who, timeout=30)
            head = httpx.head(stack.url + path, headers=who, timeout=30)
            assert head.status_code == get.status_code, (path, head.status_code, get.text[:200])
            assert head.content == b"", path
            same = {k: v for k, v in get.headers.items() if k not in VARYING}
            assert {k: v for k, v in head.headers.items() if k not in VARYING} == same, path
            if get.content and "content-length" in get.headers:
                assert "content-length" in head.headers, path
    # Where GET is not allowed, HEAD is not either.
    predict = f"{stack.url}/api/v1/models/{uuid.uuid4()}/predict"  # POST only
    assert httpx.head(predict, headers=stack.user).status_code == 405


SECURE = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
}


def _assert_secure(response: httpx.Response, what: str) -> None:
    for name, value in SECURE.items():
        assert response.headers.get(name) == value, (what, name, dict(response.headers))
    policy = response.headers.get("content-security-policy", "")
    assert "frame-ancestors 'none'" in policy, (what, policy)


def test_every_answer_carries_the_security_headers(stack: Stack):
    url = stack.url
    answers = {
        "health": httpx.get(f"{url}/healthz"),
        "a list": httpx.get(url + TUNE, headers=stack.user),
        "a status": httpx.get(f"{url}{TUNE}/{uuid.uuid4()}/status", headers=stack.user),
        "a submission": httpx.post(url + TUNE, headers=stack.user, json=tune(cv=3)),
        "a refusal": httpx.post(url + TUNE, headers=stack.user, json=tune(cv=99)),
        "no token": httpx.get(url + TUNE),
        "a bad id": httpx.get(f"{url}{TUNE}/nope/status", headers=stack.user),
        "not JSON": httpx.post(url + TUNE, headers=stack.user, content=b"{"),
        "too large": httpx.post(url + TUNE, headers=stack.user, content=b" " * (REQUEST_LIMIT + 1)),
        "no such path": httpx.get(f"{url}/nope", headers=stack.user),
        "wrong method": httpx.put(f"{url}/healthz"),
        "datasets": httpx.get(f"{url}/api/v1/datasets", headers=stack.user),
        "a download": httpx.get(f"{url}/api/v1/datasets/{stack.dataset_id}/download",
                                headers=stack.user),
        "a model": httpx.get(f"{url}/api/v1/models/{uuid.uuid4()}", headers=stack.user),
        "estimators": httpx.get(f"{url}/api/v1/estimators", headers=stack.user),
        "quotas": httpx.get(f"{url}/api/v1/me/quotas", headers=stack.user),
        "the schema": httpx.get(f"{url}/openapi.json"),
        "the docs": httpx.get(f"{url}/docs"),
        "a HEAD": httpx.head(f"{url}/healthz"),
    }  # fmt: skip
    assert answers["too large"].status_code == 413 and answers["no such path"].status_code == 404
    for what, response in answers.items():
        _assert_secure(response, what)
        if what != "the docs":
            assert response.headers["content-security-policy"] == (
                "default-src 'none'; frame-ancestors 'none'"
            ), what


def test_the_docs_policy_lets_the_docs_load_what_they_need(stack: Stack):
    """Swagger UI and ReDoc load their scripts, styles and icons from CDNs and Swagger UI
    starts from an inline script: the docs pages' policy allows each source their HTML names."""
    for path in ("/docs", "/redoc"):
        page = httpx.get(stack.url + path)
        assert page.status_code == 200
        parts = page.headers["content-security-policy"].split(";")
        policy = {part.split()[0]: part.split()[1:] for part in parts}
        sources = [("script-src", src) for src in re.findall(r'<script src="([^"]+)"', page.text)]
        for link in re.findall(r"<link [^>]+>", page.text):
            href = re.search(r'href="([^"]+)"', link)
            assert href is not None, link
            sources.append(("style-src" if "stylesheet" in link else "img-src", href.group(1)))
        assert len(sources) >= 3, page.text
        for directive, source in sources:
            origin = "/".join(source.split("/")[:3])
            allowed = policy[directive]
            assert origin in allowed or "https:" in allowed, (path, source, allowed)
        if "<script>" in page.text:  # Swagger UI's inline start
            assert "'unsafe-inline'" in policy["script-src"]
        assert policy["frame-ancestors"] == ["'none'"]


def test_a_server_error_carries_the_security_headers_too(stack: Stack):
    """Starlette answers an unhandled error outside the app's own middleware: the headers are
    added outside that."""
    app = create_app(stack.runtime)

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("a bug")

    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/boom")
    assert response.status_code == 500
    _assert_secure(response, "a 500")
