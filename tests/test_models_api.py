"""Models through the API and the service call the pages make, against the real worker, Redis
and database: any scored trial trained, its evaluation, its threshold moved, and predictions
that agree between the API, the service and the downloaded file."""

import io
import uuid

import numpy as np
import pandas as pd
import pytest
import skops.io as sio
from fastapi.testclient import TestClient
from sklearn.model_selection import ParameterGrid
from sqlmodel import Session

from tuning.api.app import create_app
from tuning.models import TuningRun
from tuning.schemas import TrainingRunCreate
from tuning.service import authenticate, predict_with_model, submit_training

from factories import GRID, bearer, make_hopeless_run, make_run
from messy import as_csv, churn_csv, customers
from stack import wait_until

pytestmark = pytest.mark.database


@pytest.fixture(scope="module")
def client(runtime) -> TestClient:
    return TestClient(create_app(runtime))


@pytest.fixture(scope="module")
def alice(runtime):
    return bearer(runtime)


def poll(client, url: str, headers, timeout: float = 180) -> dict:
    def finished() -> dict | None:
        body = client.get(url, headers=headers).json()
        return body if body["status"] in ("SUCCESS", "FAILURE", "REVOKED") else None

    return wait_until(finished, timeout, 0.1, f"{url} did not finish")


@pytest.fixture(scope="module")
def tuned(client, alice, runtime, worker) -> dict:
    """A LogisticRegression run on the churn file, scored by average precision of "yes"."""
    name = f"churn-{uuid.uuid4().hex[:6]}"
    uploaded = client.post(
        "/api/v1/datasets",
        headers=alice,
        data={"target": "churn", "name": name},
        files={"file": ("churn.csv", churn_csv(), "text/csv")},
    )
    assert uploaded.status_code == 201, uploaded.text
    body = {
        "dataset": name,
        "estimator": "LogisticRegression",
        "param_grid": {"C": [0.001, 0.1, 10.0]},
        "cv": 3,
        "scoring": "average_precision",
        "pos_label": "yes",
        "test_size": 0.2,  # kept out of tuning: the trained model is tested on these rows
    }
    started = client.post("/api/v1/tuning/tune", headers=alice, json=body)
    assert started.status_code == 202, started.text
    final = poll(client, started.json()["status_url"], alice)
    assert final["status"] == "SUCCESS", final
    run_id = started.json()["tuning_run_id"]
    with Session(runtime.engine) as session:
        held_out = session.get(TuningRun, uuid.UUID(run_id)).held_out
    assert len(held_out) == 60  # a fifth of 300 rows, drawn by the worker and stored
    results = client.get(f"/api/v1/tuning/tune/{run_id}/results", headers=alice).json()
    return {"run_id": run_id, "results": results, "held_out": held_out}


@pytest.fixture(scope="module")
def trained(client, alice, tuned) -> dict:
    """A trial that is not the best, trained."""
    best = tuned["results"]["best_trial"]["trial"]
    other = next(t["trial"] for t in tuned["results"]["trials"] if t["trial"] != best)
    accepted = client.post(
        "/api/v1/models/train",
        headers=alice,
        json={"tuning_run_id": tuned["run_id"], "trial": other},
    )
    assert accepted.status_code == 202, accepted.text
    final = poll(client, accepted.json()["status_url"], alice)
    assert final["status"] == "SUCCESS", final
    return {"trial": other, "status": final, "model_id": final["result"]["model_id"]}


def test_a_trial_that_is_not_the_best_is_trained_and_evaluated_on_the_test_set(
    client, alice, tuned, trained
):
    result = trained["status"]["result"]
    assert result["trial_index"] == trained["trial"]
    evaluation = result["evaluation"]
    assert evaluation["test_set"]["kept_out_of_tuning"] is True
    assert evaluation["test_set"]["n_test"] == len(tuned["held_out"])
    assert evaluation["n_test"] == len(tuned["held_out"])
    assert evaluation["scoring"] == "average_precision"
    assert evaluation["binary"]["pos_label"] == "yes"
    model = client.get(f"/api/v1/models/{trained['model_id']}", headers=alice).json()
    assert model["trial_index"] == trained["trial"]
    trial_params = next(
        t["params"] for t in tuned["results"]["trials"] if t["trial"] == trained["trial"]
    )
    assert model["params"] == trial_params
    assert model["threshold"] == evaluation["binary"]["threshold"]
    assert model["evaluation"] == evaluation


