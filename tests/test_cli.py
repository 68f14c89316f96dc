"""`python -m tuning …` as a user types it, against the test worker."""

import json
import subprocess
import sys
import uuid

import pytest
from sqlmodel import Session, select

from tuning.config import PROJECT_ROOT
from tuning.models import TuningRun
from tuning.service import (
    authenticate,
    browser_session_user,
    create_user,
    start_browser_session,
)

from stack import stack_env

# Every test runs the real command in a new Python process (about 4 s each): the stack tier.
pytestmark = [pytest.mark.database, pytest.mark.stack]


def cli(
    settings, *args: str, timeout: float = 120, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "tuning", *args],
        cwd=PROJECT_ROOT,
        env={**stack_env(settings), **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.mark.usefixtures("worker")
def test_tune_wait_prints_the_final_status_last_and_exits_0(settings):
    result = cli(
        settings,
        "tune",
        "--dataset",
        "iris",
        "--estimator",
        "RandomForestClassifier",
        "--param-grid",
        '{"n_estimators":[10,50],"max_depth":[null,5]}',
        "--cv",
        "3",
        "--wait",
    )
    assert result.returncode == 0, result.stderr
    final = json.loads(result.stdout.strip().splitlines()[-1])
    assert final["status"] == "SUCCESS"
    assert set(final["result"]["best_params"]) == {"n_estimators", "max_depth"}
    assert "100.00%" in result.stderr

    listed = cli(settings, "runs")
    assert final["tuning_run_id"] in listed.stdout
    status = cli(settings, "status", final["tuning_run_id"])
    assert json.loads(status.stdout) == final


@pytest.mark.usefixtures("worker")
def test_tune_a_halving_run_with_its_options(settings):
    result = cli(
        settings,
        "tune",
        "--dataset",
        "iris",
        "--estimator",
        "SVC",
        "--param-grid",
        '{"C": [0.1, 1, 10, 100]}',
        "--search",
        "halving",
        "--halving",
        '{"factor": 2, "min_resources": "smallest"}',
        "--cv",
        "3",
        "--wait",
    )
    assert result.returncode == 0, result.stderr
    final = json.loads(result.stdout.strip().splitlines()[-1])
    assert final["status"] == "SUCCESS"
    assert final["result"]["total_combinations"] == 4 + 2 + 1  # three rungs, halved each time


@pytest.mark.usefixtures("worker")
def test_tune_exits_non_zero_on_failure(settings):
    result = cli(
        settings,
        "tune",
        "--dataset",
        "iris",
        "--estimator",
        "KNeighborsClassifier",
        "--param-grid",
        '{"n_neighbors":[500]}',
        "--cv",
        "3",
        "--wait",
    )
    assert result.returncode == 1
    assert json.loads(result.stdout.strip().splitlines()[-1])["status"] == "FAILURE"
    assert "ValueError" in result.stderr


def test_validation_error_goes_to_stderr_with_exit_2(settings):
    result = cli(
        settings,
        "tune",
        "--dataset",
        "iris",
        "--estimator",
        "RandomForestClassifier",
        "--param-grid",
        '{"n_estimators":[0]}',
    )
    assert result.returncode == 2
    assert "param_grid.n_estimators" in result.stderr and "minimum" in result.stderr
    bad_json = cli(
        settings, "tune", "--dataset", "iris", "--estimator", "SVC", "--param-grid", "{C: 1}"
    )
    assert bad_json.returncode == 2 and "not valid JSON" in bad_json.stderr
    bad_factor = cli(
        settings,
        "tune",
        "--dataset",
        "iris",
        "--estimator",
        "SVC",
        "--param-grid",
        '{"C": [1, 10]}',
        "--search",
        "halving",
        "--halving",
        '{"factor": 1}',
    )
    assert bad_factor.returncode == 2 and "factor" in bad_factor.stderr


def test_tune_over_a_quota_names_it_exits_2_and_stores_nothing_and_the_local_admin_is_exempt(
    settings, runtime
):
    with Session(runtime.engine) as session:
        user, _ = create_user(session=session, name=f"cli-{uuid.uuid4().hex[:8]}")
    tune = ["tune", "--dataset", "iris", "--estimator", "SVC", "--param-grid", '{"C": [1, 10]}']
    quota = {"MAX_FITS_PER_RUN": "5"}  # 2 candidates x 3 folds: 6 fits

    result = cli(settings, *tune, "--cv", "3", "--user", user.name, env=quota)
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "error: this run makes 6 fits (2 candidates x 3 folds), the limit is 5 per run "
        "(MAX_FITS_PER_RUN); choose fewer candidates or folds"
    )
    with Session(runtime.engine) as session:
        assert not session.exec(select(TuningRun).where(TuningRun.owner_id == user.id)).all()
    admin = cli(settings, *tune, "--cv", "3", env=quota)  # the local admin: no quota
    assert admin.returncode == 0, admin.stderr


