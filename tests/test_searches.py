"""Halving, Bayesian, ranged and early-stopped runs on a real worker, Redis and database, against
scikit-learn's own HalvingGridSearchCV and RandomizedSearchCV on the same inputs."""

import pytest
from scipy import stats
from sklearn.experimental import enable_halving_search_cv  # noqa: F401
from sklearn.model_selection import HalvingGridSearchCV, RandomizedSearchCV
from sqlmodel import Session, select

from tuning.domain import RunStatus
from tuning.errors import InvalidInput
from tuning.ml.datasets import load_bundled
from tuning.ml.search import default_pipeline, pipeline_params
from tuning.models import Proposal, TuningRun

from helpers import (
    gridsearch_best,
    read_status,
    submit,
    trials_of,
    wait_until_finished,
    wait_until_released,
)

pytestmark = [pytest.mark.database, pytest.mark.usefixtures("worker")]


def strip(params: dict) -> dict:
    return {name.removeprefix("model__"): value for name, value in params.items()}


def run_row(runtime, run_id) -> TuningRun:
    with Session(runtime.engine) as session:
        return session.get(TuningRun, run_id)


def test_halving_run_equals_halvinggridsearchcv_rung_by_rung(runtime, user):
    grid = {"C": [0.1, 1, 10, 100], "gamma": [0.01, 0.1, 1.0]}
    run_id = submit(
        runtime, user, estimator="SVC", param_grid=grid, search="halving", random_state=5
    )
    status = wait_until_finished(runtime, run_id)

    table = load_bundled("iris")
    theirs = HalvingGridSearchCV(
        default_pipeline("SVC", table, random_state=5), pipeline_params(grid), cv=3, random_state=5
    ).fit(table.X, table.y)
    assert status.status is RunStatus.SUCCESS, status
    assert status.result.best_params == strip(theirs.best_params_)
    assert status.result.best_score == theirs.best_score_
    total = sum(theirs.n_candidates_)
    assert status.result.total_combinations == total
    trials = trials_of(runtime, run_id)
    assert [t.index for t in trials] == list(range(total))
    results = theirs.cv_results_
    assert [t.rung for t in trials] == list(results["iter"])
    assert [t.n_resources for t in trials] == list(results["n_resources"])
    assert [t.params for t in trials] == [strip(p) for p in results["params"]]
    run = run_row(runtime, run_id)
    assert run.halving["n_candidates"] == theirs.n_candidates_
    assert run.rung == len(theirs.n_candidates_) - 1


def test_a_run_without_train_scores_stores_none_and_still_equals_gridsearchcv(runtime, user):
    grid = {"C": [0.1, 1, 10], "gamma": [0.01, 0.1]}
    run_id = submit(runtime, user, estimator="SVC", param_grid=grid, return_train_score=False)
    status = wait_until_finished(runtime, run_id)
    assert status.status is RunStatus.SUCCESS, status
    assert (status.result.best_params, status.result.best_score) == gridsearch_best(
        "iris", "SVC", grid, "accuracy", 3
    )
    assert all(t.split_train_scores is None for t in trials_of(runtime, run_id))
    assert run_row(runtime, run_id).return_train_score is False


def test_random_search_over_ranges_equals_randomizedsearchcv(runtime, user):
    space = {"C": {"low": 0.001, "high": 100, "log": True}, "gamma": {"low": 0.001, "high": 1}}
    run_id = submit(
        runtime,
        user,
        estimator="SVC",
        param_grid=space,
        search="random",
        n_iter=8,
        random_state=2,
    )
    status = wait_until_finished(runtime, run_id)

    table = load_bundled("iris")
    theirs = RandomizedSearchCV(
        default_pipeline("SVC", table, random_state=2),
        {"model__C": stats.loguniform(0.001, 100), "model__gamma": stats.uniform(0.001, 0.999)},
        n_iter=8,
        cv=3,
        random_state=2,
    ).fit(table.X, table.y)
    assert status.status is RunStatus.SUCCESS, status
    assert status.result.best_params == strip(theirs.best_params_)
    assert status.result.best_score == theirs.best_score_


