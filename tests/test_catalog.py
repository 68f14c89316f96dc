"""The estimator catalog: the allowlist, its parameter metadata and grid validation."""

import json
import math
from collections.abc import Collection
from functools import cache
from typing import Any

import numpy as np
import pytest
from lightgbm.basic import LightGBMError
from sklearn.base import clone
from sklearn.datasets import load_diabetes, load_iris
from sklearn.model_selection import ParameterGrid
from sklearn.preprocessing import StandardScaler

from tuning.domain import TaskType
from tuning.errors import InvalidInput
from tuning.ml.catalog import (
    ESTIMATORS,
    ParamSpec,
    catalog_as_dict,
    get_estimator,
    make_estimator,
    validate_param_grid,
)

CLASSIFIERS = {
    "LogisticRegression",
    "RidgeClassifier",
    "SVC",
    "KNeighborsClassifier",
    "DecisionTreeClassifier",
    "RandomForestClassifier",
    "ExtraTreesClassifier",
    "GradientBoostingClassifier",
    "HistGradientBoostingClassifier",
    "LGBMClassifier",
}
REGRESSORS = {
    "Ridge",
    "Lasso",
    "ElasticNet",
    "SVR",
    "KNeighborsRegressor",
    "RandomForestRegressor",
    "GradientBoostingRegressor",
    "HistGradientBoostingRegressor",
    "LGBMRegressor",
}
TREE_BASED = {
    "DecisionTreeClassifier",
    "RandomForestClassifier",
    "ExtraTreesClassifier",
    "GradientBoostingClassifier",
    "HistGradientBoostingClassifier",
    "RandomForestRegressor",
    "GradientBoostingRegressor",
    "HistGradientBoostingRegressor",
    "LGBMClassifier",
    "LGBMRegressor",
}
NAMES = sorted(ESTIMATORS)
PARAMS = [(name, param) for name in NAMES for param in ESTIMATORS[name].params]


@cache
def small_data(task: TaskType) -> tuple[np.ndarray, np.ndarray]:
    """Every third row of iris (all 3 classes) or diabetes: enough to fit, quick to do so."""
    loader = load_iris if task is TaskType.CLASSIFICATION else load_diabetes
    X, y = loader(return_X_y=True)
    return X[::3], y[::3]


def few_trees(name: str, tuned: Collection[str]) -> dict[str, int]:
    """A few trees or boosting rounds, unless their number is `tuned`: enough to show that a
    value fits, where the ensembles' default 100 is slow."""
    number = "max_iter" if name.startswith("HistGradientBoosting") else "n_estimators"
    return {number: 5} if number in ESTIMATORS[name].params and number not in tuned else {}


def assert_accepted(name: str, params: dict[str, Any]) -> None:
    """The estimator's own checks accept `params`: scikit-learn's _parameter_constraints, or
    for LightGBM, which declares none, its configuration's checks, which run when it fits."""
    estimator = make_estimator(name).set_params(**params)
    if hasattr(estimator, "_parameter_constraints"):
        estimator._validate_params()
        return
    X, y = small_data(ESTIMATORS[name].task)
    try:
        estimator.set_params(**few_trees(name, params)).fit(X, y)
    except LightGBMError as error:
        # A fraction of rows just above 0 bags none of 50: LightGBM took the value (its
        # configuration is checked before the bag is drawn), then had no rows to fit.
        assert params.get("subsample", 1) < 0.01, error
        assert "(num_data) > (0)" in str(error), error


def test_the_allowlist_is_exactly_the_19_estimators_with_their_tasks() -> None:
    assert set(ESTIMATORS) == CLASSIFIERS | REGRESSORS
    assert len(ESTIMATORS) == 19
    for name, spec in ESTIMATORS.items():
        assert spec.name == name == spec.cls.__name__
        expected = TaskType.CLASSIFICATION if name in CLASSIFIERS else TaskType.REGRESSION
        assert spec.task is expected
        assert spec.scale is (name not in TREE_BASED)
        assert spec.has_random_state is ("random_state" in spec.cls().get_params())
        assert 3 <= len(spec.params) <= 10, name


