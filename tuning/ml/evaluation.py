"""A trained model's evaluation on its test rows: the run's scorer and the usual metrics beside a
baseline's, the confusion matrix and each class's figures, a binary classifier's curves and
threshold, a regression's predictions against the truth, and permutation importance of the
original columns.

Pure scikit-learn: a fitted model and its rows in, a JSON-ready dict out (no NaN or infinity,
labels as JSON holds them). `thresholds.with_threshold` recomputes what moves with a binary
classifier's threshold from the scores stored in the dict, so a stored evaluation follows its
model.
"""

import warnings
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.inspection import permutation_importance
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    balanced_accuracy_score,
    f1_score,
    log_loss,
    mean_absolute_error,
    precision_recall_curve,
    precision_score,
    r2_score,
    recall_score,
    roc_auc_score,
    roc_curve,
    root_mean_squared_error,
)

from tuning.domain import TaskType
from tuning.errors import InvalidInput
from tuning.ml.baseline import verdict
from tuning.ml.scoring import make_run_scorer
from tuning.ml.thresholds import (
    at_threshold,
    choose_threshold,
    default_threshold,
    downsample,
    finite_list,
    label_tables,
    positive_scores,
    stored_scores,
)

# Permutation importance: shuffles per column, and test rows used at most (a seeded sample).
N_REPEATS = 5
IMPORTANCE_ROWS = 2_000
# Regression: points kept for the predicted-against-actual and residual plots.
STORED_POINTS = 500


def plain_label(value: Any) -> Any:
    """A class label as JSON holds it."""
    return value.item() if isinstance(value, np.generic) else value


def evaluate(
    model: BaseEstimator,
    X_test: pd.DataFrame,
    y_test: pd.Series,
    *,
    baseline: BaseEstimator,
    task: TaskType,
    scoring: str,
    pos_label: Any = None,
    random_state: int = 0,
) -> dict[str, Any]:
    """The evaluation of a fitted `model` (and of the fitted `baseline`) on the test rows.

    For a binary classifier, `pos_label` is its positive class and the threshold-dependent
    figures are those of the model's own predictions (its `threshold` attribute when it is a
    FixedThresholdClassifier, else the estimator's cut)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # undefined metrics score 0, as scorers do
        scorer = make_run_scorer(scoring, pos_label)
        evaluation: dict[str, Any] = {
            "task": task.value,
            "scoring": scoring,
            "n_test": len(y_test),
        }
        if task is TaskType.REGRESSION:
            evaluation |= _regression(model, baseline, X_test, y_test, random_state)
        else:
            evaluation |= _classification(model, baseline, X_test, y_test, pos_label)
            if "binary" in evaluation and y_test.nunique() == 2:
                evaluation |= _binary(model, X_test, y_test, evaluation, random_state)
        evaluation["metrics"] = {scoring: float(scorer(model, X_test, y_test))} | evaluation[
            "metrics"
        ]
        evaluation["baseline"]["metrics"] = {
            scoring: float(scorer(baseline, X_test, y_test))
        } | evaluation["baseline"]["metrics"]
        evaluation["importance"] = _importance(model, X_test, y_test, scorer, random_state)
    evaluation["verdict"] = verdict(evaluation)
    return evaluation


def score_rows(
    model: BaseEstimator,
    X: pd.DataFrame,
    y: pd.Series,
    *,
    task: TaskType,
    scoring: str,
    pos_label: Any = None,
) -> dict[str, float]:
    """The run's scorer and the usual metrics of a model on rows that hold the target (new
    rows to score); InvalidInput when their target cannot be scored against the model's."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if task is TaskType.REGRESSION:
                metrics = _number_metrics(y, model.predict(X))
            else:
                classes = [plain_label(c) for c in model.classes_]
                metrics = _label_metrics(model, X, y, classes, pos_label)
            return {scoring: float(make_run_scorer(scoring, pos_label)(model, X, y))} | metrics
    except (ValueError, TypeError) as exc:
        raise InvalidInput(
            "file", f"the target column cannot be scored against the predictions: {exc}"[:300]
        ) from exc


def _classification(
    model: Any, baseline: Any, X: pd.DataFrame, y: pd.Series, pos_label: Any
) -> dict[str, Any]:
    classes = [plain_label(c) for c in model.classes_]
    binary = len(classes) == 2
    figures = {
        "classes": classes,
        "metrics": _label_metrics(model, X, y, classes, pos_label if binary else None),
        "baseline": {
            "name": f"always {_quoted(plain_label(baseline.predict(X.iloc[:1])[0]))} "
            "(the most frequent class)",
            "metrics": _label_metrics(baseline, X, y, classes, pos_label if binary else None),
        },
        **label_tables(y.to_numpy(), model.predict(X), classes),
    }
    if binary:
        figures["binary"] = {"pos_label": plain_label(pos_label)}
    return figures


