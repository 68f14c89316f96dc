"""Properties of the checks that stand between user input and the engine, over generated input:
they raise InvalidInput and nothing else, name what they refuse, and take time linear in the
input. And the label checks at submit agree with what scikit-learn does on a worker."""

import string
import time
import warnings
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.linear_model import LinearRegression
from sklearn.metrics import get_scorer
from sklearn.model_selection import (
    StratifiedKFold,
    cross_val_score,
    cross_validate,
    train_test_split,
)
from sklearn.tree import DecisionTreeClassifier

from tuning.domain import TaskType
from tuning.errors import InvalidInput
from tuning.ml import catalog
from tuning.ml.checks import (
    check_folds,
    check_held_out_split,
    check_scorer_on_labels,
    label_counts,
)
from tuning.ml.datasets import read_csv

JSON_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**400), max_value=10**400)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=30)
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=10,
)
ESTIMATORS = sorted(catalog.ESTIMATORS)


def examples(n: int) -> int:
    """`n` examples in `make test`; a tenth in `make test-fast`, which loads the "fast"
    Hypothesis profile (tests/conftest.py)."""
    return max(10, n * settings().max_examples // 100)


@settings(max_examples=examples(200), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    estimator=st.sampled_from(ESTIMATORS),
    grid=st.dictionaries(
        st.text(max_size=20) | st.sampled_from(["max_depth", "C", "n_neighbors", "alpha"]),
        JSON_VALUES,
        max_size=4,
    ),
)
def test_grid_validation_refuses_any_json_with_invalid_input_only(estimator: str, grid: Any):
    try:
        catalog.validate_param_grid(estimator, grid)
    except InvalidInput as exc:
        assert exc.field.startswith("param_grid")
        assert len(exc.reason) < 1_000, "the reason quotes a short prefix at most"


@settings(max_examples=examples(200), deadline=None)
@given(content=st.binary(max_size=400), target=st.text(max_size=10))
def test_csv_parsing_refuses_any_bytes_with_invalid_input_only(content: bytes, target: str):
    try:
        table = read_csv(content, target)
    except InvalidInput as exc:
        assert exc.field in ("file", "target") and len(exc.reason) < 1_000
    else:
        assert len(table.X) == len(table.y) > 0


@settings(max_examples=examples(100), deadline=None)
@given(
    header=st.lists(st.text(string.ascii_letters, min_size=1, max_size=6), min_size=2, max_size=4,
                    unique=True),
    rows=st.lists(st.lists(st.text(string.printable, max_size=5) | st.integers(-5, 5).map(str),
                           min_size=4, max_size=4), max_size=20),
)  # fmt: skip
def test_csv_parsing_of_generated_tables(header: list[str], rows: list[list[str]]):
    lines = [",".join(header)] + [",".join(row[: len(header)]) for row in rows]
    try:
        read_csv("\n".join(lines).encode(), header[-1])
    except InvalidInput as exc:
        assert exc.field in ("file", "target")


@pytest.mark.parametrize("size", [2_000, 16_000])
def test_grid_validation_is_linear_in_the_number_of_values(size: int):
    values = list(range(1, size + 1))
    began = time.perf_counter()
    catalog.validate_param_grid("RandomForestClassifier", {"max_depth": values})
    took = time.perf_counter() - began
    # 16,000 values took 8.5 s when duplicates were found pairwise; linear takes milliseconds.
    assert took < 0.5, f"{size:,} values took {took:.2f} s"


@pytest.mark.parametrize(
    ("values", "reason"),
    [
        ([3, None, 3], "duplicate value 3"),
        ([None, 3, None], "duplicate value None"),
        ([10**400], "is too large"),
        ([2**31], "is too large"),
    ],
)
def test_grid_values_refused_with_a_reason(values: list[Any], reason: str):
    with pytest.raises(InvalidInput, match=reason):
        catalog.validate_param_grid("RandomForestClassifier", {"max_depth": values})


def test_1_and_1_0_are_one_candidate_and_a_repeated_true_a_duplicate():
    with pytest.raises(InvalidInput, match=r"duplicate value 1\.0"):
        catalog.validate_param_grid("LogisticRegression", {"C": [1, 1.0]})
    catalog.validate_param_grid("LogisticRegression", {"fit_intercept": [True, False]})
    with pytest.raises(InvalidInput, match="duplicate value True"):
        catalog.validate_param_grid("LogisticRegression", {"fit_intercept": [True, True]})


LABELS = {
    "three classes": pd.Series([0, 1, 2] * 6),
    "words": pd.Series(["no", "yes"] * 6),
    "zero and one": pd.Series([0, 1] * 6),
    "booleans": pd.Series([True, False] * 6),
    "minus one and one": pd.Series([-1, 1] * 6),
    "floats": pd.Series([0.0, 1.0] * 6),
}
SCORERS = ["accuracy", "roc_auc", "roc_auc_ovr", "precision", "recall_macro", "f1",
           "average_precision", "neg_log_loss", "balanced_accuracy", "jaccard"]  # fmt: skip


@pytest.mark.parametrize("labels", list(LABELS), ids=list(LABELS))
@pytest.mark.parametrize("scoring", SCORERS)
def test_the_scorer_check_agrees_with_a_real_cross_validation(labels: str, scoring: str):
    y = LABELS[labels]
    X = np.arange(len(y), dtype=float).reshape(-1, 1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scores = cross_validate(
            DecisionTreeClassifier(random_state=0), X, y, cv=StratifiedKFold(3),
            scoring=get_scorer(scoring), error_score=np.nan,
        )["test_score"]  # fmt: skip
    works = not np.isnan(scores).any()
    try:
        check_scorer_on_labels(scoring, label_counts(y))
        refused = None
    except InvalidInput as exc:
        refused = exc
    assert (refused is None) == works, f"sklearn scores {scores}; the check says {refused}"


def test_folds_are_checked_against_the_smallest_class_and_the_rows():
    classes = [("a", 10), ("b", 3)]
    check_folds(3, task=TaskType.CLASSIFICATION, n_rows=13, classes=classes)
    with pytest.raises(InvalidInput, match="class 'b' has only 3 rows"):
        check_folds(4, task=TaskType.CLASSIFICATION, n_rows=13, classes=classes)
    check_folds(6, task=TaskType.REGRESSION, n_rows=13, classes=None)
    with pytest.raises(InvalidInput, match="only 13 rows: each fold needs 2 rows"):
        check_folds(7, task=TaskType.REGRESSION, n_rows=13, classes=None)
    with pytest.raises(InvalidInput, match="only the class 'a'"):
        check_folds(2, task=TaskType.CLASSIFICATION, n_rows=10, classes=[("a", 10)])


@pytest.mark.parametrize("n_rows", [4, 5, 7, 13, 20])
def test_the_regression_fold_check_agrees_with_r2_on_every_fold(n_rows: int):
    """A fold of one row cannot be scored by r2 (NaN): the check allows exactly the folds in
    which every fold scores."""
    X, y = np.arange(n_rows * 2.0).reshape(n_rows, 2), np.arange(n_rows, dtype=float) ** 1.5
    for cv in range(2, n_rows + 1):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            scores = cross_val_score(LinearRegression(), X, y, cv=cv, scoring="r2")
        try:
            check_folds(cv, task=TaskType.REGRESSION, n_rows=n_rows, classes=None)
            allowed = True
        except InvalidInput:
            allowed = False
        assert allowed == bool(np.isfinite(scores).all()), (cv, scores)


@pytest.mark.parametrize(
    "counts", [[3, 3], [2, 8], [1, 9], [2, 2, 2], [5, 5, 5, 5, 5, 1], [2] * 8, [4] * 3]
)
def test_the_held_out_check_agrees_with_train_test_split(counts: list[int]):
    y = np.repeat(np.arange(len(counts)), counts)
    try:
        train_test_split(y, test_size=0.2, stratify=y, random_state=0)
        works = True
    except ValueError:
        works = False
    classes = [(label, count) for label, count in enumerate(counts)]
    try:
        check_held_out_split(classes=classes, fraction=0.2)
        refused = False
    except InvalidInput:
        refused = True
    assert refused != works
