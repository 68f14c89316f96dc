"""Successive halving, rung by rung, against scikit-learn's HalvingGridSearchCV and
HalvingRandomSearchCV: the schedule, each rung's splits and survivors, and the best candidate."""

import numpy as np
import pytest
from scipy import stats
from sklearn.dummy import DummyClassifier
from sklearn.experimental import enable_halving_search_cv  # noqa: F401
from sklearn.model_selection import (
    HalvingGridSearchCV,
    HalvingRandomSearchCV,
    ParameterGrid,
    ParameterSampler,
    StratifiedKFold,
)
from sklearn.model_selection._search_successive_halving import _SubsampleMetaSplitter, _top_k

from tuning.errors import InvalidInput
from tuning.ml.datasets import load_bundled
from tuning.ml.halving import (
    best_of_last_rung,
    plan_halving,
    random_candidates,
    rung_splits,
    survivors,
)
from tuning.ml.ranges import Range, parse_range
from tuning.ml.scoring import make_run_scorer
from tuning.ml.search import (
    build_pipeline,
    evaluate_candidate,
    make_splits,
    pipeline_params,
)


def sklearn_schedule(n_candidates, n_samples, n_classes, *, factor, min_resources, aggressive):
    """The schedule HalvingGridSearchCV itself computes, on a dataset of that shape."""
    rng = np.random.RandomState(0)
    X = rng.rand(n_samples, 2)
    y = np.arange(n_samples) % n_classes
    search = HalvingGridSearchCV(  # the cheapest fits: only the schedule is compared
        DummyClassifier(),
        {"random_state": list(range(n_candidates))},
        factor=factor,
        min_resources=min_resources,
        aggressive_elimination=aggressive,
        cv=3,
        refit=False,
    ).fit(X, y)
    return search.n_candidates_, search.n_resources_


@pytest.mark.parametrize(
    ("n_candidates", "n_samples", "n_classes", "factor", "min_resources", "aggressive"),
    [
        (40, 1797, 10, 3, "exhaust", False),
        (40, 1797, 10, 3, "smallest", False),
        (40, 1797, 10, 2, "smallest", True),
        (40, 150, 3, 3, "smallest", True),
        (7, 500, 2, 2.5, "exhaust", False),
        (30, 400, 2, 3, 20, False),
        (1, 300, 2, 3, "exhaust", False),
        (50, 120, 4, 4, "smallest", False),
    ],
)
def test_schedule_equals_sklearn(
    n_candidates, n_samples, n_classes, factor, min_resources, aggressive
):
    plan = plan_halving(
        n_candidates=n_candidates,
        n_samples=n_samples,
        n_splits=3,
        n_classes=n_classes,
        factor=factor,
        min_resources=min_resources,
        aggressive_elimination=aggressive,
    )
    expected = sklearn_schedule(
        n_candidates,
        n_samples,
        n_classes,
        factor=factor,
        min_resources=min_resources,
        aggressive=aggressive,
    )
    assert (plan.n_candidates, plan.n_resources) == expected
    assert plan.total == sum(expected[0])


def test_rung_splits_equal_sklearns_subsampling():
    table = load_bundled("wine")
    base = list(StratifiedKFold(3).split(table.X, table.y))
    theirs = _SubsampleMetaSplitter(
        base_cv=StratifiedKFold(3), fraction=40 / len(table.y), subsample_test=True, random_state=7
    ).split(table.X, table.y)
    ours = rung_splits(base, n_resources=40, n_samples=len(table.y), random_state=7)
    for (train, test), (their_train, their_test) in zip(ours, theirs, strict=True):
        assert np.array_equal(train, their_train) and np.array_equal(test, their_test)


