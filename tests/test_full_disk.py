"""A full data directory on the real stack: the database, the embedded Redis, a worker and the
API all on a small tmpfs, filled mid-run. A submission is a 503 in words (never a 500), the
CLI says the same in one line, the run reads "stalled" with the reason, and once space returns
it resumes by itself and ends with every candidate once and scikit-learn's best."""

import contextlib
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlmodel import Session

from tuning.config import Settings
from tuning.db import upgrade_database
from tuning.domain import RunStatus
from tuning.redis_server import EmbeddedRedis
from tuning.runtime import Runtime, create_runtime
from tuning.service import create_user

from helpers import gridsearch_best, trials_of, wait_until_finished
from stack import (
    ApiServer,
    WorkerProcess,
    fill_disk,
    small_tmpfs,
    stack_env,
    wait_until,
)

pytestmark = [pytest.mark.stack]

# Sixteen candidates of about half a second each (3 folds of a forest on digits).
GRID = {"n_estimators": [30, 40, 50, 60], "max_depth": [None, 8], "min_samples_leaf": [1, 2]}
RUN = {"dataset": "digits", "estimator": "RandomForestClassifier", "param_grid": GRID, "cv": 3}
SMALL = {"dataset": "iris", "estimator": "LogisticRegression", "param_grid": {"C": [1.0]}}


@dataclass
class Stack:
    settings: Settings
    runtime: Runtime
    api: ApiServer
    worker: WorkerProcess
    headers: dict[str, str]
    data_dir: Path

    def status(self, run_id: str) -> dict:
        answer = httpx.get(
            f"{self.api.url}/api/v1/tuning/tune/{run_id}/status", headers=self.headers, timeout=10
        )
        assert answer.status_code == 200, answer.text
        return answer.json()


@pytest.fixture
def full_disk_stack(tmp_path: Path) -> Iterator[Stack]:
    with contextlib.ExitStack() as stack:
        try:
            data_dir = stack.enter_context(small_tmpfs("32m", prefix="full-"))
        except OSError as exc:
            pytest.skip(f"a full data directory needs a tmpfs of our own (root, mount): {exc}")
        redis = stack.enter_context(EmbeddedRedis(data_dir))
        settings = Settings(
            _env_file=None,
            data_dir=data_dir,
            database_url=f"sqlite:///{data_dir / 'tuning.db'}",
            redis_url=redis.url,
            worker_timeout_s=4,
            heartbeat_s=0.5,
            reconcile_s=1,
            task_target_s=0.3,
        )
        upgrade_database(settings)
        runtime = create_runtime(settings)
        stack.callback(runtime.engine.dispose)
        with Session(runtime.engine) as session:
            _, token = create_user(session=session, name="analyst")
        # The logs off the full disk, so that they can say what happened.
        worker = stack.enter_context(
            WorkerProcess(settings, tmp_path / "worker.log", concurrency=2)
        )
        api = stack.enter_context(ApiServer(settings, tmp_path / "api.log"))
        headers = {"Authorization": f"Bearer {token}"}
        yield Stack(settings, runtime, api, worker, headers, data_dir)


def test_a_full_data_directory_is_said_in_words_and_the_run_resumes_when_space_returns(
    full_disk_stack: Stack,
):
    stack = full_disk_stack
    oracle = gridsearch_best("digits", "RandomForestClassifier", GRID, "accuracy", 3)
    submitted = httpx.post(
        f"{stack.api.url}/api/v1/tuning/tune", json=RUN, headers=stack.headers, timeout=30
    )
    assert submitted.status_code == 202, submitted.text
    run_id = submitted.json()["tuning_run_id"]
    wait_until(lambda: len(trials_of(stack.runtime, uuid.UUID(run_id))) >= 2, 120, 0.05)

    filler = fill_disk(stack.data_dir)
    database = stack.data_dir / "tuning.db"
    said = f"The database {database} cannot be written: the disk is full (0 bytes free)"

    # A submission: a 503 that names the storage and the cause, never a 500.
    refused = httpx.post(
        f"{stack.api.url}/api/v1/tuning/tune", json=SMALL, headers=stack.headers, timeout=30
    )
    assert refused.status_code == 503, refused.text
    assert said in refused.json()["detail"] and "Retry-After" in refused.headers

    # The CLI: the same words in one line, a non-zero exit, no traceback.
    cli = subprocess.run(
        [sys.executable, "-m", "tuning", "tune", "--dataset", "iris", "--estimator",
         "LogisticRegression", "--param-grid", '{"C": [1.0]}'],
        env=stack_env(stack.settings), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert cli.returncode == 3, cli.stderr
    assert said in cli.stderr and "Traceback" not in cli.stderr

    # The run: still going, "stalled" with the reason, on the API and in its progress message.
    stalled = wait_until(lambda: (s := stack.status(run_id)).get("stalled") and s, 30, 0.2)
    assert stalled["status"] == "PROGRESS" and said in stalled["stalled"]
    assert stalled["progress"]["status"].startswith(f"stalled: {said}")
    health = httpx.get(f"{stack.api.url}/healthz", timeout=10)
    assert health.status_code == 503 and said in health.json()["database"]["detail"]
    stored = len(trials_of(stack.runtime, uuid.UUID(run_id)))
    time.sleep(3)  # nothing can be stored meanwhile, and nothing fails
    assert stack.status(run_id)["status"] == "PROGRESS"
    assert len(trials_of(stack.runtime, uuid.UUID(run_id))) == stored

    filler.unlink()  # space returns: the run resumes by itself

    status = wait_until_finished(stack.runtime, uuid.UUID(run_id), timeout=180)
    trials = trials_of(stack.runtime, uuid.UUID(run_id))
    assert status.status is RunStatus.SUCCESS, status
    assert sorted(t.index for t in trials) == list(range(16)), "every candidate once"
    assert status.result is not None
    assert (status.result.best_params, status.result.best_score) == oracle
    assert "stalled" not in stack.status(run_id)
    assert '" 500' not in stack.api.log_text(), "no request was answered 500"