def test_tune_reads_a_positive_class_as_the_dataset_labels_hold_it(settings, runtime):
    def tune(pos_label: str) -> subprocess.CompletedProcess:
        return cli(
            settings,
            "tune",
            "--dataset",
            "breast_cancer",
            "--estimator",
            "LogisticRegression",
            "--param-grid",
            '{"C": [1.0]}',
            "--scoring",
            "f1",
            "--pos-label",
            pos_label,
        )

    result = tune("1")
    assert result.returncode == 0, result.stderr
    with Session(runtime.engine) as session:
        run = session.get(TuningRun, uuid.UUID(result.stdout.strip()))
    assert run is not None and run.pos_label == 1 and type(run.pos_label) is int
    refused = tune("maybe")
    assert refused.returncode == 2
    assert "pos_label: 'maybe' is not one of this dataset's classes: 0, 1" in refused.stderr


def test_users_add_prints_the_token_last(settings):
    result = cli(settings, "users", "add", "grace", "--admin")
    assert result.returncode == 0, result.stderr
    token = result.stdout.strip().splitlines()[-1]
    assert len(token) >= 40 and " " not in token
    again = cli(settings, "users", "add", "grace")
    assert again.returncode == 2 and "already exists" in again.stderr


def test_users_revoke_stops_a_token_and_users_token_gives_a_new_one(settings, runtime):
    added = cli(settings, "users", "add", "hopper")
    old = added.stdout.strip().splitlines()[-1]
    with Session(runtime.engine) as session:
        user = authenticate(session=session, token=old)
        assert user is not None
        secret = start_browser_session(session=session, user=user, lifetime_s=60)

    assert cli(settings, "users", "revoke", "hopper").returncode == 0
    with Session(runtime.engine) as session:
        assert authenticate(session=session, token=old) is None
        assert browser_session_user(session=session, secret=secret) is None

    issued = cli(settings, "users", "token", "hopper")
    new = issued.stdout.strip().splitlines()[-1]
    with Session(runtime.engine) as session:
        user = authenticate(session=session, token=new)
        assert user.name == "hopper"
        secret = start_browser_session(session=session, user=user, lifetime_s=60)
    # A new token ends the dashboard sign-ins made with the old one, like a revoke.
    assert cli(settings, "users", "token", "hopper").returncode == 0
    with Session(runtime.engine) as session:
        assert browser_session_user(session=session, secret=secret) is None
    missing = cli(settings, "users", "revoke", "nobody-here")
    assert missing.returncode != 0 and "no user named 'nobody-here'" in missing.stderr


def test_cancel_and_status_of_unknown_runs(settings):
    assert "not a valid UUID" in cli(settings, "status", "abc-123").stderr
    missing = cli(settings, "cancel", "00000000-0000-0000-0000-000000000000")
    assert missing.returncode == 2 and "no tuning run" in missing.stderr


def test_the_command_answers_help_as_typed(settings):
    """The entry point as a user types it; each command's help is read in process
    (tests/test_cli_help.py), as a new Python process costs about 4 s."""
    result = cli(settings, "--help", timeout=30)
    assert result.returncode == 0 and "usage:" in result.stdout
