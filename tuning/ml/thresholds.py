"""A binary classifier's decision threshold: its curves, how a threshold is chosen, and what the
test rows say at any threshold.

Pure scikit-learn on the positive class's scores of the test rows (its probability, or the
decision function's value where the estimator has no probabilities): a row is predicted
positive when its score is at least the threshold, as scikit-learn's
`FixedThresholdClassifier` and `precision_recall_curve` read it.
"""

from typing import Any, Literal

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.metrics import (
    accuracy_score,
    balanced_accuracy_score,
    confusion_matrix,
    f1_score,
    precision_recall_curve,
    precision_recall_fscore_support,
    precision_score,
    recall_score,
)

from tuning.errors import InvalidInput
from tuning.ml.baseline import verdict
from tuning.ml.scoring import make_run_scorer, response_methods

# Points a stored curve keeps at most, for drawing; its area is computed on every point.
CURVE_POINTS = 300
# Test rows whose scores are stored with the evaluation, so that moving the threshold later
# recomputes the confusion matrix and metrics; above it, a seeded sample of this many.
STORED_SCORES = 5_000

ThresholdRule = Literal["f1", "precision", "recall", "value"]


def positive_scores(model: Any, X: Any, pos_label: Any) -> tuple[np.ndarray, str]:
    """The positive class's score of each row and what it is ("probability" or "decision
    score"): predict_proba where the model has it, else decision_function, as
    FixedThresholdClassifier's response_method="auto" reads them."""
    classes = list(model.classes_)
    if hasattr(model, "predict_proba"):
        return model.predict_proba(X)[:, classes.index(pos_label)], "probability"
    decision = np.asarray(model.decision_function(X), dtype=float)
    return (decision if classes.index(pos_label) == 1 else -decision), "decision score"


def default_threshold(response: str) -> float:
    """The estimator's own cut: half on probabilities, zero on decision scores."""
    return 0.5 if response == "probability" else 0.0


def downsample(arrays: dict[str, np.ndarray], n_points: int = CURVE_POINTS) -> dict[str, list]:
    """Evenly spaced points of a curve (its first and last kept), as JSON lists; infinite
    values (roc_curve's first threshold) become None."""
    length = len(next(iter(arrays.values())))
    keep = np.unique(np.linspace(0, length - 1, min(length, n_points)).round().astype(int))
    return {name: finite_list(values[keep]) for name, values in arrays.items()}


def finite_list(values: Any) -> list[float | None]:
    """Numbers as JSON takes them: None where a value is not finite."""
    return [float(v) if np.isfinite(v) else None for v in np.asarray(values, dtype=float)]


def choose_threshold(
    scores: np.ndarray, positive: np.ndarray, rule: ThresholdRule, target: float | None = None
) -> float:
    """The threshold that maximises F1 on these rows; or the lowest one whose precision is at
    least `target` (the most recall at that precision); or the highest one whose recall is at
    least `target` (the most precision at that recall). InvalidInput when none reaches it."""
    precision, recall, thresholds = precision_recall_curve(positive, scores)
    precision, recall = precision[:-1], recall[:-1]  # the last point has no threshold
    if rule == "f1":
        with np.errstate(all="ignore"):
            f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0)
        return float(thresholds[int(np.argmax(f1))])
    assert target is not None, "a target precision or recall"
    reached = (precision if rule == "precision" else recall) >= target
    if not reached.any():
        best = float((precision if rule == "precision" else recall).max())
        raise InvalidInput(
            rule,
            f"no threshold reaches a {rule} of {target:g} on the test rows; the most is {best:.4f}",
        )
    chosen = np.flatnonzero(reached)
    return float(thresholds[chosen[0] if rule == "precision" else chosen[-1]])


class _Predicted(ClassifierMixin, BaseEstimator):
    """Stored predictions posing as a classifier, so that a run's scorer of labels (f1,
    accuracy, ...) scores them exactly as it scores a fitted model."""

    def __init__(self, classes: list[Any], predictions: np.ndarray) -> None:
        self.classes = classes
        self.predictions = predictions
        self.classes_ = np.asarray(classes)

    def predict(self, X: Any) -> np.ndarray:
        return self.predictions


