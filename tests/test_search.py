"""The engine's search against scikit-learn's own GridSearchCV and RandomizedSearchCV."""

import math
import warnings

import numpy as np
import pytest
from sklearn.exceptions import FitFailedWarning
from sklearn.model_selection import GridSearchCV, RandomizedSearchCV

from tuning.ml.datasets import load_bundled
from tuning.ml.scoring import make_run_scorer
from tuning.ml.search import (
    SearchSpace,
    best_index,
    build_pipeline,
    evaluate_candidate,
    iter_candidates,
    make_splits,
    n_candidates,
    pipeline_params,
    rank_test_scores,
)

CASES = [
    (
        "iris",
        "RandomForestClassifier",
        {"n_estimators": [5, 20], "max_depth": [None, 2]},
        "accuracy",
    ),
    # max_depth 5, 10 and None grow the same tree on wine: a tie that the first candidate wins.
    ("wine", "DecisionTreeClassifier", {"max_depth": [10, None, 5, 1]}, "f1_macro"),
    ("breast_cancer", "LogisticRegression", {"C": [0.01, 0.1, 1.0, 10.0]}, "roc_auc"),
    (
        "digits",
        "KNeighborsClassifier",
        {"n_neighbors": [1, 3, 5], "weights": ["uniform", "distance"]},
        "balanced_accuracy",
    ),
    ("diabetes", "Ridge", {"alpha": [0.1, 1.0, 10.0]}, "neg_mean_squared_error"),
    (
        "diabetes",
        "GradientBoostingRegressor",
        {"n_estimators": [10, 30], "max_depth": [2, 3]},
        "r2",
    ),
    # LightGBM bagging rows (subsample below 1), so that the seed decides the trees.
    (
        "breast_cancer",
        "LGBMClassifier",
        {"num_leaves": [4, 15], "subsample": [0.7, 1.0], "n_estimators": [20]},
        "roc_auc",
    ),
    (
        "diabetes",
        "LGBMRegressor",
        {"n_estimators": [10, 30], "subsample": [0.7], "reg_lambda": [0.0, 1.0]},
        "neg_mean_absolute_error",
    ),
]


# Three folds: every comparison below is exact, so more folds would only cost time.
CV = 3


def run_engine(dataset: str, estimator: str, space: SearchSpace, scoring: str, cv: int = CV):
    """Every candidate as the worker runs it: one at a time, then best_index over the means."""
    table = load_bundled(dataset)
    pipeline = build_pipeline(estimator, random_state=space.random_state)
    splits = make_splits(cv, table, pipeline)
    candidates = list(iter_candidates(space))
    scorer = make_run_scorer(scoring)
    results = [evaluate_candidate(pipeline, p, table, splits, scorer) for p in candidates]
    means = [r.mean_test_score for r in results]
    return candidates, results, best_index(means)


def sklearn_search(
    search_cls, dataset: str, estimator: str, space: SearchSpace, scoring: str, **kw
):
    table = load_bundled(dataset)
    grid = pipeline_params(space.param_grid)
    key = "param_grid" if search_cls is GridSearchCV else "param_distributions"
    pipeline = build_pipeline(estimator, random_state=space.random_state)
    search = search_cls(
        pipeline, **{key: grid}, scoring=scoring, cv=CV, return_train_score=True, **kw
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FitFailedWarning)
        warnings.simplefilter("ignore", UserWarning)
        search.fit(table.X, table.y)
    return search


def strip(params: dict) -> dict:
    return {name.removeprefix("model__"): value for name, value in params.items()}


@pytest.mark.parametrize(("dataset", "estimator", "grid", "scoring"), CASES)
def test_grid_search_matches_gridsearchcv(dataset, estimator, grid, scoring):
    space = SearchSpace(grid)
    candidates, results, best = run_engine(dataset, estimator, space, scoring)
    oracle = sklearn_search(GridSearchCV, dataset, estimator, space, scoring)

    assert [pipeline_params(c) for c in candidates] == oracle.cv_results_["params"]
    assert best == oracle.best_index_
    assert candidates[best] == strip(oracle.best_params_)
    assert results[best].mean_test_score == oracle.best_score_
    for i, result in enumerate(results):
        assert result.mean_test_score == oracle.cv_results_["mean_test_score"][i]
        assert result.std_test_score == oracle.cv_results_["std_test_score"][i]
        for split, score in enumerate(result.split_scores):
            assert score == oracle.cv_results_[f"split{split}_test_score"][i]
        for split, score in enumerate(result.split_train_scores):
            assert score == oracle.cv_results_[f"split{split}_train_score"][i]