@pytest.mark.parametrize(
    "scores",
    [
        [0.5, 0.7, 0.7, np.nan, 0.1, 0.7, 0.2],  # ties and a failure
        [np.nan, np.nan, 0.3],
        [0.9] * 9,
    ],
)
@pytest.mark.parametrize("factor", [2, 3])
def test_survivors_are_top_k_in_its_order(scores, factor):
    params = [{"i": i} for i in range(len(scores))]
    results = {"iter": [0] * len(scores), "mean_test_score": scores, "params": params}
    k = int(np.ceil(len(scores) / factor))
    expected = [candidate["i"] for candidate in _top_k(results, k, 0)]
    given = [None if np.isnan(score) else score for score in scores]
    assert survivors(given, factor=factor) == expected


def test_refused_like_sklearn():
    with pytest.raises(InvalidInput, match="more than the dataset"):
        plan_halving(
            n_candidates=4,
            n_samples=50,
            n_splits=3,
            n_classes=2,
            factor=3,
            min_resources=60,
            aggressive_elimination=False,
        )
    with pytest.raises(InvalidInput, match="above 1"):
        plan_halving(
            n_candidates=4,
            n_samples=50,
            n_splits=3,
            n_classes=2,
            factor=1,
            min_resources="smallest",
            aggressive_elimination=False,
        )
    with pytest.raises(InvalidInput, match="both"):
        random_candidates(n_samples=100, n_splits=3, n_classes=2, min_resources="exhaust")


def run_rungs(table, estimator, candidates, plan, *, cv, scoring, seed, factor):
    """Every rung as the workers run it: evaluate, keep the survivors, then the last rung's best."""
    pipeline = build_pipeline(estimator, random_state=seed)
    base = make_splits(cv, table, pipeline)
    rungs = []
    for rung in range(plan.n_rungs):
        splits = rung_splits(
            base, n_resources=plan.n_resources[rung], n_samples=len(table.y), random_state=seed
        )
        scorer = make_run_scorer(scoring)
        results = [evaluate_candidate(pipeline, p, table, splits, scorer) for p in candidates]
        scores = [None if np.isnan(r.mean_test_score) else r.mean_test_score for r in results]
        rungs.append((candidates, scores))
        candidates = [candidates[i] for i in survivors(scores, factor=factor)]
    last_candidates, last_scores = rungs[-1]
    best = best_of_last_rung(last_scores)
    return rungs, last_candidates[best], last_scores[best]


def strip(params):
    return {name.removeprefix("model__"): value for name, value in params.items()}


@pytest.mark.slow  # the fast tier compares schedules, rung splits and survivors with sklearn's
@pytest.mark.parametrize(
    ("dataset", "estimator", "grid", "factor", "min_resources", "aggressive"),
    [
        (
            "iris",
            "SVC",
            {"C": [0.1, 1, 10, 100], "gamma": [0.01, 0.1, 1.0]},
            3,
            "exhaust",
            False,
        ),
        (
            "wine",
            "DecisionTreeClassifier",
            {"max_depth": [1, 2, 3, None], "min_samples_leaf": [1, 5]},
            2,
            "smallest",
            True,
        ),
        ("diabetes", "Ridge", {"alpha": [0.01, 0.1, 1.0, 10.0, 100.0]}, 2, "smallest", False),
    ],
)
def test_halving_grid_equals_halvinggridsearchcv(
    dataset, estimator, grid, factor, min_resources, aggressive
):
    table = load_bundled(dataset)
    seed, cv = 3, 3
    scoring = "r2" if estimator == "Ridge" else "accuracy"
    pipeline = build_pipeline(estimator, random_state=seed)
    theirs = HalvingGridSearchCV(
        pipeline,
        pipeline_params(grid),
        factor=factor,
        min_resources=min_resources,
        aggressive_elimination=aggressive,
        cv=cv,
        scoring=scoring,
        random_state=seed,
        refit=False,
    ).fit(table.X, table.y)
    n_classes = None if estimator == "Ridge" else len(np.unique(table.y))
    candidates = list(ParameterGrid(grid))
    plan = plan_halving(
        n_candidates=len(candidates),
        n_samples=len(table.y),
        n_splits=cv,
        n_classes=n_classes,
        factor=factor,
        min_resources=min_resources,
        aggressive_elimination=aggressive,
    )
    assert (plan.n_candidates, plan.n_resources) == (theirs.n_candidates_, theirs.n_resources_)
    rungs, best_params, best_score = run_rungs(
        table, estimator, candidates, plan, cv=cv, scoring=scoring, seed=seed, factor=factor
    )
    results = theirs.cv_results_
    for rung, (rung_candidates, scores) in enumerate(rungs):
        in_rung = np.flatnonzero(results["iter"] == rung)
        assert [strip(results["params"][i]) for i in in_rung] == rung_candidates
        expected = [None if np.isnan(s) else s for s in results["mean_test_score"][in_rung]]
        assert scores == expected
    assert best_params == strip(theirs.best_params_)
    assert best_score == theirs.best_score_


