"""A test set kept out of tuning (issue 16): drawn once from the run's seed (stratified, by group
or by time), stored with the run, never in any fold of tuning's cross-validation; the run's
results equal scikit-learn's search on the remaining rows."""

import uuid

import numpy as np
import pandas as pd
import pytest
from sklearn.model_selection import GridSearchCV
from sqlmodel import Session

from tuning.domain import RunStatus, TaskType
from tuning.errors import InvalidInput
from tuning.ml.datasets import Table
from tuning.ml.holdout import check_test_size, held_out_rows, n_test_rows, without_rows
from tuning.ml.search import build_pipeline, make_splits, pipeline_params
from tuning.models import Dataset, TuningRun
from tuning.service import dataset_profile, load_table, validate_run

from helpers import submit, trials_of, upload, wait_until_finished
from messy import churn_csv, customers, spend_csv


def churn_table(n_rows: int = 300) -> Table:
    frame = customers(n_rows).drop(columns=["spend_next_year"])
    return Table(X=frame.drop(columns=["churn"]), y=frame["churn"], task=TaskType.CLASSIFICATION)


def test_a_stratified_test_set_keeps_the_share_of_each_class_and_its_seed():
    table = churn_table()
    rows = held_out_rows(table, 0.2, random_state=7)
    assert len(rows) == n_test_rows(0.2, 300) == 60
    assert rows == sorted(set(rows))
    share = table.y.iloc[rows].eq("yes").mean()
    assert share == pytest.approx(table.y.eq("yes").mean(), abs=0.02)
    assert held_out_rows(table, 0.2, random_state=7) == rows
    assert held_out_rows(table, 0.2, random_state=8) != rows
    assert held_out_rows(table, 0.0, random_state=7) == []


def test_a_group_is_on_one_side_only_and_time_keeps_the_latest_rows():
    table = churn_table()
    rows = held_out_rows(table, 0.25, random_state=0, roles={"group": "city", "time": None})
    cities = table.X["city"].fillna("(missing)")
    kept = without_rows(table, rows)
    assert set(cities.iloc[rows]).isdisjoint(set(kept.X["city"].fillna("(missing)")))

    profile = {"columns": [{"name": "signup_date", "kind": "datetime", "date_format": "%Y-%m-%d"}]}
    rows = held_out_rows(
        table, 0.2, random_state=0, profile=profile, roles={"group": None, "time": "signup_date"}
    )
    dates = pd.to_datetime(table.X["signup_date"])
    assert (
        dates.iloc[rows].min()
        >= without_rows(table, rows).X["signup_date"].pipe(pd.to_datetime).max()
    )


def test_without_rows_numbers_the_rest_again_in_file_order():
    table = churn_table(20)
    kept = without_rows(table, [0, 5, 19])
    assert list(kept.X.index) == list(range(17))
    expected = table.X["customer_id"].drop(index=[0, 5, 19]).tolist()
    assert kept.X["customer_id"].tolist() == expected


@pytest.mark.parametrize(
    ("test_size", "kwargs", "words"),
    [
        (0.5, {"n_rows": 3, "classes": None, "n_groups": None}, "leaves none"),
        (0.2, {"n_rows": 100, "classes": [("a", 1), ("b", 99)], "n_groups": None}, "only 1 row"),
        (0.5, {"n_rows": 12, "classes": [("a", 6), ("b", 6)], "n_groups": None}, "fewer than 5"),
        (0.5, {"n_rows": 100, "classes": None, "n_groups": 8}, "takes 4 of the 8 groups"),
    ],
)
def test_a_test_set_that_leaves_too_little_is_refused_in_words(test_size, kwargs, words):
    with pytest.raises(InvalidInput, match=words) as caught:
        check_test_size(test_size, cv=5, by_time=False, **kwargs)
    assert caught.value.field == "test_size"


