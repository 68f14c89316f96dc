"""Scorers: which names fit a task, the one scorer a run uses, and what it reads of an estimator.

The workers, the submit-time checks, the training metrics and the tests' oracle all build a
run's scorer with `make_run_scorer(scoring, pos_label)`, so they score the same thing.
"""

from collections.abc import Callable, Mapping
from typing import Any

from sklearn.base import BaseEstimator
from sklearn.metrics import (
    average_precision_score,
    brier_score_loss,
    d2_brier_score,
    f1_score,
    get_scorer,
    get_scorer_names,
    jaccard_score,
    make_scorer,
    precision_score,
    recall_score,
)

from tuning.domain import TaskType
from tuning.errors import InvalidInput, shown
from tuning.ml import catalog
from tuning.ml.ranges import is_range

# What a run scores when it names no scorer: what the API has always used.
DEFAULT_SCORING = {TaskType.CLASSIFICATION: "accuracy", TaskType.REGRESSION: "r2"}

# Scorers of continuous predictions; every other scikit-learn scorer compares class labels or
# class probabilities.
REGRESSION_SCORERS = frozenset(
    name
    for name in get_scorer_names()
    if name.startswith(("neg_mean", "neg_median", "neg_root", "neg_max"))
    or name in {"r2", "explained_variance", "d2_absolute_error_score"}
)

# A scorer: called as scorer(fitted_estimator, X, y), greater is better.
Scorer = Callable[..., float]
ResponseMethod = str | tuple[str, ...]

# The scorers of one class against the other, whose positive class a run may name: each
# metric, the estimator output scikit-learn's scorer of that name reads, and whether greater
# is better. tests/test_scoring.py holds these equal to `get_scorer(name)` for pos_label=1.
POSITIVE_CLASS_METRICS: dict[str, tuple[Callable[..., float], ResponseMethod, bool]] = {
    "f1": (f1_score, "predict", True),
    "precision": (precision_score, "predict", True),
    "recall": (recall_score, "predict", True),
    "jaccard": (jaccard_score, "predict", True),
    "average_precision": (
        average_precision_score,
        ("decision_function", "predict_proba"),
        True,
    ),
    "neg_brier_score": (brier_score_loss, "predict_proba", False),
    "d2_brier_score": (d2_brier_score, "predict_proba", True),
}


def validate_scoring(scoring: str, task: TaskType) -> None:
    """The scorer must be one of scikit-learn's names and fit the dataset's task."""
    if scoring not in get_scorer_names():
        raise InvalidInput("scoring", f"unknown scorer '{scoring}'; see sklearn get_scorer_names()")
    if (scoring in REGRESSION_SCORERS) != (task is TaskType.REGRESSION):
        kind = "regressors" if scoring in REGRESSION_SCORERS else "classifiers"
        raise InvalidInput("scoring", f"'{scoring}' scores {kind}; this is a {task.value} task")


def scorers_for(task: TaskType) -> list[str]:
    """Every scorer name a submission for `task` may give (see tuning.ml.scorer_choices for
    the ones that fit a dataset's labels, recommended first)."""
    is_regression = task is TaskType.REGRESSION
    return [name for name in get_scorer_names() if (name in REGRESSION_SCORERS) == is_regression]


def make_run_scorer(scoring: str, pos_label: Any = None) -> Scorer:
    """The scorer a run uses: exactly `get_scorer(scoring)` without a positive class (or for a
    scorer that has none, such as accuracy or roc_auc); for f1, precision, recall, jaccard,
    average_precision and the Brier scores, the metric made with `pos_label`, so that
    scikit-learn reads that class's column of predict_proba (or side of decision_function)."""
    if pos_label is None or scoring not in POSITIVE_CLASS_METRICS:
        return get_scorer(scoring)
    metric, response_method, greater_is_better = POSITIVE_CLASS_METRICS[scoring]
    return make_scorer(
        metric,
        response_method=response_method,
        greater_is_better=greater_is_better,
        pos_label=pos_label,
    )


def response_methods(scoring: str) -> tuple[str, ...]:
    """The estimator methods a scorer reads, any one of which will do ("predict",
    "predict_proba", or "decision_function" then "predict_proba")."""
    # Private, but stable since scikit-learn 1.4; a scorer without it predicts.
    method = getattr(get_scorer(scoring), "_response_method", "predict")
    return (method,) if isinstance(method, str) else tuple(method)


def serves(estimator: BaseEstimator, scoring: str) -> bool:
    """Whether the estimator, as configured, has an output the scorer reads. scikit-learn's
    `available_if` makes `hasattr` honest: SVC(probability=False) has no predict_proba."""
    return _has_any(estimator, response_methods(scoring))


def _has_any(estimator: BaseEstimator, methods: tuple[str, ...]) -> bool:
    return any(hasattr(estimator, method) for method in methods)


def check_estimator_serves(
    scoring: str, estimator: str, param_grid: Mapping[str, Any], *, instead: str | None = None
) -> None:
    """The catalog estimator, with its fixed settings and with each value of the grid (or its
    range's bounds), has the output the scorer reads; InvalidInput("scoring") says what is
    missing, and suggests `instead` when given. The grid's names and values are the catalog's,
    checked before."""
    methods = response_methods(scoring)
    if methods == ("predict",):
        return
    base = catalog.make_estimator(estimator)
    if not _has_any(base, methods):
        raise InvalidInput("scoring", _cannot_serve(scoring, methods, base, "here", instead))
    for param, values in param_grid.items():
        probe = catalog.make_estimator(estimator)  # fresh: one parameter changed at a time
        tried = [values["low"], values["high"]] if is_range(values) else values
        for value in tried if isinstance(tried, list | tuple) else ():
            # What set_params does for a catalog (flat) parameter, without its get_params per
            # call: 8,000 values take milliseconds, not half a second.
            setattr(probe, param, value)
            if not _has_any(probe, methods):
                setting = f"with {param}={shown(value, 40)}"
                reason = _cannot_serve(scoring, methods, probe, setting, instead)
                raise InvalidInput("scoring", reason)


def _cannot_serve(
    scoring: str,
    methods: tuple[str, ...],
    estimator: BaseEstimator,
    setting: str,
    instead: str | None,
) -> str:
    name = type(estimator).__name__
    choose = f"choose e.g. '{instead}'" if instead else "choose another scorer"
    if methods == ("predict_proba",):
        return (
            f"'{scoring}' needs predicted probabilities; {name} has no predict_proba {setting}; "
            f"{choose} or an estimator with probabilities"
        )
    needed = " or ".join(methods)
    return (
        f"'{scoring}' needs a score per row ({needed}); {name} has neither {setting}; "
        f"{choose} or another estimator"
    )
