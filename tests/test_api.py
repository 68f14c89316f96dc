"""The REST API through HTTP, against the real worker, Redis and database."""

import io
import time
import uuid
from dataclasses import replace
from datetime import timedelta

import numpy as np
import pytest
import skops.io as sio
from fastapi.testclient import TestClient
from sqlmodel import Session

from tuning.api.app import create_app
from tuning.ml.datasets import load_bundled
from tuning.models import TuningRun
from tuning.service.operations.reconcile import reconcile
from tuning.worker.queue import CeleryQueue

from factories import bearer, rare_yes_csv
from messy import churn_csv
from stack import wait_until

pytestmark = pytest.mark.database

RF_GRID = {"n_estimators": [10, 30], "max_depth": [None, 3]}


@pytest.fixture(scope="module")
def client(runtime) -> TestClient:
    return TestClient(create_app(runtime))


@pytest.fixture
def alice(runtime):
    return bearer(runtime)


def poll(client, url: str, headers, timeout: float = 120) -> dict:
    """The spec's polling loop: until SUCCESS, FAILURE or REVOKED."""

    def finished() -> dict | None:
        body = client.get(url, headers=headers).json()
        return body if body["status"] in ("SUCCESS", "FAILURE", "REVOKED") else None

    return wait_until(finished, timeout, 0.1, f"{url} did not finish")


def start(client, headers, **body) -> dict:
    body = {
        "dataset": "iris",
        "estimator": "RandomForestClassifier",
        "param_grid": RF_GRID,
        "cv": 3,
        **body,
    }
    response = client.post("/api/v1/tuning/tune", json=body, headers=headers)
    assert response.status_code == 202, response.text
    return response.json()


@pytest.mark.usefixtures("worker")
def test_submit_then_poll_until_success(client, alice):
    accepted = start(client, alice)
    assert accepted["status"] == "PENDING"
    assert accepted["status_url"] == f"/api/v1/tuning/tune/{accepted['tuning_run_id']}/status"

    final = poll(client, accepted["status_url"], alice)

    assert set(final) == {"tuning_run_id", "task_id", "status", "progress", "result", "error"}
    assert final["status"] == "SUCCESS" and final["task_id"] == accepted["task_id"]
    assert set(final["result"]) == {
        "best_params",
        "best_score",
        "total_combinations",
        "tuning_time",
    }
    assert final["progress"] is None and final["error"] is None

    results = client.get(
        f"/api/v1/tuning/tune/{accepted['tuning_run_id']}/results", headers=alice
    ).json()
    assert results["total_trials"] == 4 and len(results["trials"]) == 4
    assert results["best_trial"]["rank"] == 1
    assert results["best_trial"]["params"] == final["result"]["best_params"]
    assert results["run"]["dataset"] == "iris"
    page = client.get(
        f"/api/v1/tuning/tune/{accepted['tuning_run_id']}/results?limit=2&offset=2", headers=alice
    ).json()
    assert [t["index"] for t in page["trials"]] == [2, 3]
    csv = client.get(
        f"/api/v1/tuning/tune/{accepted['tuning_run_id']}/results?format=csv", headers=alice
    )
    assert csv.headers["content-type"].startswith("text/csv")
    header, *rows = csv.text.strip().splitlines()
    assert header.startswith(
        "trial,rank_test_score,param_n_estimators,param_max_depth,mean_test_score"
    )
    assert len(rows) == 4


@pytest.mark.usefixtures("worker")
def test_failure_carries_type_and_message(client, alice):
    accepted = start(
        client, alice, estimator="KNeighborsClassifier", param_grid={"n_neighbors": [500]}
    )
    final = poll(client, accepted["status_url"], alice)
    assert final["status"] == "FAILURE"
    assert final["error"]["type"] == "ValueError" and final["error"]["message"]
    assert final["result"] is None and final["progress"] is None


@pytest.mark.usefixtures("worker")
def test_cancel_returns_revoked(client, alice):
    accepted = start(
        client, alice, dataset="digits", param_grid={"n_estimators": [150, 160, 170, 180, 190, 200]}
    )
    response = client.post(f"/api/v1/tuning/tune/{accepted['tuning_run_id']}/cancel", headers=alice)
    assert response.status_code == 200
    assert response.json()["status"] == "REVOKED"
    assert client.get(accepted["status_url"], headers=alice).json()["status"] == "REVOKED"