@pytest.mark.database
def test_the_api_shape_refuses_a_test_set_over_half(runtime, user):
    from pydantic import ValidationError

    from tuning.schemas import TuningRunCreate

    with pytest.raises(ValidationError, match="test_size"):
        TuningRunCreate(dataset="iris", estimator="SVC", param_grid={}, test_size=0.6)
    run_in = TuningRunCreate(
        dataset="iris", estimator="SVC", param_grid={"C": [1.0]}, test_size=0.2, cv=3
    )
    with Session(runtime.engine) as session:
        run = validate_run(session=session, settings=runtime.settings, run_in=run_in, viewer=user)
    assert run.test_size == 0.2
    assert run.held_out is None  # drawn by the first worker process that prepares the run


def remaining_search(runtime, run_id: uuid.UUID, grid: dict) -> tuple[GridSearchCV, list[int]]:
    """scikit-learn's GridSearchCV on the rows the run did not keep out, with its folds."""
    with Session(runtime.engine) as session:
        run = session.get(TuningRun, run_id)
        dataset = session.get(Dataset, run.dataset_id)
        table = load_table(session=session, dataset_id=dataset.id)
        profile = dataset_profile(session=session, dataset=dataset)
        held_out = list(run.held_out)
        expected = held_out_rows(
            table,
            run.test_size,
            random_state=run.random_state,
            profile=profile,
            roles=run.column_roles,
        )
        assert held_out == expected  # stored as drawn from the seed, so any host draws the same
        rest = without_rows(table, held_out)
        pipeline = build_pipeline(
            run.estimator, random_state=run.random_state, profile=profile, roles=run.column_roles
        )
        splits = make_splits(run.cv, rest, pipeline, profile=profile, roles=run.column_roles)
        # The folds number the remaining rows; in the file's numbering none is a held-out row.
        positions = np.setdiff1d(np.arange(len(table.y)), held_out)
        used = set().union(
            *(set(positions[train]) | set(positions[test]) for train, test in splits)
        )
        assert used == set(positions)  # every other row takes part, no held-out one does
        search = GridSearchCV(pipeline, pipeline_params(grid), scoring=run.scoring, cv=splits)
        return search.fit(rest.X, rest.y), held_out


@pytest.mark.parametrize(
    ("content", "target", "estimator", "grid", "scoring", "columns"),
    [
        (churn_csv(300, seed=3), "churn", "LogisticRegression", {"C": [0.1, 1.0]}, "roc_auc", None),
        (churn_csv(300, seed=4), "churn", "LogisticRegression", {"C": [0.1, 1.0]}, "roc_auc",
         {"group": "city"}),
        (spend_csv(300, seed=5), "spend_next_year", "Ridge", {"alpha": [0.1, 10.0]}, "r2",
         {"time": "signup_date"}),
    ],
    ids=["stratified", "by-group", "by-time"],
)  # fmt: skip
def test_held_out_rows_take_no_part_in_tuning_and_the_rest_equals_scikit_learn(
    runtime, user, worker, content, target, estimator, grid, scoring, columns
):
    dataset = upload(runtime, user, content, target)
    run_id = submit(
        runtime,
        user,
        dataset=dataset,
        estimator=estimator,
        param_grid=grid,
        scoring=scoring,
        cv=3,
        test_size=0.25,
        random_state=11,
        columns=columns,
    )
    assert wait_until_finished(runtime, run_id).status is RunStatus.SUCCESS
    search, held_out = remaining_search(runtime, run_id, grid)
    assert len(held_out) > 0
    trials = trials_of(runtime, run_id)
    results = search.cv_results_
    for trial in trials:
        expected = [results[f"split{k}_test_score"][trial.index] for k in range(3)]
        assert trial.split_scores == expected
        assert trial.mean_test_score == results["mean_test_score"][trial.index]
    with Session(runtime.engine) as session:
        assert session.get(TuningRun, run_id).best_score == search.best_score_