@pytest.mark.slow
def test_halving_random_equals_halvingrandomsearchcv():
    table = load_bundled("wine")
    seed, cv, factor = 11, 3, 3
    space = {
        "max_depth": Range(1, 8, integer=True),
        "min_impurity_decrease": Range(1e-4, 0.1, log=True),
        "criterion": ["gini", "entropy"],
    }
    pipeline = build_pipeline("DecisionTreeClassifier", random_state=seed)
    theirs = HalvingRandomSearchCV(
        pipeline,
        pipeline_params(space),
        factor=factor,
        cv=cv,
        random_state=seed,
        refit=False,
    ).fit(table.X, table.y)
    n_first = random_candidates(
        n_samples=len(table.y), n_splits=cv, n_classes=3, min_resources="smallest"
    )
    candidates = list(ParameterSampler(space, n_first, random_state=seed))
    plan = plan_halving(
        n_candidates=len(candidates),
        n_samples=len(table.y),
        n_splits=cv,
        n_classes=3,
        factor=factor,
        min_resources="smallest",
        aggressive_elimination=False,
    )
    assert (plan.n_candidates, plan.n_resources) == (theirs.n_candidates_, theirs.n_resources_)
    _, best_params, best_score = run_rungs(
        table,
        "DecisionTreeClassifier",
        candidates,
        plan,
        cv=cv,
        scoring="accuracy",
        seed=seed,
        factor=factor,
    )
    assert best_params == strip(theirs.best_params_)
    assert best_score == theirs.best_score_


@pytest.mark.parametrize(
    ("values", "integer", "phrase"),
    [
        ({"low": 1, "high": 1, "log": True}, False, "for one value give a list"),
        ({"low": 5, "high": 1}, True, "at or below its start"),
        ({"low": 0, "high": 1, "log": True}, False, "above 0"),
        ({"low": 1.5, "high": 3}, True, "must be an integer"),
        ({"low": 1, "high": float("inf")}, False, "finite"),
        ({"low": True, "high": 3}, False, "must be a number"),
        ({"low": 1, "high": 3, "log": "yes"}, False, "true or false"),
        ({"low": 1, "high": 3, "step": 1}, False, "unknown key 'step'"),
        ({"high": 3}, False, 'needs "low" and "high"'),
    ],
)
def test_a_bad_range_is_refused_with_its_reason(values, integer, phrase):
    with pytest.raises(InvalidInput) as refused:
        parse_range(values, integer=integer, where="param_grid.C")
    assert refused.value.field == "param_grid.C" and phrase in refused.value.reason


def test_a_range_samples_like_the_scipy_distribution_randomizedsearchcv_is_given():
    ours = {"C": Range(1e-3, 10, log=True), "n": Range(1, 50, integer=True), "x": Range(0.1, 0.9)}
    theirs = {
        "C": stats.loguniform(1e-3, 10),
        "n": stats.randint(1, 51),
        "x": stats.uniform(0.1, 0.8),
    }
    drawn = list(ParameterSampler(ours, 20, random_state=4))
    assert drawn == list(ParameterSampler(theirs, 20, random_state=4))
    assert all(type(c["n"]) is int and type(c["C"]) is float for c in drawn)
    logs = [Range(1, 1000, log=True, integer=True).rvs(random_state=seed) for seed in range(200)]
    assert min(logs) >= 1 and max(logs) <= 1000 and sorted(logs)[100] < 100, "log density"
