"""The search, one candidate at a time, with scikit-learn's own rules for scores and ranking.

GridSearchCV evaluates every candidate on the same CV splits, takes the unweighted mean of the
split scores, treats a failed candidate as nan (error_score=nan) and picks the first candidate
with the highest mean. Doing the same per candidate lets each one be stored as it finishes.
"""

import math
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.stats import rankdata
from sklearn.base import BaseEstimator, clone, is_classifier
from sklearn.exceptions import FitFailedWarning
from sklearn.model_selection import (
    GroupKFold,
    ParameterGrid,
    ParameterSampler,
    StratifiedGroupKFold,
    TimeSeriesSplit,
    check_cv,
    cross_validate,
)
from sklearn.pipeline import Pipeline

from tuning.ml import catalog
from tuning.ml.columns import default_roles, feature_columns
from tuning.ml.datasets import Table, profile_of
from tuning.ml.features import MISSING, build_preprocessor, n_category_columns
from tuning.ml.profile import parse_dates
from tuning.ml.ranges import Range
from tuning.ml.scoring import Scorer

MODEL_STEP = "model"

Splits = list[tuple[np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class SearchSpace:
    """What to try: the grid (lists of values, and ranges for sampled searches), and for a
    sampled search (`sampled`: drawn as RandomizedSearchCV draws them, else every combination
    as GridSearchCV) how many candidates and the seed."""

    param_grid: dict[str, list[Any] | Range]
    sampled: bool = False
    n_iter: int | None = None
    random_state: int | None = None

    @property
    def has_ranges(self) -> bool:
        return any(isinstance(values, Range) for values in self.param_grid.values())


@dataclass(frozen=True)
class CandidateResult:
    split_scores: list[float]  # nan where a split failed, as in cv_results_
    split_train_scores: list[float]  # empty where they were not asked for
    mean_test_score: float
    std_test_score: float
    mean_fit_time: float
    mean_score_time: float
    error: str | None


def n_candidates(space: SearchSpace) -> int:
    """How many candidates the space holds, without listing them."""
    if space.sampled and space.has_ranges:
        return space.n_iter or 0
    grid_size = len(ParameterGrid(space.param_grid))
    if space.sampled:  # ParameterSampler takes the whole grid when it is smaller
        return min(space.n_iter or 0, grid_size)
    return grid_size


def iter_candidates(space: SearchSpace) -> Iterator[dict[str, Any]]:
    """Candidates in scikit-learn's order: ParameterGrid's, or ParameterSampler's for a seed
    (ranges sampled as RandomizedSearchCV samples scipy.stats distributions)."""
    if space.sampled:
        return iter(
            ParameterSampler(space.param_grid, space.n_iter, random_state=space.random_state)
        )
    return iter(ParameterGrid(space.param_grid))


def build_pipeline(
    estimator: str,
    *,
    random_state: int | None = None,
    profile: dict[str, Any] | None = None,
    roles: dict[str, Any] | None = None,
) -> Pipeline:
    """The one pipeline of a run: the dataset's profile and the run's column roles give the
    preprocessing, fitted to the estimator, then the estimator itself. Without roles (runs
    stored before them), columns are read by their dtype."""
    spec = catalog.get_estimator(estimator)
    model = catalog.make_estimator(estimator, random_state=random_state)
    features = feature_columns(profile, roles) if profile and roles is not None else None
    preprocess = build_preprocessor(
        features, scale=spec.scale, native_categories=spec.native_categories
    )
    if spec.native_categories and (n_categories := n_category_columns(features)):
        model.set_params(categorical_features=list(range(n_categories)))
    return Pipeline([("preprocess", preprocess), (MODEL_STEP, model)])


def default_pipeline(estimator: str, table: Table, *, random_state: int | None = None) -> Pipeline:
    """The pipeline of a run on `table` that names no column roles: its profile's defaults."""
    profile = profile_of(table, "target")
    return build_pipeline(
        estimator, random_state=random_state, profile=profile, roles=default_roles(profile)
    )


def pipeline_params(params: dict[str, Any]) -> dict[str, Any]:
    """The estimator's parameter names as the pipeline's `model__` names."""
    return {f"{MODEL_STEP}__{name}": value for name, value in params.items()}


def make_splits(
    cv: int,
    table: Table,
    estimator: BaseEstimator,
    *,
    profile: dict[str, Any] | None = None,
    roles: dict[str, Any] | None = None,
) -> Splits:
    """The CV splits GridSearchCV would use: check_cv's, stratified for classifiers; with a
    group column, (Stratified)GroupKFold's, never splitting a group; with a time column,
    TimeSeriesSplit's over the rows in time order, so each fold trains on the past only."""
    group, time = (roles or {}).get("group"), (roles or {}).get("time")
    if time is not None:
        order = np.argsort(time_order(table, profile or {}, time), kind="stable")
        return [(order[train], order[test]) for train, test in TimeSeriesSplit(cv).split(order)]
    if group is not None:
        groups = table.X[group].astype(object).where(table.X[group].notna(), MISSING).astype(str)
        splitter = StratifiedGroupKFold(cv) if is_classifier(estimator) else GroupKFold(cv)
        return list(splitter.split(table.X, table.y, groups.to_numpy()))
    splitter = check_cv(cv, table.y, classifier=is_classifier(estimator))
    return list(splitter.split(table.X, table.y))


def time_order(table: Table, profile: dict[str, Any], column: str) -> np.ndarray:
    """The time column's values as numbers that sort the rows in time order."""
    values = table.X[column]
    described = next((c for c in profile.get("columns", []) if c["name"] == column), None)
    if described is not None and described["kind"] == "datetime":
        dates = parse_dates(values, described["date_format"])
        return dates.to_numpy(dtype="datetime64[ns]").astype(np.int64)
    return values.to_numpy(dtype=float)


def evaluate_candidate(
    pipeline: Pipeline,
    params: dict[str, Any],
    table: Table,
    splits: Splits,
    scorer: Scorer,
    *,
    return_train_score: bool = True,
) -> CandidateResult:
    """Fit and score one candidate on every split with scikit-learn's `cross_validate`, scored
    by the run's scorer (`make_run_scorer`).

    Its `_fit_and_score` is the one GridSearchCV uses, with `error_score=nan`: a failing split
    scores nan, and the error scikit-learn reports is kept as the candidate's error.
    """
    model = clone(pipeline).set_params(**clone(pipeline_params(params), safe=False))
    error = None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            scores = cross_validate(
                model,
                table.X,
                table.y,
                cv=splits,
                scoring=scorer,
                error_score=np.nan,
                return_train_score=return_train_score,
            )
        except ValueError as exc:  # "All the N fits failed": every split raised
            if "fits failed" not in str(exc):
                raise
            return _failed(len(splits), _last_line(str(exc)))
    for warning in caught:
        if issubclass(warning.category, FitFailedWarning) or "Scoring failed" in str(
            warning.message
        ):
            error = _last_line(str(warning.message))
            break
    test = [float(score) for score in scores["test_score"]]
    means, stds = mean_and_std(np.asarray([test], dtype=np.float64))
    return CandidateResult(
        split_scores=test,
        split_train_scores=[float(score) for score in scores.get("train_score", [])],
        mean_test_score=float(means[0]),
        std_test_score=float(stds[0]),
        mean_fit_time=float(np.mean(scores["fit_time"])),
        mean_score_time=float(np.mean(scores["score_time"])),
        error=error,
    )


def _failed(n_splits: int, error: str) -> CandidateResult:
    nans = [math.nan] * n_splits
    return CandidateResult(nans, nans, math.nan, math.nan, 0.0, 0.0, error)


def _last_line(report: str) -> str:
    """The exception line ("ValueError: ...") at the end of scikit-learn's traceback report."""
    lines = [line.strip() for line in report.strip().splitlines() if line.strip()]
    return lines[-1][:2000] if lines else "the fit failed"


def mean_and_std(scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each row's mean and standard deviation of its split scores (candidates by splits), nan
    where a split is: the arithmetic of GridSearchCV._format_results, so the floats agree to
    the bit."""
    if scores.shape[1] == 0:  # no splits recorded
        return np.full(len(scores), np.nan), np.full(len(scores), np.nan)
    means = np.average(scores, axis=1)
    stds = np.sqrt(np.average((scores - means[:, np.newaxis]) ** 2, axis=1))
    return means, stds


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
