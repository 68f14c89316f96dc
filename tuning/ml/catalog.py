"""The estimator allowlist: the only classes a run can build, with metadata for each parameter.

Users name an estimator by its class name (scikit-learn's, or LightGBM's scikit-learn one); the
name is looked up here and nowhere else, so nothing a user sends is ever imported by name.
"""

import math
import numbers
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from sklearn.base import BaseEstimator
from sklearn.ensemble import (
    ExtraTreesClassifier,
    GradientBoostingClassifier,
    GradientBoostingRegressor,
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.linear_model import ElasticNet, Lasso, LogisticRegression, Ridge, RidgeClassifier
from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor
from sklearn.svm import SVC, SVR
from sklearn.tree import DecisionTreeClassifier

from tuning.domain import TaskType
from tuning.errors import InvalidInput, shown
from tuning.ml.ranges import Range, is_range, parse_range

ParamKind = Literal["int", "float", "str", "bool"]
# Which way a parameter makes the model simpler (more regularized, smaller, smoother).
Simpler = Literal["lower", "higher"]


def _show(value: Any) -> str:
    """A value as a user would write it (strings quoted, numbers bare), cut short if long."""
    return shown(value)


def _finite(value: numbers.Real) -> bool:
    try:
        return math.isfinite(value)
    except OverflowError:  # an integer beyond any float, such as 10**400
        return False


# The largest integer a parameter takes: scikit-learn's compiled code (trees, neighbours) holds
# integers in 32 or 64 bits and fails on a worker past that, and no useful setting comes near.
INT_LIMIT = 2**31 - 1


def _bound(value: float) -> str:
    """A range bound without trailing zeros: 0, 1, 0.5."""
    return f"{value:g}"


@dataclass(frozen=True)
class ParamSpec:
    """What values one constructor parameter accepts, and a grid to start from.

    A value is valid when it is one of `choices` (strings, None, booleans), or when `kind` is
    numeric and it lies within [low, high] (an open bound where `*_inclusive` is False).
    `simpler` says which way numbers make a simpler model, where that is clear; None (no limit)
    is then the most complex setting, and named options such as 'sqrt' are not ordered.
    """

    kind: ParamKind
    low: float | None = None
    high: float | None = None
    low_inclusive: bool = True
    high_inclusive: bool = True
    log: bool = False
    choices: tuple[Any, ...] = ()
    suggested: tuple[Any, ...] = ()
    help: str = ""
    simpler: Simpler | None = None

    def check(self, value: Any) -> str | None:
        """Why `value` is not allowed, or None when it is."""
        # Matching on type as well as value keeps True from passing for 1 and 0 for False.
        if any(type(choice) is type(value) and choice == value for choice in self._choices()):
            return None
        if self.kind in ("str", "bool") or isinstance(value, bool):
            return f"{_show(value)} is not {self.allowed()}"
        if not isinstance(value, numbers.Real):
            return f"{_show(value)} is not {self.allowed()}"
        if self.kind == "int" and not isinstance(value, numbers.Integral):
            return f"{_show(value)} is not an integer"
        if isinstance(value, int) and self.kind == "int" and abs(value) > INT_LIMIT:
            return f"{_show(value)} is too large; the limit is {INT_LIMIT:,}"
        if not _finite(value):
            return f"{_show(value)} is not a finite number"
        low, high = self.low, self.high
        if low is not None and (value < low or (value == low and not self.low_inclusive)):
            if self.low_inclusive:
                return f"{_show(value)} is below the minimum {_bound(low)}"
            return f"{_show(value)} is not above {_bound(low)}"
        if high is not None and (value > high or (value == high and not self.high_inclusive)):  # type: ignore[operator]  # typeshed's Real has < and <= only
            if self.high_inclusive:
                return f"{_show(value)} is above the maximum {_bound(high)}"
            return f"{_show(value)} is not below {_bound(high)}"
        return None

    def _choices(self) -> tuple[Any, ...]:
        return (True, False) if self.kind == "bool" and not self.choices else self.choices

    def allowed(self) -> str:
        """The allowed values in words, e.g. "one of 'sqrt', None or a number in (0, 1]"."""
        parts = []
        if self._choices():
            parts.append("one of " + ", ".join(_show(choice) for choice in self._choices()))
        if self.kind in ("int", "float"):
            noun = "an integer" if self.kind == "int" else "a number"
            if self.low is not None and self.high is not None:
                left = "[" if self.low_inclusive else "("
                right = "]" if self.high_inclusive else ")"
                parts.append(f"{noun} in {left}{_bound(self.low)}, {_bound(self.high)}{right}")
            elif self.low is not None:
                parts.append(f"{noun} {'>=' if self.low_inclusive else '>'} {_bound(self.low)}")
            elif self.high is not None:
                parts.append(f"{noun} {'<=' if self.high_inclusive else '<'} {_bound(self.high)}")
            else:
                parts.append(noun)
        return " or ".join(parts)


@dataclass(frozen=True)
class EstimatorSpec:
    name: str
    load: Callable[[], type[BaseEstimator]]  # the class, imported when first needed
    task: TaskType
    params: dict[str, ParamSpec]
    scale: bool = True  # standardize numeric columns first (not needed by trees)
    fixed: dict[str, Any] = field(default_factory=dict)  # constructor kwargs users cannot change
    has_random_state: bool = False
    # Takes categories as ordinal codes natively (and needs dense input), rather than one-hot.
    native_categories: bool = False

    @property
    def cls(self) -> type[BaseEstimator]:
        return self.load()


def _int(
    low: int,
    suggested: tuple[Any, ...],
    help: str,
    *,
    none: bool = False,
    simpler: Simpler | None = None,
) -> ParamSpec:
    """An integer parameter >= low, optionally also None."""
    choices = (None,) if none else ()
    return ParamSpec(
        "int", low, None, choices=choices, suggested=suggested, help=help, simpler=simpler
    )


def _float(
    low: float,
    high: float | None,
    suggested: tuple[Any, ...],
    help: str,
    *,
    open_low: bool = False,
    log: bool = False,
    choices: tuple[Any, ...] = (),
    simpler: Simpler | None = None,
) -> ParamSpec:
    """A real parameter in [low, high], or (low, high] when open_low."""
    return ParamSpec(
        "float",
        low,
        high,
        not open_low,
        True,
        log,
        choices,
        suggested=suggested,
        help=help,
        simpler=simpler,
    )


def _str(choices: tuple[Any, ...], suggested: tuple[Any, ...], help: str) -> ParamSpec:
    """A parameter taking one of a few named options."""
    return ParamSpec("str", choices=choices, suggested=suggested, help=help)


# Parameters shared by several estimators; ranges follow each class's _parameter_constraints.
_C = _float(
    0,
    None,
    (0.1, 1.0, 10.0),
    "Smaller C regularizes more",
    open_low=True,
    log=True,
    simpler="lower",
)
_ALPHA = _float(
    0, None, (0.1, 1.0, 10.0), "Larger alpha regularizes more", log=True, simpler="higher"
)
_SPARSE_ALPHA = _float(
    0, None, (0.01, 0.1, 1.0), "Larger alpha zeroes more coefficients", log=True, simpler="higher"
)
_FIT_INTERCEPT = ParamSpec("bool", suggested=(True, False), help="Fit an intercept (constant) term")
_BALANCED = "'balanced' upweights rare classes; None weighs all equally"
_CLASS_WEIGHT = _str(("balanced", None), (None, "balanced"), _BALANCED)
_FOREST_CLASS_WEIGHT = _str(("balanced", "balanced_subsample", None), (None, "balanced"), _BALANCED)
_SELECTION = _str(("cyclic", "random"), ("cyclic", "random"), "Coordinate update order")
_KERNEL = _str(("linear", "poly", "rbf", "sigmoid"), ("linear", "rbf"), "Shape of the boundary")
_GAMMA = _float(
    0,
    None,
    ("scale", 0.01, 0.1),
    "Kernel width: larger fits each point more closely",
    open_low=True,
    log=True,
    choices=("scale", "auto"),
    simpler="lower",
)
_DEGREE = _int(0, (2, 3), "Degree of the 'poly' kernel (other kernels ignore it)", simpler="lower")
_DISTANCES = ("minkowski", "euclidean", "manhattan", "chebyshev", "cosine")
_NEIGHBORS = {
    "n_neighbors": _int(1, (3, 5, 11), "How many nearest neighbours vote", simpler="higher"),
    "weights": _str(
        ("uniform", "distance"), ("uniform", "distance"), "'distance': nearer counts more"
    ),
    "p": _float(0, None, (1, 2), "Minkowski power: 1 Manhattan, 2 Euclidean", open_low=True),
    "metric": _str(_DISTANCES, ("minkowski", "manhattan"), "How distance between rows is measured"),
}
_N_ESTIMATORS = _int(1, (50, 100), "Number of trees: more is steadier but slower", simpler="lower")
_MIN_SAMPLES_LEAF = _int(
    1, (1, 2, 5), "Fewest rows in a leaf: larger smooths the model", simpler="higher"
)
_MAX_FEATURES = _float(
    0,
    1,
    ("sqrt", None, 0.5),
    "Features tried per split: 'sqrt', 'log2', None (all) or a fraction",
    open_low=True,
    choices=("sqrt", "log2", None),
    simpler="lower",
)
_TREE = {
    "max_depth": _int(
        1, (None, 5, 10), "Deepest a tree may grow; None: until pure", none=True, simpler="lower"
    ),
    "min_samples_split": _int(
        2, (2, 5, 10), "Fewest rows a node needs to be split", simpler="higher"
    ),
    "min_samples_leaf": _MIN_SAMPLES_LEAF,
    "max_features": _MAX_FEATURES,
}
_CRITERION = _str(("gini", "entropy", "log_loss"), ("gini", "entropy"), "How splits are scored")
_BOOSTING = {
    "n_estimators": _N_ESTIMATORS,
    "learning_rate": _float(
        0, None, (0.05, 0.1, 0.2), "Step size per tree", log=True, simpler="lower"
    ),
    "max_depth": _int(
        1, (2, 3, 5), "Depth of each tree; shallow is typical", none=True, simpler="lower"
    ),
    "min_samples_leaf": _MIN_SAMPLES_LEAF,
    "subsample": _float(0, 1, (0.8, 1.0), "Fraction of rows per tree", open_low=True),
    "max_features": _MAX_FEATURES,
}
_HIST = {
    "learning_rate": _float(
        0, None, (0.05, 0.1, 0.2), "Step size per tree", open_low=True, log=True, simpler="lower"
    ),
    "max_iter": _int(1, (50, 100), "Number of boosting iterations (trees)", simpler="lower"),
    "max_leaf_nodes": _int(
        2, (15, 31, 63), "Most leaves per tree; None: no limit", none=True, simpler="lower"
    ),
    "max_depth": _int(
        1, (None, 3, 6), "Deepest a tree may grow; None: no limit", none=True, simpler="lower"
    ),
    "min_samples_leaf": _int(1, (10, 20, 50), "Fewest rows in a leaf", simpler="higher"),
    "l2_regularization": _float(
        0, None, (0.0, 0.1, 1.0), "L2 penalty on leaf values", log=True, simpler="higher"
    ),
}


def _spec(
    cls: type[BaseEstimator],
    task: TaskType,
    params: dict[str, ParamSpec],
    *,
    scale: bool = True,
    fixed: dict[str, Any] | None = None,
    native_categories: bool = False,
) -> EstimatorSpec:
    """An entry named after its class, with random_state seeded when the class takes one."""
    has_random_state = "random_state" in cls._get_param_names()
    return EstimatorSpec(
        cls.__name__,
        lambda: cls,
        task,
        params,
        scale,
        fixed or {},
        has_random_state,
        native_categories,
    )


def _lgbm_classifier() -> type[BaseEstimator]:
    from lightgbm import LGBMClassifier  # a second of imports, paid by the runs that use it

    return LGBMClassifier


def _lgbm_regressor() -> type[BaseEstimator]:
    from lightgbm import LGBMRegressor

    return LGBMRegressor


def _lightgbm(
    name: str, load: Callable[[], type[BaseEstimator]], task: TaskType, params: dict[str, ParamSpec]
) -> EstimatorSpec:
    """LightGBM's entry, its class imported on first use: both take random_state."""
    return EstimatorSpec(
        name, load, task, params, scale=False, fixed=_LGBM_FIXED, has_random_state=True
    )


_CLF, _REG = TaskType.CLASSIFICATION, TaskType.REGRESSION
_L1_RATIO = "Penalty mix: 0 is L2 (ridge), 1 is L1 (lasso), between is elastic-net"
_FOREST = {"n_estimators": _N_ESTIMATORS, **_TREE}
_FOREST_CLF = {**_FOREST, "criterion": _CRITERION, "class_weight": _FOREST_CLASS_WEIGHT}
_SVM = {"C": _C, "kernel": _KERNEL, "gamma": _GAMMA, "degree": _DEGREE}
_EPSILON = _float(
    0, None, (0.01, 0.1, 1.0), "Errors below epsilon cost nothing", log=True, simpler="higher"
)
_GB_LOSSES = ("squared_error", "absolute_error", "huber", "quantile")
_GB_LOSS = _str(
    _GB_LOSSES, ("squared_error", "huber"), "Cost of an error; 'huber' resists outliers"
)
_HIST_LOSSES = ("squared_error", "absolute_error")
_HIST_LOSS = _str(_HIST_LOSSES, _HIST_LOSSES, "Cost of an error; 'absolute_error' resists outliers")
_LOGISTIC = {
    "C": _C,
    "l1_ratio": _float(0, 1, (0.0, 0.5, 1.0), _L1_RATIO),
    "class_weight": _CLASS_WEIGHT,
    "fit_intercept": _FIT_INTERCEPT,
}
# 'penalty' is deprecated since 1.8: l1_ratio picks L2 (0), L1 (1) or elastic-net, and only
# saga takes every l1_ratio. Columns are standardized first, which saga needs to converge.
_LOGISTIC_FIXED = {"solver": "saga", "max_iter": 1000}
_DECISION_TREE = {
    "criterion": _CRITERION,
    **_TREE,
    "ccp_alpha": _float(
        0, None, (0.0, 0.01, 0.05), "Pruning: larger cuts more branches", simpler="higher"
    ),
    "class_weight": _CLASS_WEIGHT,
}
_RIDGE = {"alpha": _ALPHA, "fit_intercept": _FIT_INTERCEPT}
_POSITIVE = ParamSpec("bool", suggested=(False, True), help="Force every coefficient to be >= 0")
_LASSO = {"alpha": _SPARSE_ALPHA, "fit_intercept": _FIT_INTERCEPT, "selection": _SELECTION}
_ELASTIC_NET = {
    "alpha": _SPARSE_ALPHA,
    "l1_ratio": _float(0, 1, (0.2, 0.5, 0.8), _L1_RATIO),
    **_LASSO,
}
_HIST_CLF = {**_HIST, "class_weight": _CLASS_WEIGHT}
# LightGBM has no _parameter_constraints: its ranges follow its Parameters documentation. Its
# "no limit" depth is -1 (any value <= 0); the catalog says None, as for scikit-learn's trees, so
# that comparisons rank it as the most complex, and LightGBM leaves a None parameter at its
# default. min_child_samples may be 0 there; a leaf of no rows is no setting to tune.
_LGBM = {
    "n_estimators": _int(1, (50, 100, 200), "Number of boosting rounds (trees)", simpler="lower"),
    "learning_rate": _HIST["learning_rate"],
    "num_leaves": ParamSpec(
        "int", 2, 131072, suggested=(15, 31, 63), help="Most leaves per tree", simpler="lower"
    ),
    "max_depth": _int(
        1, (None, 4, 8), "Deepest a tree may grow; None: no limit", none=True, simpler="lower"
    ),
    "min_child_samples": _int(1, (5, 20, 50), "Fewest rows in a leaf", simpler="higher"),
    "subsample": _float(0, 1, (0.8, 1.0), "Fraction of rows per tree", open_low=True),
    "colsample_bytree": _float(
        0, 1, (0.5, 0.8, 1.0), "Fraction of columns per tree", open_low=True, simpler="lower"
    ),
    "reg_lambda": _float(
        0, None, (0.0, 0.1, 1.0), "L2 penalty on leaf values", log=True, simpler="higher"
    ),
    "reg_alpha": _float(
        0, None, (0.0, 0.1, 1.0), "L1 penalty on leaf values", log=True, simpler="higher"
    ),
}
# One thread per fit: the worker processes are the parallelism, and LightGBM's default of a
# thread per core in each of them would oversubscribe the machine (its bagging also depends on
# the thread count). subsample_freq=1 bags every round: at 0, subsample does nothing.
# deterministic with force_col_wise gives a seed the same trees at every repeat, with no timing
# test choosing the histogram layout, as LightGBM's documentation advises.
_LGBM_FIXED = {
    "n_jobs": 1,
    "verbose": -1,
    "subsample_freq": 1,
    "deterministic": True,
    "force_col_wise": True,
}

ESTIMATORS: dict[str, EstimatorSpec] = {
    spec.name: spec
    for spec in [
        _spec(LogisticRegression, _CLF, _LOGISTIC, fixed=_LOGISTIC_FIXED),
        _spec(RidgeClassifier, _CLF, {**_RIDGE, "class_weight": _CLASS_WEIGHT}),
        _spec(SVC, _CLF, {**_SVM, "class_weight": _CLASS_WEIGHT}),
        _spec(KNeighborsClassifier, _CLF, _NEIGHBORS),
        _spec(DecisionTreeClassifier, _CLF, _DECISION_TREE, scale=False),
        _spec(RandomForestClassifier, _CLF, _FOREST_CLF, scale=False),
        _spec(ExtraTreesClassifier, _CLF, _FOREST_CLF, scale=False),
        _spec(GradientBoostingClassifier, _CLF, _BOOSTING, scale=False),
        _spec(HistGradientBoostingClassifier, _CLF, _HIST_CLF, scale=False, native_categories=True),
        _lightgbm(
            "LGBMClassifier", _lgbm_classifier, _CLF, {**_LGBM, "class_weight": _CLASS_WEIGHT}
        ),
        _spec(Ridge, _REG, {**_RIDGE, "positive": _POSITIVE}),
        _spec(Lasso, _REG, _LASSO),
        _spec(ElasticNet, _REG, _ELASTIC_NET),
        _spec(SVR, _REG, {**_SVM, "epsilon": _EPSILON}),
        _spec(KNeighborsRegressor, _REG, _NEIGHBORS),
        _spec(RandomForestRegressor, _REG, _FOREST, scale=False),
        _spec(GradientBoostingRegressor, _REG, {**_BOOSTING, "loss": _GB_LOSS}, scale=False),
        _spec(
            HistGradientBoostingRegressor,
            _REG,
            {**_HIST, "loss": _HIST_LOSS},
            scale=False,
            native_categories=True,
        ),
        _lightgbm("LGBMRegressor", _lgbm_regressor, _REG, _LGBM),
    ]
}


def get_estimator(name: str) -> EstimatorSpec:
    """The catalog entry for `name`, or InvalidInput(field="estimator")."""
    if isinstance(name, str) and name in ESTIMATORS:
        return ESTIMATORS[name]
    names = ", ".join(ESTIMATORS)
    raise InvalidInput("estimator", f"unknown estimator {_show(name)}; choose one of: {names}")


def make_estimator(name: str, *, random_state: int | None = None) -> BaseEstimator:
    """A fresh, unfitted instance with the catalog's fixed settings."""
    spec = get_estimator(name)
    estimator = spec.cls(**spec.fixed)
    if spec.has_random_state:
        estimator.set_params(random_state=0 if random_state is None else random_state)
    return estimator


def _grid_key(value: Any) -> tuple[str, Any]:
    """A checked grid value as a set member, so that duplicates are found in linear time: 1 and
    1.0 are the same candidate (equal numbers hash equal), True and 1 are not."""
    if isinstance(value, bool) or value is None:
        return ("choice", value)
    if isinstance(value, numbers.Real):
        return ("number", value)
    return (type(value).__name__, value)


def validate_param_grid(name: str, param_grid: dict[str, Any]) -> None:
    """Raise InvalidInput naming `param_grid.<param>` for any unknown name or bad value.

    A parameter is a list of values or, for a number, a range (tuning.ml.ranges).
    """
    spec = get_estimator(name)
    if not isinstance(param_grid, dict) or not param_grid:
        raise InvalidInput("param_grid", "the grid is empty: give at least one parameter")
    for param, values in param_grid.items():
        where = f"param_grid.{param}"
        _known(spec, param, where)
        if is_range(values):
            _range(spec.params[param], values, where)
            continue
        if not isinstance(values, list | tuple) or not values:
            raise InvalidInput(where, "give a non-empty list of values or a range")
        seen: set[tuple[str, Any]] = set()
        for value in values:
            reason = spec.params[param].check(value)
            if reason is not None:
                raise InvalidInput(where, reason)
            key = _grid_key(value)
            if key in seen:
                raise InvalidInput(where, f"duplicate value {_show(value)}")
            seen.add(key)


def _range(param: ParamSpec, values: dict[str, Any], where: str) -> Range:
    if param.kind not in ("int", "float"):
        raise InvalidInput(
            where, f"a range needs a numeric parameter; give a list of {param.allowed()}"
        )
    found = parse_range(values, integer=param.kind == "int", where=where)
    for bound in (found.low, found.high):
        reason = param.check(bound)
        if reason is not None:
            raise InvalidInput(where, f"the range's {reason}")
    return found


def search_space(name: str, param_grid: dict[str, Any]) -> dict[str, list[Any] | Range]:
    """A checked grid with its ranges as `Range`s, as the search samples them."""
    spec = get_estimator(name)
    return {
        param: _range(spec.params[param], values, f"param_grid.{param}")
        if is_range(values)
        else list(values)
        for param, values in param_grid.items()
    }


def validate_params(name: str, params: dict[str, Any]) -> None:
    """Raise InvalidInput naming `params.<param>` for an unknown name or a bad single value."""
    spec = get_estimator(name)
    if not isinstance(params, dict):
        raise InvalidInput("params", "give an object of parameter names and values")
    for param, value in params.items():
        where = f"params.{param}"
        _known(spec, param, where)
        reason = spec.params[param].check(value)
        if reason is not None:
            raise InvalidInput(where, reason)


def _known(spec: EstimatorSpec, param: str, where: str) -> None:
    if param not in spec.params:
        tunable = ", ".join(spec.params)
        reason = f"unknown parameter {_show(param)} for {spec.name}; tunable parameters: "
        raise InvalidInput(where, reason + tunable)


def catalog_as_dict() -> list[dict[str, Any]]:
    """Every estimator and its parameters as JSON-ready dicts, for the API and dashboard."""
    return [
        {
            "name": spec.name,
            "task": spec.task.value,
            "scale": spec.scale,
            "has_random_state": spec.has_random_state,
            "params": [
                {
                    "name": param,
                    "kind": p.kind,
                    "low": p.low,
                    "high": p.high,
                    "low_inclusive": p.low_inclusive,
                    "high_inclusive": p.high_inclusive,
                    "log": p.log,
                    "choices": list(p.choices),
                    "suggested": list(p.suggested),
                    "allowed": p.allowed(),
                    "help": p.help,
                }
                for param, p in spec.params.items()
            ],
        }
        for spec in ESTIMATORS.values()
    ]