@pytest.mark.parametrize("name", NAMES)
def test_make_estimator_builds_a_fresh_seeded_instance(name: str) -> None:
    spec = get_estimator(name)
    first, second = make_estimator(name), make_estimator(name, random_state=7)
    assert isinstance(first, spec.cls)
    assert first is not second
    params = first.get_params()
    for key, value in spec.fixed.items():
        assert params[key] == value
    if spec.has_random_state:
        assert params["random_state"] == 0
        assert second.get_params()["random_state"] == 7
    else:
        assert "random_state" not in params


@pytest.mark.parametrize(("name", "param"), PARAMS)
def test_suggested_values_are_valid_and_sklearn_accepts_them(name: str, param: str) -> None:
    spec = ESTIMATORS[name].params[param]
    assert 2 <= len(spec.suggested) <= 4
    assert spec.help
    validate_param_grid(name, {param: list(spec.suggested)})
    for value in spec.suggested:
        assert spec.check(value) is None, value
        assert_accepted(name, {param: value})


def _probes(spec: ParamSpec) -> list[Any]:
    """Every choice plus values at and just inside each bound that check() accepts."""
    values = list(spec.choices) or ([True, False] if spec.kind == "bool" else [])
    if spec.kind in ("int", "float") and spec.low is not None:
        step = 1 if spec.kind == "int" else 1e-9
        values += [spec.low, spec.low + step, spec.low + 1000]
        if spec.high is not None:
            values += [spec.high, spec.high - step]
    accepted = [value for value in values if spec.check(value) is None]
    assert accepted
    return accepted


# LightGBM declares no constraints, so its probes are fits: 1,000 leaves take a second.
RANGE_PARAMS = [
    pytest.param(name, param, marks=pytest.mark.slow) if param == "num_leaves" else (name, param)
    for name, param in PARAMS
]


@pytest.mark.parametrize(("name", "param"), RANGE_PARAMS)
def test_the_catalog_range_is_within_the_estimators_constraints(name: str, param: str) -> None:
    for value in _probes(ESTIMATORS[name].params[param]):
        assert_accepted(name, {param: value})


@pytest.mark.parametrize(("name", "param"), PARAMS)
def test_fitting_with_each_suggested_value_works(name: str, param: str) -> None:
    spec = ESTIMATORS[name]
    X, y = small_data(spec.task)
    if spec.scale:
        X = StandardScaler().fit_transform(X)
    small = few_trees(name, [param])
    for value in spec.params[param].suggested:
        model = clone(make_estimator(name)).set_params(**small, **{param: value}).fit(X, y)
        assert np.isfinite(model.predict(X[:5]).astype(float)).all()


@pytest.mark.parametrize("name", ["LGBMClassifier", "LGBMRegressor"])
def test_lightgbm_fits_one_thread_quietly_with_bagging_and_no_limit_written_none(
    name: str,
) -> None:
    spec = ESTIMATORS[name]
    assert spec.fixed["n_jobs"] == 1 and spec.fixed["verbose"] == -1
    assert spec.has_random_state
    X, y = small_data(spec.task)

    def trees(**params: Any) -> list[dict[str, Any]]:
        model = make_estimator(name).set_params(n_estimators=5, **params).fit(X, y)
        return model.booster_.dump_model()["tree_info"]  # the trees without the settings

    # None, the catalog's "no limit", is LightGBM's -1: it leaves a None parameter at its default.
    assert trees(max_depth=None) == trees(max_depth=-1)
    assert spec.params["max_depth"].check(-1) == "-1 is below the minimum 1"
    # subsample_freq=1 makes subsample draw rows at every round; at LightGBM's 0 it is ignored.
    assert trees(subsample=0.5) != trees()
    assert trees(subsample=0.5, subsample_freq=0) == trees()


def test_no_precomputed_kernel_or_deprecated_penalty() -> None:
    for name in ("SVC", "SVR"):
        assert "precomputed" not in ESTIMATORS[name].params["kernel"].choices
        assert ESTIMATORS[name].params["kernel"].check("precomputed") is not None
    assert "penalty" not in ESTIMATORS["LogisticRegression"].params


# ParamSpec.check

INT = ParamSpec("int", 1, None, choices=(None,))
FRACTION = ParamSpec("float", 0, 1, low_inclusive=False, choices=("sqrt", "log2", None))
FLAG = ParamSpec("bool")
OPTION = ParamSpec("str", choices=("a", "b"))


