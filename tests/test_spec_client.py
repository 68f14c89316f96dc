"""A client written only from docs/spec/tuning-status-endpoint.md, against a real uvicorn server.

The polling loop below is the spec's `monitorTuning` and backoff examples, ported line for line;
the only changes are the base URL and the Authorization header, as the issue allows. The spec's
four JSON examples are the fixtures for the response shapes.
"""

import json
import re
import time
import uuid
from pathlib import Path

import httpx
import pytest
from sqlmodel import Session

from tuning.config import PROJECT_ROOT
from tuning.service import create_user

pytestmark = [pytest.mark.database, pytest.mark.usefixtures("worker")]

SPEC = PROJECT_ROOT / "docs" / "spec" / "tuning-status-endpoint.md"


def spec_examples(path: Path = SPEC) -> dict[str, dict]:
    """The JSON blocks under '### Pending', '### In Progress', '### Completed', '### Failed'."""
    text = path.read_text()
    examples = {}
    for title in ("Pending", "In Progress", "Completed", "Failed"):
        section = text.split(f"### {title}\n", 1)[1]
        block = re.search(r"```json\n(.*?)```", section, re.S).group(1)
        examples[title] = json.loads(block)
    return examples


def shape(value, key: str = ""):
    """Keys, nesting and nulls of a JSON value, without the values (best_params: the grid's)."""
    if isinstance(value, dict) and key != "best_params":
        return {name: shape(item, name) for name, item in value.items()}
    return None if value is None else "value"


@pytest.fixture(scope="module")
def auth(runtime) -> dict[str, str]:
    with Session(runtime.engine) as session:
        _, token = create_user(session=session, name=f"spec-{uuid.uuid4().hex[:8]}")
    return {"Authorization": f"Bearer {token}"}


def monitor_tuning(base_url: str, headers: dict, tuning_run_id: str, interval: float) -> dict:
    """The spec's monitorTuning(): poll until SUCCESS (return) or FAILURE (raise)."""
    max_attempts = 120
    attempts = 0
    seen = []
    while attempts < max_attempts:
        response = httpx.get(
            f"{base_url}/api/v1/tuning/tune/{tuning_run_id}/status", headers=headers
        )
        if response.status_code != 200:
            raise RuntimeError(f"HTTP {response.status_code}")
        data = response.json()
        seen.append(data)
        if data["progress"]:
            assert isinstance(data["progress"]["percentage"], int | float)
            assert isinstance(data["progress"]["status"], str)
        if data["status"] == "SUCCESS":
            assert data["result"]["best_params"] is not None
            assert isinstance(data["result"]["best_score"], float)
            return {"final": data, "seen": seen}
        if data["status"] == "FAILURE":
            raise RuntimeError(data["error"]["message"])
        time.sleep(interval)
        attempts += 1
    raise AssertionError("Polling timeout reached")


def start(base_url: str, headers: dict, **body) -> str:
    response = httpx.post(f"{base_url}/api/v1/tuning/tune", headers=headers, json=body)
    assert response.status_code == 202, response.text
    return response.json()["tuning_run_id"]


def test_the_spec_client_follows_a_run_to_success(api_url, auth):
    run_id = start(
        api_url,
        auth,
        dataset="digits",
        estimator="RandomForestClassifier",
        param_grid={"n_estimators": [20, 40, 60, 80]},
        cv=3,
    )

    outcome = monitor_tuning(api_url, auth, run_id, interval=0.05)

    examples = spec_examples()
    assert shape(outcome["final"]) == shape(examples["Completed"])
    statuses = [data["status"] for data in outcome["seen"]]
    assert set(statuses) <= {"PENDING", "PROGRESS", "SUCCESS"}
    for data in outcome["seen"]:
        if data["status"] == "PROGRESS":
            assert shape(data) == shape(examples["In Progress"])
            progress = data["progress"]
            assert progress["percentage"] == round(100 * progress["current"] / progress["total"], 2)
        if data["status"] == "PENDING":
            assert shape(data) == shape(examples["Pending"])


def test_the_spec_client_raises_the_failure_message(api_url, auth):
    run_id = start(
        api_url,
        auth,
        dataset="iris",
        estimator="KNeighborsClassifier",
        param_grid={"n_neighbors": [400]},
        cv=3,
    )
    with pytest.raises(RuntimeError, match="candidates failed"):
        monitor_tuning(api_url, auth, run_id, interval=0.05)
    final = httpx.get(f"{api_url}/api/v1/tuning/tune/{run_id}/status", headers=auth).json()
    assert shape(final) == shape(spec_examples()["Failed"])
    assert final["error"]["type"] == "ValueError"


def test_the_spec_error_codes(api_url, auth):
    base = f"{api_url}/api/v1/tuning/tune"
    assert httpx.get(f"{base}/abc-123/status", headers=auth).status_code == 400
    assert httpx.get(f"{base}/{uuid.uuid4()}/status", headers=auth).status_code == 404
    assert httpx.get(f"{base}/{uuid.uuid4()}/status").status_code == 401


def test_the_spec_backoff_loop_stops_on_revoked(api_url, auth):
    run_id = start(
        api_url,
        auth,
        dataset="digits",
        estimator="RandomForestClassifier",
        param_grid={"n_estimators": [200, 210, 220, 230, 240, 250]},
        cv=3,
    )
    httpx.post(f"{api_url}/api/v1/tuning/tune/{run_id}/cancel", headers=auth)
    delay, stop = 0.02, {"SUCCESS", "FAILURE", "REVOKED"}
    for _ in range(50):
        status = httpx.get(f"{api_url}/api/v1/tuning/tune/{run_id}/status", headers=auth).json()
        if status["status"] in stop:
            break
        delay = min(delay * 1.5, 0.5)
        time.sleep(delay)
    assert status["status"] == "REVOKED"
