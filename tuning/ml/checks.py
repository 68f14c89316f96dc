"""Checks of a search or a training against the dataset's labels, before anything runs: the
folds every class needs, the positive class, and whether a scorer can score these labels.

Pure scikit-learn: a dataset is described by its task, its row count and (classification) its
class labels with their counts, as `label_counts` reads them from a target column.
"""

import math
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.dummy import DummyClassifier
from sklearn.metrics import get_scorer_names

from tuning.domain import TaskType
from tuning.errors import InvalidInput, shown
from tuning.ml.scoring import make_run_scorer

# A class label and how many rows carry it.
ClassCount = tuple[Any, int]


def label_counts(y: pd.Series) -> list[ClassCount]:
    """Each class label (as JSON stores it: int, float, str or bool) with its number of rows."""
    counts = y.value_counts(sort=False).sort_index()
    return [(_plain(label), int(count)) for label, count in counts.items()]


def _plain(label: Any) -> Any:
    return label.item() if isinstance(label, np.generic) else label


def check_folds(
    cv: int, *, task: TaskType, n_rows: int, classes: Sequence[ClassCount] | None
) -> None:
    """Each of `cv` folds must hold every class (classification) or two rows to score
    (regression); a target of a single class cannot be split at all (a file stored before
    uploads of one were refused)."""
    if task is TaskType.CLASSIFICATION and classes is not None and len(classes) < 2:
        only = f"only the class {shown(classes[0][0])}" if classes else "no class"
        raise InvalidInput(
            "dataset",
            f"the target has {only}: there is nothing to tell apart; upload a target "
            "with at least two classes",
        )
    if task is TaskType.CLASSIFICATION and classes:
        label, smallest = min(classes, key=lambda pair: pair[1])
        if cv > smallest:
            raise InvalidInput(
                "cv",
                f"{cv} folds, but class {shown(label)} has only {smallest} rows: each fold "
                f"needs every class; choose at most {smallest} folds",
            )
    elif 2 * cv > n_rows:
        raise InvalidInput(
            "cv",
            f"{cv} folds, but the dataset has only {n_rows} rows: each fold needs 2 rows to be "
            f"scored; choose at most {max(n_rows // 2, 1)} folds",
        )


def check_held_out_split(*, classes: Sequence[ClassCount], fraction: float) -> None:
    """A stratified train/test split of these classes must be possible (training a model)."""
    label, smallest = min(classes, key=lambda pair: pair[1])
    n_rows = sum(count for _, count in classes)
    n_test = math.ceil(fraction * n_rows)
    if smallest < 2 or n_test < len(classes) or n_rows - n_test < len(classes):
        raise InvalidInput(
            "dataset",
            f"too few rows to hold out {fraction:.0%} with every class on both sides "
            f"(class {shown(label)} has {smallest} rows, {len(classes)} classes in {n_rows} rows)",
        )


def resolve_pos_label(given: Any, *, task: TaskType, classes: Sequence[ClassCount] | None) -> Any:
    """The class label `given` names, as the labels hold it: one of a two-class target's
    labels, or text that reads as one (the command line's "1" is the label 1, "true" is True).
    None stays None; anything else is InvalidInput("pos_label")."""
    if given is None:
        return None
    labels = [label for label, _ in classes or []]
    if task is not TaskType.CLASSIFICATION or len(labels) != 2:
        what = (
            "a numeric target (regression)"
            if task is TaskType.REGRESSION
            else f"{len(labels)} classes ({_named(labels)})"
        )
        raise InvalidInput(
            "pos_label", f"a positive class is for a target of two classes; this dataset has {what}"
        )
    for label in labels:
        if _same_label(label, given):
            return label
    raise InvalidInput(
        "pos_label",
        f"{shown(given, 40)} is not one of this dataset's classes: {_named(labels)}",
    )


def _same_label(label: Any, given: Any) -> bool:
    if isinstance(given, str) and not isinstance(label, str):
        if isinstance(label, bool):
            return given.strip().lower() == str(label).lower()
        try:
            return float(given) == label
        except ValueError:
            return False
    if isinstance(label, bool) or isinstance(given, bool):  # True is not the number 1 here
        return type(label) is type(given) and label == given
    return bool(label == given)


def check_scorer_on_labels(
    scoring: str, classes: Sequence[ClassCount], pos_label: Any = None
) -> None:
    """Score a constant predictor on these labels as the run will, with the run's scorer;
    InvalidInput if it cannot (a two-class scorer on three classes, f1 on 'yes' and 'no'
    without a positive class)."""
    labels = [label for label, _ in classes]
    y = np.array([label for label in labels for _ in range(2)], dtype=object)
    if all(isinstance(label, bool) for label in labels):
        y = y.astype(bool)
    elif all(isinstance(label, int | float) and not isinstance(label, bool) for label in labels):
        y = y.astype(float if any(isinstance(label, float) for label in labels) else int)
    X = np.zeros((len(y), 1))
    model = DummyClassifier(strategy="prior").fit(X, y)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # undefined metrics of a constant predictor
            make_run_scorer(scoring, pos_label)(model, X, y)
    except (ValueError, TypeError) as exc:
        raise InvalidInput("scoring", _why(scoring, labels, exc)) from None


def _named(labels: list[Any]) -> str:
    return ", ".join(shown(label, 20) for label in labels[:5]) + (", …" if len(labels) > 5 else "")


def _why(scoring: str, labels: list[Any], exc: Exception) -> str:
    named = _named(labels)
    better = [
        f"'{scoring}{end}'"
        for end in ("_macro", "_weighted", "_ovr")
        if f"{scoring}{end}" in get_scorer_names()
    ]
    if len(labels) > 2:
        instead = f"; use {' or '.join(better)}" if better else ""
        return f"'{scoring}' scores two classes; this dataset has {len(labels)} ({named}){instead}"
    if "pos_label" in str(exc):
        instead = f", or use {' or '.join(better)}" if better else ""
        return (
            f"'{scoring}' needs to know the positive class: give pos_label, one of {named}{instead}"
        )
    return f"'{scoring}' cannot score this dataset's labels ({named}): {str(exc)[:200]}"