def test_error_codes(client, runtime, alice):
    some_run = start(client, alice)
    status_url = some_run["status_url"]
    bob = bearer(runtime)

    invalid = client.get("/api/v1/tuning/tune/abc-123/status", headers=alice)
    assert invalid.status_code == 400 and "Invalid UUID" in invalid.json()["detail"]
    missing = client.get(f"/api/v1/tuning/tune/{uuid.uuid4()}/status", headers=alice)
    assert missing.status_code == 404 and "no tuning run" in missing.json()["detail"]
    assert client.get(status_url, headers=bob).status_code == 403
    assert client.get(status_url).status_code == 401
    wrong = client.get(status_url, headers={"Authorization": "Bearer not-a-token"})
    assert wrong.status_code == 401 and wrong.headers["www-authenticate"] == "Bearer"

    bad = client.post(
        "/api/v1/tuning/tune",
        headers=alice,
        json={
            "dataset": "iris",
            "estimator": "RandomForestClassifier",
            "param_grid": {"max_depth": [-3]},
        },
    )
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["loc"] == ["body", "param_grid", "max_depth"]
    no_grid = client.post("/api/v1/tuning/tune", headers=alice, json={"dataset": "iris"})
    assert no_grid.status_code == 422
    assert {tuple(e["loc"]) for e in no_grid.json()["detail"]} >= {("body", "estimator")}


def test_runs_of_one_user_are_invisible_to_another(client, runtime):
    carol, dave = bearer(runtime), bearer(runtime)
    admin = bearer(runtime, admin=True)
    run_id = start(client, carol)["tuning_run_id"]

    def listed(headers):
        items = client.get("/api/v1/tuning/tune?limit=500", headers=headers).json()["items"]
        return {item["id"] for item in items}

    assert run_id in listed(carol)
    assert run_id not in listed(dave)
    assert run_id in listed(admin)
    assert client.get(f"/api/v1/tuning/tune/{run_id}/results", headers=dave).status_code == 403
    assert client.post(f"/api/v1/tuning/tune/{run_id}/cancel", headers=dave).status_code == 403
    assert client.get(f"/api/v1/tuning/tune/{run_id}/status", headers=admin).status_code == 200


def test_a_refined_run_links_to_its_parent_only_if_its_owner_may_see_it(client, runtime):
    erin, frank = bearer(runtime), bearer(runtime)
    parent = start(client, erin)["tuning_run_id"]
    child = start(client, erin, parent_run_id=parent)["tuning_run_id"]
    run = client.get(f"/api/v1/tuning/tune/{child}/results", headers=erin).json()["run"]
    assert run["parent_id"] == parent

    body = {"dataset": "iris", "estimator": "RandomForestClassifier", "param_grid": RF_GRID}
    for other, expected in ((parent, "no tuning run"), ("not-an-id", "not a valid UUID")):
        refused = client.post(
            "/api/v1/tuning/tune", json={**body, "parent_run_id": other}, headers=frank
        )
        assert refused.status_code == 422, refused.text
        assert expected in refused.text and "parent_run_id" in refused.text


def test_a_broker_that_cannot_take_the_run_keeps_it_in_the_outbox(runtime, alice):
    unreachable = CeleryQueue(_unreachable_celery(runtime), timeout=0.2, send_timeout=0.5)
    client = TestClient(create_app(replace(runtime, queue=unreachable)))
    started = time.monotonic()
    response = client.post(
        "/api/v1/tuning/tune",
        headers=alice,
        json={"dataset": "iris", "estimator": "SVC", "param_grid": {"C": [1.0]}},
    )
    assert response.status_code == 202 and time.monotonic() - started < 2
    run_id = uuid.UUID(response.json()["tuning_run_id"])
    assert client.get(response.json()["status_url"], headers=alice).json()["status"] == "PENDING"

    # The broker answers again: the reconciler's outbox sends the stored run.
    with Session(runtime.engine, expire_on_commit=False) as session:
        run = session.get(TuningRun, run_id)
        assert run is not None and run.sent_at is None
        run.created_at -= timedelta(seconds=60)  # past the outbox's grace for its API process
        session.commit()
        reconciled = reconcile(session=session, queue=runtime.queue, settings=runtime.settings)
        session.refresh(run)
    assert reconciled.sent >= 1 and run.sent_at is not None


def _unreachable_celery(runtime):
    from tuning.worker.app import create_celery

    settings = runtime.settings.model_copy(
        update={"redis_url": f"redis+socket://{runtime.settings.data_dir}/nothing-here.sock"}
    )
    app = create_celery(settings)
    app.conf.broker_connection_timeout = 0.5
    return app