def _label_metrics(
    model: Any, X: pd.DataFrame, y: pd.Series, classes: list[Any], pos_label: Any
) -> dict[str, float]:
    """Accuracy, balanced accuracy, F1 (the positive class's, or macro), ROC AUC and log loss
    where the model has scores (one-vs-rest on several classes)."""
    predicted = model.predict(X)
    metrics = {
        "accuracy": accuracy_score(y, predicted),
        "balanced_accuracy": balanced_accuracy_score(y, predicted),
    }
    both_sides = y.nunique() > 1  # areas under curves need rows of either answer
    if pos_label is not None:
        metrics["f1"] = f1_score(y, predicted, pos_label=pos_label, zero_division=0)
        metrics["precision"] = precision_score(y, predicted, pos_label=pos_label, zero_division=0)
        metrics["recall"] = recall_score(y, predicted, pos_label=pos_label, zero_division=0)
        scores, _ = positive_scores(model, X, pos_label)
        if both_sides:
            metrics["roc_auc"] = roc_auc_score(y == pos_label, scores)
            metrics["average_precision"] = average_precision_score(y == pos_label, scores)
    else:
        metrics["f1_macro"] = f1_score(y, predicted, average="macro", zero_division=0)
    if hasattr(model, "predict_proba"):
        probabilities = model.predict_proba(X)
        if pos_label is None and y.nunique() == len(classes):
            metrics["roc_auc_ovr"] = roc_auc_score(
                y, probabilities, multi_class="ovr", labels=classes
            )
        metrics["log_loss"] = log_loss(y, probabilities, labels=classes)
    return {name: float(value) for name, value in metrics.items()}


def _binary(
    model: Any, X: pd.DataFrame, y: pd.Series, evaluation: dict[str, Any], random_state: int
) -> dict[str, Any]:
    """ROC and precision-recall curves (downsampled for drawing) with their areas, the
    threshold that maximises F1, the model's threshold, the rows' scores, and the figures at
    that threshold (on every test row)."""
    pos_label = evaluation["binary"]["pos_label"]
    scores, response = positive_scores(model, X, pos_label)
    positive = (y == pos_label).to_numpy()
    threshold = float(getattr(model, "threshold", default_threshold(response)))
    moved = at_threshold(
        scores,
        positive,
        threshold=threshold,
        classes=evaluation["classes"],
        pos_label=pos_label,
        scoring=evaluation["scoring"],
    )
    fpr, tpr, roc_thresholds = roc_curve(positive, scores)
    precision, recall, pr_thresholds = precision_recall_curve(positive, scores)
    binary = {
        "pos_label": pos_label,
        "response": response,
        "default_threshold": default_threshold(response),
        "best_f1_threshold": choose_threshold(scores, positive, "f1"),
        "threshold": threshold,
        "rule": "f1" if hasattr(model, "threshold") else "default",
        "target": None,
        "roc": downsample({"fpr": fpr, "tpr": tpr, "thresholds": roc_thresholds})
        | {"auc": float(roc_auc_score(positive, scores))},
        # precision_recall_curve ends on (recall 0, precision 1) without a threshold.
        "pr": downsample(
            {
                "precision": precision[:-1],
                "recall": recall[:-1],
                "thresholds": pr_thresholds,
            }
        )
        | {"average_precision": float(average_precision_score(positive, scores))},
        **stored_scores(scores, positive, random_state=random_state),
    }
    return {
        "binary": binary,
        "metrics": {**evaluation["metrics"], **moved["metrics"]},
        "confusion_matrix": moved["confusion_matrix"],
        "per_class": moved["per_class"],
    }


def _regression(
    model: Any, baseline: Any, X: pd.DataFrame, y: pd.Series, random_state: int
) -> dict[str, Any]:
    predicted = model.predict(X)
    mean = float(baseline.predict(X.iloc[:1])[0])
    rows = np.arange(len(y))
    if len(rows) > STORED_POINTS:
        rows = np.sort(np.random.default_rng(random_state).choice(rows, STORED_POINTS, False))
    return {
        "metrics": _number_metrics(y, predicted),
        "baseline": {
            "name": f"always the training rows' mean ({mean:.4g})",
            "metrics": _number_metrics(y, baseline.predict(X)),
        },
        "points": {
            "actual": finite_list(y.to_numpy(dtype=float)[rows]),
            "predicted": finite_list(np.asarray(predicted, dtype=float)[rows]),
            "n_rows": len(y),
            "sampled": len(rows) < len(y),
        },
    }


def _number_metrics(y: pd.Series, predicted: Any) -> dict[str, float]:
    return {
        "r2": float(r2_score(y, predicted)),
        "rmse": float(root_mean_squared_error(y, predicted)),
        "mae": float(mean_absolute_error(y, predicted)),
    }


def _importance(
    model: Any, X: pd.DataFrame, y: pd.Series, scorer: Any, random_state: int
) -> dict[str, Any]:
    """Permutation importance of each original column on the whole model (the run's scorer's
    drop when the column is shuffled), its mean and spread over the repeats."""
    rows = np.arange(len(y))
    if len(rows) > IMPORTANCE_ROWS:
        rows = np.sort(np.random.default_rng(random_state).choice(rows, IMPORTANCE_ROWS, False))
    found = permutation_importance(
        model,
        X.iloc[rows],
        y.iloc[rows],
        scoring=scorer,
        n_repeats=N_REPEATS,
        random_state=random_state,
    )
    order = np.argsort(-found.importances_mean, kind="stable")
    columns = [
        {
            "column": str(X.columns[i]),
            "mean": float(found.importances_mean[i]),
            "std": float(found.importances_std[i]),
        }
        for i in order
    ]
    return {
        "columns": columns,
        "n_repeats": N_REPEATS,
        "n_rows": len(rows),
        "sampled": len(rows) < len(y),
    }


def _quoted(label: Any) -> str:
    return f"'{label}'" if isinstance(label, str) else str(label)