def test_bayesian_run_proposes_the_same_candidates_for_the_same_seed(runtime, user):
    space = {"C": {"low": 0.01, "high": 100, "log": True}, "kernel": ["rbf", "linear"]}

    def candidates(seed: int) -> list[dict]:
        run_id = submit(
            runtime,
            user,
            estimator="SVC",
            param_grid=space,
            search="bayes",
            n_iter=14,
            random_state=seed,
        )
        status = wait_until_finished(runtime, run_id)
        assert status.status is RunStatus.SUCCESS, status
        trials = trials_of(runtime, run_id)
        assert len(trials) == 14
        best = max(trials, key=lambda t: t.mean_test_score)
        assert status.result.best_score == best.mean_test_score
        with Session(runtime.engine) as session:
            proposals = session.exec(select(Proposal).where(Proposal.run_id == run_id)).all()
        assert sorted(p.index for p in proposals) == list(range(14))
        return [t.params for t in trials]

    first = candidates(seed=4)
    assert all(0.01 <= c["C"] <= 100 and c["kernel"] in ("rbf", "linear") for c in first)
    # The test worker has two processes: two slots propose side by side, so the order in which
    # they meet differs between runs; the first candidates (independent, seeded per index) do not.
    second = candidates(seed=4)
    assert first[:2] == second[:2]


def test_no_improvement_ends_the_run_early_with_the_best_so_far(runtime, user):
    # Every depth above the tree's own depth grows the same tree: the score stops improving.
    grid = {"max_depth": list(range(1, 41))}
    run_id = submit(
        runtime,
        user,
        estimator="DecisionTreeClassifier",
        param_grid=grid,
        stop_after_no_improvement=5,
    )
    assert wait_until_finished(runtime, run_id).status is RunStatus.SUCCESS
    wait_until_released(runtime, run_id)  # candidates in flight at the stop are stored too
    status = read_status(runtime, run_id)
    trials = trials_of(runtime, run_id)
    assert len(trials) < 40
    run = run_row(runtime, run_id)
    assert run.stop_reason == "no better score in the last 5 candidates"
    assert run.progress_message.startswith(f"Stopped after {len(trials)} of 40")
    scored = [t for t in trials if t.mean_test_score is not None]
    assert status.result.best_score == max(t.mean_test_score for t in scored)
    assert run.best_trial_index == max(scored, key=lambda t: t.mean_test_score).index


def test_a_bayesian_run_stopped_early_counts_the_candidates_in_flight(runtime, user):
    space = {"C": {"low": 0.01, "high": 1000, "log": True}, "gamma": {"low": 1e-5, "high": 0.1}}
    run_id = submit(
        runtime,
        user,
        dataset="breast_cancer",
        estimator="SVC",
        param_grid=space,
        search="bayes",
        n_iter=40,
        random_state=0,
        stop_after_no_improvement=4,
    )
    assert wait_until_finished(runtime, run_id).status is RunStatus.SUCCESS
    wait_until_released(runtime, run_id)
    status, trials = read_status(runtime, run_id), trials_of(runtime, run_id)
    assert len(trials) < 40
    assert status.result.best_score == max(t.mean_test_score for t in trials)


def test_time_budget_ends_a_run_at_the_next_candidate(runtime, user):
    run_id = submit(
        runtime,
        user,
        dataset="digits",
        estimator="RandomForestClassifier",
        param_grid={"n_estimators": list(range(100, 300, 10))},
        time_budget_s=2,
    )
    status = wait_until_finished(runtime, run_id)
    assert status.status is RunStatus.SUCCESS, status
    run = run_row(runtime, run_id)
    assert run.stop_reason == "the time budget of 2 s was reached"
    assert 0 < len(trials_of(runtime, run_id)) < 20


@pytest.mark.parametrize(
    ("fields", "field", "phrase"),
    [
        ({"param_grid": {"C": {"low": 1, "high": 10}}}, "param_grid.C", "grid takes lists"),
        (
            {"param_grid": {"kernel": {"low": 1, "high": 2}}, "search": "random", "n_iter": 3},
            "param_grid.kernel",
            "numeric parameter",
        ),
        (
            {
                "param_grid": {"C": {"low": 0, "high": 1, "log": True}},
                "search": "bayes",
                "n_iter": 3,
            },
            "param_grid.C",
            "above 0",
        ),
        ({"param_grid": {"C": [1, 2]}, "search": "bayes"}, "n_iter", "needs n_iter"),
        (
            {"param_grid": {"C": [1, 2]}, "search": "halving", "stop_after_no_improvement": 3},
            "stop_after_no_improvement",
            "time_budget_s",
        ),
    ],
)
def test_bad_searches_are_refused_with_the_field_named(runtime, user, fields, field, phrase):
    with pytest.raises(InvalidInput) as refused:
        submit(runtime, user, estimator="SVC", **fields)
    assert refused.value.field == field and phrase in refused.value.reason