@pytest.mark.usefixtures("worker")
def test_train_download_and_predict(client, alice):
    tuned = start(client, alice)
    poll(client, tuned["status_url"], alice)

    accepted = client.post(
        "/api/v1/models/train", headers=alice, json={"tuning_run_id": tuned["tuning_run_id"]}
    )
    assert accepted.status_code == 202, accepted.text
    final = poll(client, accepted.json()["status_url"], alice)
    assert final["status"] == "SUCCESS", final
    assert set(final) == {"training_run_id", "task_id", "status", "progress", "result", "error"}
    assert "accuracy" in final["result"]["metrics"]

    download = client.get(f"/api/v1/models/{final['result']['model_id']}/download", headers=alice)
    assert download.status_code == 200
    assert ".skops" in download.headers["content-disposition"]
    untrusted = sio.get_untrusted_types(data=download.content)
    # Only these types need trusting, all from numpy and scikit-learn themselves.
    assert all(name.startswith(("numpy.", "sklearn.")) for name in untrusted), untrusted
    model = sio.load(io.BytesIO(download.content), trusted=untrusted)
    iris = load_bundled("iris")
    assert np.mean(model.predict(iris.X) == iris.y) > 0.9

    other = bearer(client.app.state.runtime)
    url = f"/api/v1/models/{final['result']['model_id']}/download"
    assert client.get(url, headers=other).status_code == 403


@pytest.mark.usefixtures("worker")
def test_train_from_an_explicit_configuration(client, alice):
    accepted = client.post(
        "/api/v1/models/train",
        headers=alice,
        json={"dataset": "diabetes", "estimator": "Ridge", "params": {"alpha": 0.5}},
    )
    assert accepted.status_code == 202, accepted.text
    final = poll(client, accepted.json()["status_url"], alice)
    assert final["status"] == "SUCCESS" and "r2" in final["result"]["metrics"]
    bad = client.post(
        "/api/v1/models/train",
        headers=alice,
        json={"dataset": "diabetes", "estimator": "Ridge", "params": {"alpha": -1}},
    )
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "params", "alpha"]


def test_datasets_and_estimators(client, alice):
    csv = b"size,colour,label\n1,red,a\n2,blue,b\n3,red,a\n4,blue,b\n5,red,a\n6,blue,b\n"
    name = f"toy-{uuid.uuid4().hex[:6]}"
    uploaded = client.post(
        "/api/v1/datasets",
        headers=alice,
        data={"target": "label", "name": name},
        files={"file": ("toy.csv", csv, "text/csv")},
    )
    assert uploaded.status_code == 201, uploaded.text
    assert uploaded.json()["task"] == "classification" and uploaded.json()["n_rows"] == 6
    names = {d["name"] for d in client.get("/api/v1/datasets", headers=alice).json()}
    assert {"iris", "diabetes", name} <= names
    no_target = client.post(
        "/api/v1/datasets",
        headers=alice,
        data={"target": "nope"},
        files={"file": ("toy.csv", csv, "text/csv")},
    )
    assert no_target.status_code == 422 and "no column named 'nope'" in no_target.text

    catalog = client.get("/api/v1/estimators", headers=alice).json()
    assert len(catalog["estimators"]) == 19
    assert "accuracy" in catalog["scorers"]["classification"]
    by_target = catalog["scorers_by_target"]
    assert set(by_target) == {"binary", "multiclass", "regression"}
    assert "f1" in by_target["binary"] and "f1" not in by_target["multiclass"]
    assert "adjusted_rand_score" not in by_target["multiclass"]


def test_a_positive_class_through_the_api(client, alice):
    uploaded = client.post(
        "/api/v1/datasets",
        headers=alice,
        data={"target": "answer", "name": f"rare-{uuid.uuid4().hex[:6]}"},
        files={"file": ("rare.csv", rare_yes_csv(), "text/csv")},
    )
    assert uploaded.status_code == 201, uploaded.text
    tune = {
        "dataset": uploaded.json()["id"],
        "estimator": "LogisticRegression",
        "param_grid": {"C": [1.0]},
        "cv": 3,
        "scoring": "f1",
    }

    started = start(client, alice, **tune, pos_label="yes")
    results = client.get(f"/api/v1/tuning/tune/{started['tuning_run_id']}/results", headers=alice)
    assert results.json()["run"]["pos_label"] == "yes"
    for body, field, says in [
        (tune, "scoring", "give pos_label, one of 'no', 'yes'"),
        ({**tune, "pos_label": "maybe"}, "pos_label", "not one of this dataset's classes"),
    ]:
        refused = client.post("/api/v1/tuning/tune", json=body, headers=alice)
        assert refused.status_code == 422
        assert refused.json()["detail"][0]["loc"] == ["body", field]
        assert says in refused.text


