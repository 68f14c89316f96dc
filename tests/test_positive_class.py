"""A rare positive class named by the run, through a real worker: every stored score equals
scikit-learn's GridSearchCV with the same scorer on the same table and splits."""

import pytest
from sklearn.model_selection import GridSearchCV

from tuning.domain import RunStatus
from tuning.ml.datasets import read_csv
from tuning.ml.scoring import make_run_scorer
from tuning.ml.search import build_pipeline, make_splits, pipeline_params

from factories import rare_yes_csv, upload_rare_yes
from helpers import submit, trials_of, wait_until_finished

pytestmark = [pytest.mark.database, pytest.mark.usefixtures("worker")]

GRID = {"C": [0.01, 0.1, 1.0, 10.0], "class_weight": [None, "balanced"]}
CV = 3


@pytest.mark.parametrize("scoring", ["f1", "average_precision"])
def test_a_rare_yes_scores_as_gridsearchcv_with_the_same_scorer(runtime, session, user, scoring):
    dataset = upload_rare_yes(session, user)
    run_id = submit(
        runtime,
        user,
        dataset=dataset.name,
        estimator="LogisticRegression",
        param_grid=GRID,
        cv=CV,
        scoring=scoring,
        pos_label="yes",
    )

    status = wait_until_finished(runtime, run_id)

    table = read_csv(rare_yes_csv(), "answer")
    pipeline = build_pipeline("LogisticRegression")
    oracle = GridSearchCV(
        pipeline,
        pipeline_params(GRID),
        scoring=make_run_scorer(scoring, "yes"),
        cv=make_splits(CV, table, pipeline),
    ).fit(table.X, table.y)
    results = oracle.cv_results_
    trials = sorted(trials_of(runtime, run_id), key=lambda trial: trial.index)
    assert status.status is RunStatus.SUCCESS, status
    assert [trial.params for trial in trials] == [
        {name.removeprefix("model__"): value for name, value in params.items()}
        for params in results["params"]
    ]
    for trial in trials:
        splits = [results[f"split{k}_test_score"][trial.index] for k in range(CV)]
        assert trial.split_scores == splits
        assert trial.mean_test_score == results["mean_test_score"][trial.index]
    best = {name.removeprefix("model__"): value for name, value in oracle.best_params_.items()}
    assert status.result.best_params == best
    assert status.result.best_score == oracle.best_score_
    # The positive class is the rare one: no candidate scores what "no" as positive would.
    assert 0 < oracle.best_score_ < 0.9