def _download(client, alice, model_id):
    file = client.get(f"/api/v1/models/{model_id}/download", headers=alice).content
    return sio.load(io.BytesIO(file), trusted=sio.get_untrusted_types(data=file))


def test_the_api_the_service_and_the_file_predict_alike(client, alice, runtime, trained):
    model_id = trained["model_id"]
    new = customers(40, seed=11).drop(columns=["churn", "spend_next_year"])
    answer = client.post(
        f"/api/v1/models/{model_id}/predict",
        headers={**alice, "Content-Type": "text/csv"},
        content=as_csv(new),
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["n_rows"] == 40 and body["classes"] == ["no", "yes"]
    assert set(body["dropped_columns"]) == {"customer_id", "account_code", "country"}
    api = pd.DataFrame(body["predictions"])

    with Session(runtime.engine) as session:
        found = predict_with_model(
            session=session, model_id=model_id, viewer=None, max_bytes=10**6, content=as_csv(new)
        )
    pd.testing.assert_frame_equal(found.predicted, api, check_dtype=False)

    loaded = _download(client, alice, model_id)
    # The file takes the raw columns as pandas reads the file, the ID too (it is dropped).
    read = pd.read_csv(io.BytesIO(as_csv(new)))
    assert list(loaded.predict(read)) == list(api["prediction"])
    np.testing.assert_allclose(loaded.predict_proba(read)[:, 1], api["probability_yes"])

    as_json = client.post(
        f"/api/v1/models/{model_id}/predict",
        headers=alice,
        json={"rows": new.astype(object).where(new.notna(), None).to_dict(orient="records")},
    )
    assert as_json.status_code == 200, as_json.text
    assert as_json.json()["predictions"] == body["predictions"]
    csv = client.post(
        f"/api/v1/models/{model_id}/predict?format=csv",
        headers={**alice, "Content-Type": "text/csv"},
        content=as_csv(new),
    )
    assert csv.headers["content-type"].startswith("text/csv")
    assert list(pd.read_csv(io.StringIO(csv.text))["prediction"]) == list(api["prediction"])


def test_moving_the_threshold_changes_the_predictions_and_the_file(client, alice, trained):
    model_id = trained["model_id"]
    new = pd.read_csv(io.BytesIO(as_csv(customers(60, seed=12).drop(columns=["churn"]))))
    url = f"/api/v1/models/{model_id}"
    moved = client.patch(url, headers=alice, json={"threshold": 0.3})
    assert moved.status_code == 200, moved.text
    assert moved.json()["threshold"] == 0.3
    assert moved.json()["evaluation"]["binary"]["threshold"] == 0.3
    predicted = client.post(
        f"{url}/predict", headers={**alice, "Content-Type": "text/csv"}, content=as_csv(new)
    ).json()["predictions"]
    yes = np.array([row["probability_yes"] for row in predicted])
    labels = [row["prediction"] for row in predicted]
    assert labels == list(np.where(yes >= 0.3, "yes", "no"))
    loaded = _download(client, alice, model_id)
    assert list(loaded.predict(new)) == labels and loaded.threshold == 0.3

    by_recall = client.patch(url, headers=alice, json={"min_recall": 0.5}).json()
    assert by_recall["evaluation"]["metrics"]["recall"] >= 0.5
    assert by_recall["evaluation"]["binary"]["rule"] == "recall"
    both = client.patch(url, headers=alice, json={"threshold": 0.5, "max_f1": True})
    assert both.status_code == 422 and "exactly one" in both.text
    out_of_range = client.patch(url, headers=alice, json={"threshold": 1.5})
    assert out_of_range.status_code == 422 and "between 0 and 1" in out_of_range.text
    assert (
        client.patch(
            url, headers=bearer(client.app.state.runtime), json={"max_f1": True}
        ).status_code
        == 403
    )


@pytest.mark.parametrize(
    ("change", "status", "phrase"),
    [
        (lambda f: f.drop(columns=["plan"]), 422, "needs the column(s) 'plan'"),
        (lambda f: f.assign(notes="hello", another=1), 200, ""),
        (lambda f: f.assign(tenure_months="long"), 422, "'tenure_months' holds numbers"),
        (lambda f: f.head(0), 422, "no rows"),
    ],
    ids=["missing column", "extra columns", "wrong type", "header only"],
)
def test_new_files_are_checked_against_the_model_columns(
    client, alice, trained, change, status, phrase
):
    new = change(customers(20, seed=13).drop(columns=["churn"]))
    answer = client.post(
        f"/api/v1/models/{trained['model_id']}/predict",
        headers={**alice, "Content-Type": "text/csv"},
        content=as_csv(new),
    )
    assert answer.status_code == status, answer.text
    assert phrase in answer.text
    if status == 200:
        assert {"notes", "another"} <= set(answer.json()["dropped_columns"])


def test_an_empty_body_and_a_file_with_its_target_to_score(client, alice, trained):
    url = f"/api/v1/models/{trained['model_id']}/predict"
    empty = client.post(url, headers={**alice, "Content-Type": "text/csv"}, content=b"")
    assert empty.status_code == 422 and "empty" in empty.text
    no_rows = client.post(url, headers=alice, json={"rows": []})
    assert no_rows.status_code == 422 and "no rows" in no_rows.text
    scored = client.post(
        url, headers={**alice, "Content-Type": "text/csv"}, content=as_csv(customers(50, seed=14))
    ).json()
    assert scored["n_scored"] == 50 and "average_precision" in scored["score"]
    assert (
        client.post(url, headers={**alice, "Content-Type": "text/plain"}, content=b"a").status_code
        == 400
    )


def test_a_trial_must_exist_and_have_scored(client, alice, runtime):
    with Session(runtime.engine, expire_on_commit=False) as session:
        owner = authenticate(session=session, token=alice["Authorization"].split()[1])
        hopeless = make_hopeless_run(session, owner)
        scored = make_run(session, owner)
    failed = client.post(
        "/api/v1/models/train", headers=alice, json={"tuning_run_id": str(hopeless.id), "trial": 0}
    )
    assert failed.status_code == 422, failed.text
    assert failed.json()["detail"][0]["loc"] == ["body", "trial"]
    assert "did not score" in failed.text and "n_neighbors" in failed.text
    missing = client.post(
        "/api/v1/models/train", headers=alice, json={"tuning_run_id": str(scored.id), "trial": 99}
    )
    assert missing.status_code == 422 and "has no trial 99" in missing.text
    alone = client.post("/api/v1/models/train", headers=alice, json={"dataset": "iris", "trial": 1})
    assert alone.status_code == 422 and "tuning_run_id" in alone.text
    other = client.post(
        "/api/v1/models/train",
        headers=bearer(runtime),
        json={"tuning_run_id": str(scored.id), "trial": 1},
    )
    assert other.status_code == 403


class NoQueue:
    def enqueue_training(self, training_run_id, *, task_id):
        pass


def test_the_service_records_the_trial_it_trains(session, user):
    run = make_run(session, user)
    training = submit_training(
        session=session,
        queue=NoQueue(),
        owner=user,
        request=TrainingRunCreate(tuning_run_id=str(run.id), trial=2),
    )
    assert training.trial_index == 2 and training.params == list(ParameterGrid(GRID))[2]
    best = submit_training(
        session=session,
        queue=NoQueue(),
        owner=user,
        request=TrainingRunCreate(tuning_run_id=str(run.id)),
    )
    assert best.trial_index == run.best_trial_index and best.params == run.best_params