@pytest.mark.usefixtures("worker")
def test_healthz_reports_each_part(client):
    body = client.get("/healthz").json()
    assert body["database"]["ok"] and body["redis"]["ok"]
    assert body["workers"]["ok"], body["workers"]


def test_cors_lets_a_configured_browser_origin_poll(runtime, alice):
    settings = runtime.settings.model_copy(update={"cors_origins": ["https://app.example.com"]})
    client = TestClient(create_app(replace(runtime, settings=settings)))
    preflight = client.options(
        f"/api/v1/tuning/tune/{uuid.uuid4()}/status",
        headers={
            "Origin": "https://app.example.com",
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "Authorization",
        },
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == "https://app.example.com"
    other = client.get("/healthz", headers={"Origin": "https://evil.example.com"})
    assert "access-control-allow-origin" not in other.headers


def test_notes_on_a_run_through_the_api(client, alice, runtime):
    run_id = start(client, alice)["tuning_run_id"]
    url = f"/api/v1/tuning/tune/{run_id}/notes"

    added = client.post(url, json={"text": "k=5 looks best"}, headers=alice)
    assert added.status_code == 201 and added.json()["text"] == "k=5 looks best"
    assert client.post(url, json={"text": ""}, headers=alice).status_code == 422
    listed = client.get(url, headers=alice).json()
    assert [note["text"] for note in listed] == ["k=5 looks best"]
    assert listed[0]["author"].startswith("api-")
    assert client.get(url, headers=bearer(runtime)).status_code == 403


def test_an_upload_answers_with_its_profile_and_a_run_takes_column_roles(client, alice):
    name = f"churn-{uuid.uuid4().hex[:6]}"
    uploaded = client.post(
        "/api/v1/datasets",
        headers=alice,
        data={"target": "churn", "name": name},
        files={"file": ("churn.csv", churn_csv(120), "text/csv")},
    )
    assert uploaded.status_code == 201, uploaded.text
    profile = uploaded.json()["profile"]
    columns = {c["name"]: c for c in profile["columns"]}
    assert (
        columns["customer_id"]["role"] == "ignored"
        and "ID-like" in columns["customer_id"]["reason"]
    )
    assert columns["signup_date"]["kind"] == "datetime"
    assert {"name", "kind", "missing", "distinct", "role", "reason"} <= set(columns["plan"])
    assert profile["target"]["task"] == "classification"
    assert any(w["column"] == "churn" and "imbalanced" in w["message"] for w in profile["warnings"])
    by_id = client.get(f"/api/v1/datasets/{uploaded.json()['id']}", headers=alice).json()
    assert by_id["profile"] == profile
    iris = next(
        d for d in client.get("/api/v1/datasets", headers=alice).json() if d["name"] == "iris"
    )
    assert (
        client.get(f"/api/v1/datasets/{iris['id']}", headers=alice).json()["profile"]["n_rows"]
        == 150
    )

    body = {"dataset": name, "estimator": "LogisticRegression", "param_grid": {"C": [1.0]}, "cv": 3}
    bad = client.post(
        "/api/v1/tuning/tune", headers=alice, json={**body, "columns": {"time": "plan"}}
    )
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "columns", "time"]
    assert "not dates or numbers" in bad.text
    run = start(client, alice, **body, columns={"group": "region"})
    results = client.get(f"/api/v1/tuning/tune/{run['tuning_run_id']}/results", headers=alice)
    roles = results.json()["run"]["column_roles"]
    assert roles["group"] == "region" and "customer_id" in roles["ignore"]


@pytest.mark.parametrize(
    ("target", "task", "reason"),
    [("customer_id", None, "looks like an ID"), ("plan", "regression", "regression cannot")],
)
def test_a_target_that_cannot_be_learned_is_refused_at_upload(client, alice, target, task, reason):
    data = {"target": target, **({"task": task} if task else {})}
    answer = client.post(
        "/api/v1/datasets",
        headers=alice,
        data=data,
        files={"file": ("churn.csv", churn_csv(60), "text/csv")},
    )
    assert answer.status_code == 422 and reason in answer.text, answer.text
