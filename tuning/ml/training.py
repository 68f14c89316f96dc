"""Training a final model: fitted on the training rows, evaluated on the test rows, stored as a
skops file that takes the raw feature columns and (two classes) applies its threshold.

The test rows are the tuning run's held-out rows, which its cross-validation never saw; for a
run that kept none (older runs, or a test share of 0), a seeded 20 % split (stratified for
classes), whose rows tuning's cross-validation did see. The stored model is the one fitted on
the training rows: the same one the evaluation describes.
"""

import io
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, clone
from sklearn.frozen import FrozenEstimator
from sklearn.model_selection import FixedThresholdClassifier
from sklearn.pipeline import Pipeline

from tuning.ml.baseline import make_baseline
from tuning.ml.columns import feature_columns
from tuning.ml.datasets import Table
from tuning.ml.evaluation import evaluate, plain_label
from tuning.ml.holdout import held_out_rows
from tuning.ml.new_rows import column_kinds
from tuning.ml.scoring import DEFAULT_SCORING
from tuning.ml.search import build_pipeline, pipeline_params
from tuning.ml.thresholds import choose_threshold, positive_scores

HELD_OUT_FRACTION = 0.2

SEEN_BY_TUNING = (
    "The tuning run kept no test set, so these rows are a seeded {share:.0%} of the data that "
    "tuning's cross-validation also saw: the figures are optimistic."
)
KEPT_OUT = "The tuning run's test set: {n:,} rows its cross-validation never saw."


@dataclass(frozen=True)
class TrainedModel:
    model: BaseEstimator  # the pipeline; a binary classifier's wrapped to apply its threshold
    metrics: dict[str, float]
    evaluation: dict[str, Any]
    threshold: float | None
    training_time: float


def model_columns(table: Table, profile: dict[str, Any] | None, roles: Any) -> list[str]:
    """The columns a model takes: the run's feature columns (every column for a run stored
    before column roles); ID, group and time columns are not among them."""
    if profile is None or roles is None:
        return [str(column) for column in table.X.columns]
    return feature_columns(profile, roles).names


def split_rows(
    table: Table, held_out: Sequence[int] | None, random_state: int
) -> tuple[np.ndarray, np.ndarray, bool]:
    """Positions of the training and test rows, and whether the test rows were kept out of
    tuning (the run's `held_out`) rather than split off here."""
    kept_out = bool(held_out)
    if not held_out:  # drawn as a run's test set is drawn, stratified for classes
        held_out = held_out_rows(table, HELD_OUT_FRACTION, random_state=random_state)
    test = np.asarray(sorted(held_out), dtype=int)
    return np.setdiff1d(np.arange(len(table.y)), test), test, kept_out


def train_model(
    estimator: str,
    params: dict[str, Any],
    table: Table,
    *,
    scoring: str | None = None,
    pos_label: Any = None,
    random_state: int | None = None,
    profile: dict[str, Any] | None = None,
    roles: dict[str, Any] | None = None,
    held_out: Sequence[int] | None = None,
) -> TrainedModel:
    """Fit the run's pipeline (`build_pipeline` with the dataset's profile and the column
    roles) on the training rows' feature columns, evaluate it on the test rows with the run's
    scorer and `pos_label` its positive class; a binary classifier's threshold is the one
    that maximises F1 on the test rows."""
    started = time.perf_counter()
    seed = 0 if random_state is None else random_state
    scoring = scoring or DEFAULT_SCORING[table.task]
    pipeline = build_pipeline(estimator, random_state=random_state, profile=profile, roles=roles)
    pipeline.set_params(**pipeline_params(params))
    columns = model_columns(table, profile, roles)
    train, test, kept_out = split_rows(table, held_out, seed)
    X, y = table.X[columns], table.y
    X_train, y_train, X_test, y_test = X.iloc[train], y.iloc[train], X.iloc[test], y.iloc[test]
    fitted = clone(pipeline).fit(X_train, y_train)
    model, positive = _with_threshold(fitted, X_train, y_train, X_test, y_test, pos_label)
    baseline = make_baseline(table.task).fit(X_train, y_train)
    evaluation = evaluate(
        model,
        X_test,
        y_test,
        baseline=baseline,
        task=table.task,
        scoring=scoring,
        pos_label=positive,
        random_state=seed,
    )
    evaluation["test_set"] = {
        "kept_out_of_tuning": kept_out,
        "n_train": len(train),
        "n_test": len(test),
        "note": KEPT_OUT.format(n=len(test))
        if kept_out
        else SEEN_BY_TUNING.format(share=HELD_OUT_FRACTION),
    }
    evaluation["columns"] = column_kinds(columns, profile, table.X)
    names = dict.fromkeys([scoring, DEFAULT_SCORING[table.task]])
    metrics = {name: evaluation["metrics"][name] for name in names}
    threshold = getattr(model, "threshold", None)
    elapsed = round(time.perf_counter() - started, 3)
    return TrainedModel(model, metrics, evaluation, threshold, elapsed)


def _with_threshold(
    fitted: Pipeline,
    X_train: pd.DataFrame,
    y_train: pd.Series,
    X_test: pd.DataFrame,
    y_test: pd.Series,
    pos_label: Any,
) -> tuple[BaseEstimator, Any]:
    """A binary classifier wrapped in FixedThresholdClassifier at the threshold that maximises
    F1 on the test rows, so the model (and its file) applies it; its positive class is the
    run's, else the greater label, as scikit-learn takes it. Other models as they are."""
    classes = getattr(fitted, "classes_", None)
    if classes is None or len(classes) != 2 or y_test.nunique() < 2:
        return fitted, None
    positive = plain_label(classes[1]) if pos_label is None else pos_label
    scores, _ = positive_scores(fitted, X_test, positive)
    threshold = choose_threshold(scores, (y_test == positive).to_numpy(), "f1")
    return set_threshold(fitted, threshold, positive, X_train, y_train), positive


def set_threshold(
    fitted: Pipeline, threshold: float, pos_label: Any, X: pd.DataFrame, y: pd.Series
) -> FixedThresholdClassifier:
    """The fitted pipeline, unchanged (frozen), predicting `pos_label` where its positive
    score is at least `threshold`: the probability where it has one, else the decision score."""
    wrapped = FixedThresholdClassifier(
        FrozenEstimator(fitted), threshold=threshold, pos_label=pos_label, response_method="auto"
    )
    return wrapped.fit(X, y)  # a frozen estimator does not refit: this records the classes


def dump_model(model: BaseEstimator) -> bytes:
    """The fitted model in skops format, which loads without unpickling arbitrary code."""
    # Imported here: skops takes most of a second to import, and only training needs it, so
    # the API, the dashboard and every worker start that much sooner.
    import skops.io as sio

    return sio.dumps(model)


def load_model(file: bytes) -> Any:
    """A model this service stored, loaded as the README tells a user to load its download:
    skops, trusting the types the file names (the service wrote them)."""
    import skops.io as sio

    return sio.load(io.BytesIO(file), trusted=sio.get_untrusted_types(data=file))