@pytest.mark.parametrize(
    ("dataset", "estimator", "scoring"),
    [("breast_cancer", "LGBMClassifier", "accuracy"), ("diabetes", "LGBMRegressor", "r2")],
)
def test_lightgbm_scores_again_to_the_bit_with_the_same_seed(dataset, estimator, scoring):
    grid = {"n_estimators": [10], "subsample": [0.5], "colsample_bytree": [0.5]}

    def split_scores(seed: int) -> list[float]:
        _, results, _ = run_engine(
            dataset, estimator, SearchSpace(grid, random_state=seed), scoring
        )
        return results[0].split_scores + results[0].split_train_scores

    assert split_scores(3) == split_scores(3)
    # Another seed draws other bags: the same scores above are the seed's doing, not chance.
    assert split_scores(3) != split_scores(4)


def test_ties_go_to_the_first_candidate_as_in_sklearn():
    space = SearchSpace({"max_depth": [10, None, 5, 1]})
    _, results, best = run_engine("wine", "DecisionTreeClassifier", space, "accuracy")
    means = [r.mean_test_score for r in results]
    assert means.count(max(means)) > 1, "the grid must hold a tie for this test to mean anything"
    assert best == means.index(max(means))


@pytest.mark.parametrize("seed", [0, 7])
def test_random_search_matches_randomizedsearchcv(seed):
    grid = {"n_estimators": [2, 5, 10, 20], "max_depth": [None, 2, 4], "min_samples_leaf": [1, 3]}
    space = SearchSpace(grid, sampled=True, n_iter=6, random_state=seed)
    candidates, results, best = run_engine(
        "breast_cancer", "ExtraTreesClassifier", space, "accuracy"
    )
    oracle = sklearn_search(
        RandomizedSearchCV,
        "breast_cancer",
        "ExtraTreesClassifier",
        space,
        "accuracy",
        n_iter=6,
        random_state=seed,
    )
    assert n_candidates(space) == len(candidates) == 6
    assert [pipeline_params(c) for c in candidates] == oracle.cv_results_["params"]
    assert candidates[best] == strip(oracle.best_params_)
    assert results[best].mean_test_score == oracle.best_score_


def test_failing_candidates_score_nan_like_error_score_nan():
    # 200 neighbours cannot be found among the 120 training rows of an iris fold.
    space = SearchSpace({"n_neighbors": [200, 3, 150, 5]})
    _, results, best = run_engine("iris", "KNeighborsClassifier", space, "accuracy")
    oracle = sklearn_search(GridSearchCV, "iris", "KNeighborsClassifier", space, "accuracy")

    assert math.isnan(results[0].mean_test_score)
    assert np.isnan(oracle.cv_results_["mean_test_score"][0])
    assert results[0].error is not None and "ValueError" in results[0].error
    assert results[1].error is None
    assert best == oracle.best_index_
    assert results[best].mean_test_score == oracle.best_score_


def test_best_index_is_none_when_every_candidate_failed():
    assert best_index([math.nan, None, math.nan]) is None
    assert best_index([0.5, math.nan, 0.7, 0.7]) == 2


def test_random_search_with_more_iterations_than_candidates_takes_the_grid():
    space = SearchSpace({"alpha": [0.1, 1.0]}, sampled=True, n_iter=10, random_state=0)
    assert n_candidates(space) == 2
    assert len(list(iter_candidates(space))) == 2


def test_ranks_match_gridsearchcv_ties_and_failures_included():
    space = SearchSpace({"n_neighbors": [200, 3, 150, 5, 7]})
    _, results, _ = run_engine("iris", "KNeighborsClassifier", space, "accuracy")
    oracle = sklearn_search(GridSearchCV, "iris", "KNeighborsClassifier", space, "accuracy")
    means = [r.mean_test_score for r in results]
    assert rank_test_scores(means) == list(oracle.cv_results_["rank_test_score"])
