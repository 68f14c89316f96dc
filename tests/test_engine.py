"""Runs on a real Celery worker, a real Redis and a real database."""

import time

import pytest
from sqlmodel import Session, select

from tuning.domain import RunStatus
from tuning.models import Trial, TuningRun
from tuning.service import cancel_run, get_run_summary

from helpers import (
    gridsearch_best,
    read_status,
    submit,
    trials_of,
    wait_until_finished,
    wait_until_released,
)
from stack import wait_until

pytestmark = [pytest.mark.database, pytest.mark.usefixtures("worker")]

# About a second a candidate on two cores: slow enough to watch, cancel and interrupt.
SLOW_GRID = {"n_estimators": [150, 160, 170, 180, 190, 200, 210, 220]}


def wait_for_trials(runtime, run_id, count: int, timeout: float = 60) -> None:
    wait_until(lambda: len(trials_of(runtime, run_id)) >= count, timeout, 0.05, f"< {count} trials")


def test_run_reaches_success_with_gridsearchcv_best(runtime, user):
    grid = {"n_estimators": [10, 30], "max_depth": [None, 3]}
    run_id = submit(runtime, user, estimator="RandomForestClassifier", param_grid=grid, cv=3)

    status = wait_until_finished(runtime, run_id)

    best_params, best_score = gridsearch_best("iris", "RandomForestClassifier", grid, "accuracy", 3)
    assert status.status is RunStatus.SUCCESS, status
    assert status.result.best_params == best_params
    assert status.result.best_score == best_score
    assert status.result.total_combinations == 4
    assert status.result.tuning_time > 0
    assert status.progress is None and status.error is None
    trials = trials_of(runtime, run_id)
    assert [t.index for t in trials] == [0, 1, 2, 3]
    assert all(len(t.split_scores) == 3 and t.worker for t in trials)


def test_progress_follows_the_stored_candidates_as_they_are_stored(runtime, user):
    run_id = submit(
        runtime,
        user,
        dataset="digits",
        estimator="RandomForestClassifier",
        param_grid={"n_estimators": [40, 50, 60, 70, 80, 90, 100, 110]},
    )
    seen: list[tuple[int, int]] = []  # (progress reported, trials stored) at each sample
    while not (status := read_status(runtime, run_id)).status.is_finished:
        if status.progress is not None:
            assert status.progress.total == 8
            assert status.progress.percentage == round(100 * status.progress.current / 8, 2)
            assert status.progress.status == (
                f"Testing parameter combination {status.progress.current}/8..."
            )
            seen.append((status.progress.current, len(trials_of(runtime, run_id))))
        time.sleep(0.02)

    assert status.status is RunStatus.SUCCESS
    reported = [current for current, _ in seen]
    assert reported == sorted(reported), "progress never goes back"
    assert all(current <= stored for current, stored in seen), "it counts only stored trials"
    # Trials are written at most a second after they finish, so the count moves during the run
    # (two worker processes may store two candidates between two samples).
    assert len({current for current in reported if 0 < current < 8}) >= 2, seen


def test_live_progress_comes_from_celery(runtime, user):
    run_id = submit(
        runtime, user, dataset="digits", estimator="RandomForestClassifier", param_grid=SLOW_GRID
    )
    wait_for_trials(runtime, run_id, 1)
    task_id = read_status(runtime, run_id).task_id
    state = runtime.queue.task_state(task_id)
    with Session(runtime.engine) as session:
        cancel_run(session=session, queue=runtime.queue, run_id=run_id)

    assert state is not None and state.state == "PROGRESS"
    assert set(state.meta) == {"current", "total", "status", "percentage"}
    assert state.meta["total"] == len(SLOW_GRID["n_estimators"])


def test_every_candidate_failing_ends_in_failure(runtime, user):
    # No iris fold has 500 training rows to take neighbours from.
    run_id = submit(
        runtime, user, estimator="KNeighborsClassifier", param_grid={"n_neighbors": [500, 600]}
    )

    status = wait_until_finished(runtime, run_id)

    assert status.status is RunStatus.FAILURE
    assert status.error.type == "ValueError"
    assert "all 2 candidates failed; first: " in status.error.message
    assert status.result is None and status.progress is None
    assert all(t.mean_test_score is None and t.error for t in trials_of(runtime, run_id))


# More neighbours than any iris fold has training rows: scikit-learn refuses each at predict time.
HOPELESS_GRID = {"n_neighbors": list(range(500, 1500))}


