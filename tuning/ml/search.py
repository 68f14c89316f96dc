"""The search, one candidate at a time, with scikit-learn's own rules for scores and ranking.

GridSearchCV evaluates every candidate on the same CV splits, takes the unweighted mean of the
split scores, treats a failed candidate as nan (error_score=nan) and picks the first candidate
with the highest mean. Doing the same per candidate lets each one be stored as it finishes.
"""

import math
import time
import traceback
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import rankdata
from sklearn.base import BaseEstimator, clone, is_classifier
from sklearn.metrics import get_scorer, get_scorer_names
from sklearn.model_selection import ParameterGrid, ParameterSampler, check_cv
from sklearn.pipeline import Pipeline

from tuning.domain import TaskType
from tuning.errors import InvalidInput
from tuning.ml import catalog
from tuning.ml.datasets import Table, build_preprocessor

MODEL_STEP = "model"
DEFAULT_SCORING = {TaskType.CLASSIFICATION: "accuracy", TaskType.REGRESSION: "r2"}

Splits = list[tuple[np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class SearchSpace:
    """What to try: the grid, and for a random search how many candidates and the seed."""

    param_grid: dict[str, list[Any]]
    search: str = "grid"
    n_iter: int | None = None
    random_state: int | None = None


@dataclass(frozen=True)
class CandidateResult:
    split_scores: list[float]  # nan where a split failed, as in cv_results_
    mean_test_score: float
    std_test_score: float
    mean_fit_time: float
    mean_score_time: float
    error: str | None


def n_candidates(space: SearchSpace) -> int:
    """How many candidates the search holds, without listing them."""
    grid_size = len(ParameterGrid(space.param_grid))
    if space.search == "random":
        return min(space.n_iter or 0, grid_size)
    return grid_size


def iter_candidates(space: SearchSpace) -> Iterator[dict[str, Any]]:
    """Candidates in scikit-learn's order: ParameterGrid's, or ParameterSampler's for a seed."""
    if space.search == "random":
        return iter(
            ParameterSampler(space.param_grid, space.n_iter, random_state=space.random_state)
        )
    return iter(ParameterGrid(space.param_grid))


def validate_scoring(scoring: str, task: TaskType) -> None:
    """The scorer must be one of scikit-learn's names and fit the dataset's task."""
    if scoring not in get_scorer_names():
        raise InvalidInput("scoring", f"unknown scorer '{scoring}'; see sklearn get_scorer_names()")
    if (scoring in REGRESSION_SCORERS) != (task is TaskType.REGRESSION):
        kind = "regressors" if scoring in REGRESSION_SCORERS else "classifiers"
        raise InvalidInput("scoring", f"'{scoring}' scores {kind}; this is a {task.value} task")


def scorers_for(task: TaskType) -> list[str]:
    """The scorer names that fit a task, for forms."""
    is_regression = task is TaskType.REGRESSION
    return [name for name in get_scorer_names() if (name in REGRESSION_SCORERS) == is_regression]


# Scorers of continuous predictions; every other scikit-learn scorer compares class labels or
# class probabilities.
REGRESSION_SCORERS = frozenset(
    name
    for name in get_scorer_names()
    if name.startswith(("neg_mean", "neg_median", "neg_root", "neg_max"))
    or name in {"r2", "explained_variance", "d2_absolute_error_score"}
)


def build_pipeline(estimator: str, *, random_state: int | None = None) -> Pipeline:
    """Preprocessing fitted to the estimator, then the estimator itself."""
    spec = catalog.get_estimator(estimator)
    model = catalog.make_estimator(estimator, random_state=random_state)
    return Pipeline([("preprocess", build_preprocessor(scale=spec.scale)), (MODEL_STEP, model)])


def pipeline_params(params: dict[str, Any]) -> dict[str, Any]:
    """The estimator's parameter names as the pipeline's `model__` names."""
    return {f"{MODEL_STEP}__{name}": value for name, value in params.items()}


def make_splits(cv: int, table: Table, estimator: BaseEstimator) -> Splits:
    """The CV splits GridSearchCV would use: check_cv, stratified for classifiers."""
    splitter = check_cv(cv, table.y, classifier=is_classifier(estimator))
    return list(splitter.split(table.X, table.y))


def _rows(data: pd.DataFrame | pd.Series, indices: np.ndarray) -> Any:
    return data.iloc[indices]


def evaluate_candidate(
    pipeline: Pipeline, params: dict[str, Any], table: Table, splits: Splits, scoring: str
) -> CandidateResult:
    """Fit and score one candidate on every split; a failing split scores nan, as in sklearn."""
    scorer = get_scorer(scoring)
    scores, fit_times, score_times, errors = [], [], [], []
    for train, test in splits:
        model = clone(pipeline).set_params(**clone(pipeline_params(params), safe=False))
        started = time.perf_counter()
        try:
            model.fit(_rows(table.X, train), _rows(table.y, train))
            fitted = time.perf_counter()
            score = float(scorer(model, _rows(table.X, test), _rows(table.y, test)))
        except Exception as exc:  # noqa: BLE001 - scikit-learn's error_score=nan semantics
            fit_times.append(time.perf_counter() - started)
            score_times.append(0.0)
            scores.append(math.nan)
            errors.append(_describe(exc))
            continue
        fit_times.append(fitted - started)
        score_times.append(time.perf_counter() - fitted)
        scores.append(score)
    mean, std = _mean_and_std(scores)
    return CandidateResult(
        split_scores=scores,
        mean_test_score=mean,
        std_test_score=std,
        mean_fit_time=float(np.mean(fit_times)),
        mean_score_time=float(np.mean(score_times)),
        error=errors[0] if errors else None,
    )


def _describe(exc: BaseException) -> str:
    last_line = traceback.format_exception_only(exc)[-1].strip()
    return last_line[:2000]


def _mean_and_std(scores: Sequence[float]) -> tuple[float, float]:
    # The same arithmetic as GridSearchCV._format_results, so the floats agree to the bit.
    array = np.asarray([scores], dtype=np.float64)
    means = np.average(array, axis=1)
    stds = np.sqrt(np.average((array - means[:, np.newaxis]) ** 2, axis=1))
    return float(means[0]), float(stds[0])


def rank_test_scores(means: Sequence[float | None]) -> list[int]:
    """scikit-learn's rank_test_score: 1 is best, ties share the lowest rank, failures rank last."""
    array = np.array([np.nan if mean is None else mean for mean in means], dtype=np.float64)
    if np.isnan(array).all():
        return [1] * len(array)
    # As GridSearchCV._format_results: failed candidates tie just below the worst score.
    filled = np.where(np.isnan(array), np.nanmin(array) - 1, array)
    return [int(rank) for rank in rankdata(-filled, method="min")]


def best_index(means: Sequence[float | None]) -> int | None:
    """scikit-learn's best_index_: the first of the highest means; failed (nan) ones rank last."""
    best: int | None = None
    best_mean = -math.inf
    for index, mean in enumerate(means):
        if mean is None or math.isnan(mean):
            continue
        if best is None or mean > best_mean:
            best, best_mean = index, mean
    return best