def at_threshold(
    scores: np.ndarray,
    positive: np.ndarray,
    *,
    threshold: float,
    classes: list[Any],
    pos_label: Any,
    scoring: str,
) -> dict[str, Any]:
    """What predicting positive at `score >= threshold` gives on these rows: the confusion
    matrix (rows: true class, columns: predicted, in `classes` order), each class's
    precision, recall, F1 and support, the usual metrics of labels, and the run's scorer
    when it reads labels (a scorer of scores does not move with the threshold)."""
    negative_label = next(c for c in classes if c != pos_label)
    y_true = np.where(positive, pos_label, negative_label)
    y_pred = np.where(scores >= threshold, pos_label, negative_label)
    metrics = {
        "accuracy": accuracy_score(y_true, y_pred),
        "balanced_accuracy": balanced_accuracy_score(y_true, y_pred),
        "precision": precision_score(y_true, y_pred, pos_label=pos_label, zero_division=0),
        "recall": recall_score(y_true, y_pred, pos_label=pos_label, zero_division=0),
        "f1": f1_score(y_true, y_pred, pos_label=pos_label, zero_division=0),
    }
    if response_methods(scoring) == ("predict",):
        scorer = make_run_scorer(scoring, pos_label)
        dummy_X = np.zeros((len(y_true), 1))
        metrics[scoring] = scorer(_Predicted(classes, y_pred), dummy_X, y_true)
    return {
        "metrics": {name: float(value) for name, value in metrics.items()},
        **label_tables(y_true, y_pred, classes),
    }


def label_tables(y_true: Any, y_pred: Any, classes: list[Any]) -> dict[str, Any]:
    """The confusion matrix and each class's precision, recall, F1 and support."""
    matrix = confusion_matrix(y_true, y_pred, labels=classes)
    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, y_pred, labels=classes, zero_division=0
    )
    per_class = [
        {
            "class": label,
            "precision": float(p),
            "recall": float(r),
            "f1": float(f),
            "support": int(s),
        }
        for label, p, r, f, s in zip(classes, precision, recall, f1, support, strict=True)
    ]
    return {"confusion_matrix": matrix.tolist(), "per_class": per_class}


def stored_scores(scores: np.ndarray, positive: np.ndarray, *, random_state: int) -> dict[str, Any]:
    """The test rows' scores and whether each is positive, for moving the threshold later:
    all of them up to STORED_SCORES rows, else a seeded sample of that many."""
    rows = np.arange(len(scores))
    if len(rows) > STORED_SCORES:
        rows = np.sort(np.random.default_rng(random_state).choice(rows, STORED_SCORES, False))
    return {
        "scores": finite_list(scores[rows]),
        "positive": [int(p) for p in positive[rows]],
        "n_rows": len(scores),
        "sampled": len(rows) < len(scores),
    }


def with_threshold(
    evaluation: dict[str, Any],
    threshold: float,
    *,
    rule: ThresholdRule = "value",
    target: float | None = None,
) -> dict[str, Any]:
    """A binary classifier's evaluation at another threshold, from its stored scores: the
    confusion matrix, each class's figures, the metrics of labels (and the run's scorer when
    it reads labels) and the verdict; the curves, areas and baseline do not move."""
    binary = evaluation["binary"]
    scores = np.asarray(binary["scores"], dtype=float)
    positive = np.asarray(binary["positive"], dtype=bool)
    moved = at_threshold(
        scores,
        positive,
        threshold=threshold,
        classes=evaluation["classes"],
        pos_label=binary["pos_label"],
        scoring=evaluation["scoring"],
    )
    updated = {
        **evaluation,
        "metrics": {**evaluation["metrics"], **moved["metrics"]},
        "confusion_matrix": moved["confusion_matrix"],
        "per_class": moved["per_class"],
        "binary": {**binary, "threshold": threshold, "rule": rule, "target": target},
    }
    updated["verdict"] = verdict(updated)
    return updated


def threshold_for(
    evaluation: dict[str, Any], rule: ThresholdRule, target: float | None = None
) -> float:
    """The threshold a rule picks on the evaluation's stored test scores."""
    binary = evaluation["binary"]
    scores = np.asarray(binary["scores"], dtype=float)
    return choose_threshold(scores, np.asarray(binary["positive"], dtype=bool), rule, target)