@pytest.mark.parametrize(
    "search", [{"search": "grid"}, {"search": "halving"}, {"search": "bayes", "n_iter": 300}]
)
def test_a_run_whose_first_candidates_all_fail_alike_ends_at_once(runtime, user, search):
    began = time.monotonic()
    run_id = submit(
        runtime, user, estimator="KNeighborsClassifier", param_grid=HOPELESS_GRID, **search
    )

    wait_until_finished(runtime, run_id, timeout=30)
    took = time.monotonic() - began
    wait_until_released(runtime, run_id)  # candidates in flight at the stop are stored too
    status = read_status(runtime, run_id)

    trials = trials_of(runtime, run_id)
    total = run_row(runtime, run_id).total_combinations
    assert status.status is RunStatus.FAILURE
    # Five stored, or the first completed chunk: fewer when a loaded machine made it small.
    assert 2 <= len(trials) < total / 4, f"{len(trials)} of {total} tried"
    assert took < 15, f"{took:.1f} s"
    assert all(t.mean_test_score is None and "n_neighbors" in t.error for t in trials)
    assert status.error.type == "ValueError"
    first = len(trials)
    assert status.error.message.startswith(
        f"the first {first} candidates all failed with the same error, so the other "
        f"{total - first} were not tried: ValueError: Expected n_neighbors <= n_samples_fit"
    )
    assert run_row(runtime, run_id).stop_reason == (
        f"the first {first} candidates all failed with the same error"
    )


def test_a_run_with_failing_and_scoring_candidates_tries_them_all(runtime, user):
    # Twenty alike failures, but the first candidate scores: the run is not hopeless.
    grid = {"n_neighbors": [3, *range(500, 520), 5]}
    run_id = submit(runtime, user, estimator="KNeighborsClassifier", param_grid=grid)

    status = wait_until_finished(runtime, run_id)

    trials = trials_of(runtime, run_id)
    assert status.status is RunStatus.SUCCESS
    assert len(trials) == 22 and status.result.total_combinations == 22
    assert sum(t.error is not None for t in trials) == 20
    assert status.result.best_params["n_neighbors"] in (3, 5)
    assert run_row(runtime, run_id).stop_reason is None


def run_row(runtime, run_id) -> TuningRun:
    with Session(runtime.engine) as session:
        run = session.get(TuningRun, run_id)
        assert run is not None
        return run


def test_a_failing_candidate_is_stored_and_the_run_goes_on(runtime, user):
    run_id = submit(
        runtime, user, estimator="KNeighborsClassifier", param_grid={"n_neighbors": [500, 3]}
    )

    status = wait_until_finished(runtime, run_id)

    failed, good = trials_of(runtime, run_id)
    assert status.status is RunStatus.SUCCESS
    assert status.result.best_params == {"n_neighbors": 3}
    assert failed.mean_test_score is None and "ValueError" in failed.error
    assert failed.split_scores == [None, None, None]
    assert good.error is None and good.mean_test_score > 0.9


def test_cancel_a_running_run_keeps_its_finished_trials(runtime, user):
    run_id = submit(
        runtime, user, dataset="digits", estimator="RandomForestClassifier", param_grid=SLOW_GRID
    )
    wait_for_trials(runtime, run_id, 1)

    with Session(runtime.engine) as session:
        run = cancel_run(session=session, queue=runtime.queue, run_id=run_id)
    assert run.status is RunStatus.REVOKED
    wait_until_released(runtime, run_id)  # it stops at its next candidate boundary

    kept = trials_of(runtime, run_id)
    status = read_status(runtime, run_id)
    assert status.status is RunStatus.REVOKED
    assert 1 <= len(kept) < len(SLOW_GRID["n_estimators"])
    assert len(trials_of(runtime, run_id)) == len(kept), "the run went on after its cancel"


def test_cancel_a_queued_run_means_it_never_starts(runtime, user):
    # Two slow runs fill the worker's two processes; the third waits in Redis.
    busy = [
        submit(
            runtime,
            user,
            dataset="digits",
            estimator="RandomForestClassifier",
            param_grid=SLOW_GRID,
        )
        for _ in range(2)
    ]
    queued = submit(
        runtime, user, estimator="RandomForestClassifier", param_grid={"n_estimators": [10]}
    )
    # Both processes are fitting a busy run's first candidate (over a second each); the queued
    # run's first task waits behind them.
    for run_id in busy:
        wait_until(lambda r=run_id: read_status(runtime, r).status is RunStatus.PROGRESS, 30, 0.02)
    with Session(runtime.engine) as session:
        cancel_run(session=session, queue=runtime.queue, run_id=queued)
        for run_id in busy:
            cancel_run(session=session, queue=runtime.queue, run_id=run_id)
    wait_until_released(runtime, queued, *busy)  # it frees up, takes and drops the queued run

    with Session(runtime.engine) as session:
        run = get_run_summary(session=session, run_id=queued, viewer=user)
    assert run.status is RunStatus.REVOKED
    assert run.started_at is None
    assert trials_of(runtime, queued) == []


def test_runs_and_trials_are_rows_in_the_database(runtime, user):
    run_id = submit(runtime, user, estimator="LogisticRegression", param_grid={"C": [0.1, 1.0]})
    wait_until_finished(runtime, run_id)
    with Session(runtime.engine) as session:
        run = session.get(TuningRun, run_id)
        count = len(session.exec(select(Trial.id).where(Trial.run_id == run_id)).all())
    assert run.status is RunStatus.SUCCESS and count == 2
    assert run.best_trial_index in (0, 1)
    assert run.finished_at is not None and run.started_at is not None