@pytest.mark.parametrize(
    ("spec", "value"),
    [
        (INT, 1),
        (INT, 10**6),
        (INT, None),
        (INT, np.int64(3)),
        (FRACTION, 1),
        (FRACTION, 1.0),
        (FRACTION, 1e-9),
        (FRACTION, "sqrt"),
        (FRACTION, None),
        (FLAG, True),
        (FLAG, False),
        (OPTION, "b"),
    ],
)
def test_check_accepts(spec: ParamSpec, value: Any) -> None:
    assert spec.check(value) is None


@pytest.mark.parametrize(
    ("spec", "value", "reason"),
    [
        (INT, 0, "0 is below the minimum 1"),
        (INT, -1, "-1 is below the minimum 1"),
        (INT, 1.5, "1.5 is not an integer"),
        (INT, 5.0, "5.0 is not an integer"),
        (INT, True, "True is not one of None or an integer >= 1"),
        (INT, "3", "'3' is not one of None or an integer >= 1"),
        (FRACTION, 0, "0 is not above 0"),
        (FRACTION, 1.5, "1.5 is above the maximum 1"),
        (FRACTION, math.nan, "nan is not a finite number"),
        (FRACTION, math.inf, "inf is not a finite number"),
        (FRACTION, False, "False is not one of 'sqrt', 'log2', None or a number in (0, 1]"),
        (FRACTION, "abc", "'abc' is not one of 'sqrt', 'log2', None or a number in (0, 1]"),
        (FLAG, 1, "1 is not one of True, False"),
        (FLAG, 0, "0 is not one of True, False"),
        (FLAG, "true", "'true' is not one of True, False"),
        (OPTION, "c", "'c' is not one of 'a', 'b'"),
        (OPTION, None, "None is not one of 'a', 'b'"),
        (OPTION, ["a"], "['a'] is not one of 'a', 'b'"),
    ],
)
def test_check_rejects_with_a_reason(spec: ParamSpec, value: Any, reason: str) -> None:
    assert spec.check(value) == reason


def test_an_open_upper_bound_is_exclusive() -> None:
    spec = ParamSpec("float", 0, 1, high_inclusive=False)
    assert spec.check(0.5) is None
    assert spec.check(1) == "1 is not below 1"


# get_estimator and validate_param_grid


@pytest.mark.parametrize("name", ["XGBClassifier", "os.system", "", "logisticregression", None])
def test_an_unknown_estimator_is_refused(name: Any) -> None:
    with pytest.raises(InvalidInput) as caught:
        get_estimator(name)
    assert caught.value.field == "estimator"
    assert "choose one of: LogisticRegression, " in caught.value.reason
    with pytest.raises(InvalidInput) as caught:
        validate_param_grid(name, {"C": [1.0]})
    assert caught.value.field == "estimator"


