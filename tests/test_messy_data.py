"""An analyst's own CSV through a real worker: every catalog estimator tunes on messy files to
SUCCESS with the ID left out by default, and every result equals scikit-learn's own search on
the same pipeline and splitter, group and time splits included."""

import uuid
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.model_selection import GridSearchCV, StratifiedGroupKFold, TimeSeriesSplit
from sqlmodel import Session

from tuning.domain import RunStatus, TaskType
from tuning.ml.catalog import ESTIMATORS, EstimatorSpec
from tuning.ml.search import build_pipeline, make_splits, pipeline_params
from tuning.models import Dataset, TuningRun
from tuning.runtime import Runtime
from tuning.service import create_user, dataset_profile, load_table

from helpers import submit, trials_of, upload, wait_until_finished
from messy import churn_csv, spend_csv

# .ci/run repeats on PostgreSQL what reads the stored roles (groups, time order); every
# estimator's fits store the same rows as any run, so that test runs on SQLite only.
SCORING = {TaskType.CLASSIFICATION: "roc_auc", TaskType.REGRESSION: "r2"}


def small_grid(spec: EstimatorSpec) -> dict[str, list[Any]]:
    """Two candidates of the estimator's first parameter; few trees where it grows them."""
    first = next(name for name in spec.params if name != "n_estimators")
    grid: dict[str, list[Any]] = {first: list(spec.params[first].suggested[:2])}
    if "n_estimators" in spec.params:
        grid["n_estimators"] = [10]
    if "max_iter" in spec.params and spec.name.startswith("HistGradient"):
        grid["max_iter"] = [10]
    return grid


def sklearn_search(
    runtime: Runtime, run_id: uuid.UUID, grid: dict[str, list[Any]], cv: Any, **fit: Any
) -> tuple[GridSearchCV, pd.DataFrame]:
    """GridSearchCV on the run's own pipeline (its dataset's profile, its column roles)."""
    with Session(runtime.engine) as session:
        run = session.get(TuningRun, run_id)
        dataset = session.get(Dataset, run.dataset_id)
        table = load_table(session=session, dataset_id=dataset.id)
        profile = dataset_profile(session=session, dataset=dataset)
        pipeline = build_pipeline(
            run.estimator, random_state=run.random_state, profile=profile, roles=run.column_roles
        )
        if cv is None:  # the run's own stratified folds, as check_cv makes them
            cv = make_splits(run.cv, table, pipeline, profile=profile, roles=run.column_roles)
        search = GridSearchCV(pipeline, pipeline_params(grid), scoring=run.scoring, cv=cv)
        X, y = fit.pop("X", table.X), fit.pop("y", table.y)
        return search.fit(X, y, **fit), table.X


def assert_equal_to(search: GridSearchCV, runtime: Runtime, run_id: uuid.UUID) -> None:
    trials = trials_of(runtime, run_id)
    results = search.cv_results_
    assert [t.params for t in trials] == [
        {name.removeprefix("model__"): value for name, value in params.items()}
        for params in results["params"]
    ]
    for trial in trials:
        expected = [
            results[f"split{k}_test_score"][trial.index] for k in range(len(trial.split_scores))
        ]
        assert trial.split_scores == expected
        assert trial.mean_test_score == results["mean_test_score"][trial.index]


def test_every_estimator_tunes_an_analysts_csv_as_scikit_learn_would(runtime, session, worker):
    # Every estimator's run at once: more than MAX_ACTIVE_RUNS_PER_USER, which admins are spared.
    user, _ = create_user(session=session, name=f"admin-{uuid.uuid4().hex[:8]}", is_admin=True)
    datasets = {
        TaskType.CLASSIFICATION: upload(runtime, user, churn_csv(300), "churn"),
        TaskType.REGRESSION: upload(runtime, user, spend_csv(300), "spend_next_year"),
    }
    runs = {
        name: submit(
            runtime,
            user,
            dataset=datasets[spec.task],
            estimator=name,
            param_grid=small_grid(spec),
            scoring=SCORING[spec.task],
            cv=3,
        )
        for name, spec in ESTIMATORS.items()
    }
    for name, run_id in runs.items():
        status = wait_until_finished(runtime, run_id, timeout=300)
        assert status.status is RunStatus.SUCCESS, (name, status)
        with Session(runtime.engine) as session:
            roles = session.get(TuningRun, run_id).column_roles
        assert {"customer_id", "account_code", "country"} <= set(roles["ignore"]), name
        search, _ = sklearn_search(runtime, run_id, small_grid(ESTIMATORS[name]), None)
        assert status.result.best_score == search.best_score_, name
        assert_equal_to(search, runtime, run_id)
        assert all(t.error is None for t in trials_of(runtime, run_id)), name


@pytest.mark.database
def test_groups_stay_together_as_stratified_group_k_fold_keeps_them(runtime, user, worker):
    dataset = upload(runtime, user, churn_csv(300, seed=1), "churn")
    grid = {"C": [0.1, 1.0]}
    run_id = submit(
        runtime,
        user,
        dataset=dataset,
        estimator="LogisticRegression",
        param_grid=grid,
        scoring="roc_auc",
        cv=3,
        columns={"group": "city"},
    )
    assert wait_until_finished(runtime, run_id).status is RunStatus.SUCCESS
    with Session(runtime.engine) as session:
        table = load_table(session=session, dataset_id=session.get(TuningRun, run_id).dataset_id)
    groups = table.X["city"].fillna("(missing)").astype(str).to_numpy()
    search, _ = sklearn_search(runtime, run_id, grid, StratifiedGroupKFold(3), groups=groups)
    assert_equal_to(search, runtime, run_id)


@pytest.mark.database
def test_time_order_trains_on_the_past_as_timeseriessplit_does(runtime, user, worker):
    dataset = upload(runtime, user, spend_csv(300, seed=2), "spend_next_year")
    grid = {"alpha": [0.1, 10.0]}
    run_id = submit(
        runtime,
        user,
        dataset=dataset,
        estimator="Ridge",
        param_grid=grid,
        scoring="r2",
        cv=4,
        columns={"time": "signup_date"},
    )
    assert wait_until_finished(runtime, run_id).status is RunStatus.SUCCESS
    with Session(runtime.engine) as session:
        table = load_table(session=session, dataset_id=session.get(TuningRun, run_id).dataset_id)
    order = np.argsort(pd.to_datetime(table.X["signup_date"]).to_numpy(), kind="stable")
    X, y = table.X.iloc[order].reset_index(drop=True), table.y.iloc[order].reset_index(drop=True)
    search, _ = sklearn_search(runtime, run_id, grid, TimeSeriesSplit(4), X=X, y=y)
    assert_equal_to(search, runtime, run_id)