@pytest.mark.parametrize(
    ("name", "grid", "field", "reason"),
    [
        ("RandomForestClassifier", {}, "param_grid", "the grid is empty"),
        ("RandomForestClassifier", None, "param_grid", "the grid is empty"),
        ("RandomForestClassifier", [["n_estimators", [10]]], "param_grid", "the grid is empty"),
        ("RandomForestClassifier", {"foo": [1]}, "param_grid.foo", "unknown parameter 'foo'"),
        ("SVC", {"random_state": [1]}, "param_grid.random_state", "tunable parameters: C,"),
        ("Ridge", {"alpha": 1.0}, "param_grid.alpha", "give a non-empty list of values"),
        ("Ridge", {"alpha": "1.0"}, "param_grid.alpha", "give a non-empty list of values"),
        ("Ridge", {"alpha": []}, "param_grid.alpha", "give a non-empty list of values"),
        ("Ridge", {"alpha": ["big"]}, "param_grid.alpha", "'big' is not a number >= 0"),
        ("Ridge", {"alpha": [1.0, -1.0]}, "param_grid.alpha", "-1.0 is below the minimum 0"),
        ("SVC", {"C": [0]}, "param_grid.C", "0 is not above 0"),
        ("SVC", {"kernel": ["precomputed"]}, "param_grid.kernel", "'precomputed' is not one of"),
        ("SVC", {"gamma": ["scale", 0.0]}, "param_grid.gamma", "0.0 is not above 0"),
        ("ElasticNet", {"l1_ratio": [0.5, 1.5]}, "param_grid.l1_ratio", "1.5 is above the"),
        ("RandomForestClassifier", {"n_estimators": [True]}, "param_grid.n_estimators", "True"),
        ("RandomForestClassifier", {"n_estimators": [10.5]}, "param_grid.n_estimators", "10.5"),
        ("Ridge", {"fit_intercept": [1]}, "param_grid.fit_intercept", "1 is not one of True"),
        ("Ridge", {"alpha": [1.0, 1.0]}, "param_grid.alpha", "duplicate value 1.0"),
        ("Ridge", {"alpha": [1, 1.0]}, "param_grid.alpha", "duplicate value 1.0"),
        ("SVC", {"gamma": ["scale", "scale"]}, "param_grid.gamma", "duplicate value 'scale'"),
        ("DecisionTreeClassifier", {"max_depth": [None, 3, None]}, "param_grid.max_depth", "None"),
    ],
)
def test_a_bad_grid_is_refused_naming_the_field(
    name: str, grid: Any, field: str, reason: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        validate_param_grid(name, grid)
    assert caught.value.field == field
    assert reason in caught.value.reason


def test_the_first_problem_is_the_one_reported() -> None:
    grid = {"n_estimators": [10, 0], "foo": [1]}
    with pytest.raises(InvalidInput) as caught:
        validate_param_grid("RandomForestClassifier", grid)
    assert caught.value.field == "param_grid.n_estimators"
    assert caught.value.reason == "0 is below the minimum 1"


@pytest.mark.parametrize(
    ("name", "grid"),
    [
        ("RandomForestClassifier", {"n_estimators": [10, 50], "max_depth": [None, 5]}),
        ("RandomForestClassifier", {"max_features": ["sqrt", None, 0.5, 1.0]}),
        ("SVC", {"C": [0.1, 1, 10], "gamma": ["scale", "auto", 0.01], "kernel": ["rbf"]}),
        ("LogisticRegression", {"C": [1], "l1_ratio": [0, 0.5, 1], "class_weight": [None]}),
        ("Ridge", {"alpha": [0, 1e-3, 1e6], "fit_intercept": [True, False]}),
        ("HistGradientBoostingRegressor", {"max_leaf_nodes": [None, 2], "loss": ["squared_error"]}),
        (
            "LGBMClassifier",
            {"max_depth": [None, 3], "reg_alpha": [0, 1e-3], "class_weight": [None]},
        ),
        ("LGBMRegressor", {"num_leaves": [2, 63], "subsample": [0.5, 1]}),
    ],
)
def test_a_good_grid_is_accepted_and_every_candidate_is_a_valid_estimator(
    name: str, grid: dict[str, list[Any]]
) -> None:
    validate_param_grid(name, grid)  # raises InvalidInput on a bad grid

    for candidate in ParameterGrid(grid):
        assert_accepted(name, candidate)
        estimator = make_estimator(name).set_params(**candidate)
        assert {k: estimator.get_params()[k] for k in candidate} == candidate


# catalog_as_dict


def test_catalog_as_dict_is_json_and_lists_every_estimator() -> None:
    catalog = json.loads(json.dumps(catalog_as_dict()))
    assert [entry["name"] for entry in catalog] == list(ESTIMATORS)
    by_name = {entry["name"]: entry for entry in catalog}
    assert by_name["SVR"]["task"] == "regression"
    assert by_name["SVC"]["task"] == "classification"
    gamma = next(p for p in by_name["SVC"]["params"] if p["name"] == "gamma")
    assert gamma["kind"] == "float"
    assert gamma["choices"] == ["scale", "auto"]
    assert gamma["low"] == 0
    assert gamma["low_inclusive"] is False
    assert gamma["log"] is True
    assert gamma["suggested"][0] == "scale"
    for entry in catalog:
        assert [p["name"] for p in entry["params"]] == list(ESTIMATORS[entry["name"]].params)
        for param in entry["params"]:
            assert {"kind", "low", "high", "low_inclusive", "high_inclusive", "log"} <= set(param)
            assert {"choices", "suggested", "help"} <= set(param)
