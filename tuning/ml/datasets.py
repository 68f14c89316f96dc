"""Datasets: scikit-learn's bundled ones and uploaded CSV files, read and checked as tables."""

import io
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn import datasets as sk_datasets

from tuning.domain import TaskType
from tuning.errors import InvalidInput, shown
from tuning.ml.profile import is_row_number, profile_table

# A numeric target with at most this many distinct integer values is read as class labels.
MAX_CLASSES_FOR_NUMERIC_TARGET = 20


@dataclass(frozen=True)
class BundledDataset:
    loader: Callable[..., Any]  # returns scikit-learn's Bunch
    task: TaskType
    description: str


BUNDLED: dict[str, BundledDataset] = {
    "iris": BundledDataset(
        sk_datasets.load_iris, TaskType.CLASSIFICATION, "Iris flowers, 3 classes"
    ),
    "wine": BundledDataset(
        sk_datasets.load_wine, TaskType.CLASSIFICATION, "Wine cultivars, 3 classes"
    ),
    "breast_cancer": BundledDataset(
        sk_datasets.load_breast_cancer, TaskType.CLASSIFICATION, "Breast tumours, benign/malignant"
    ),
    "digits": BundledDataset(
        sk_datasets.load_digits, TaskType.CLASSIFICATION, "8x8 handwritten digits, 10 classes"
    ),
    "diabetes": BundledDataset(
        sk_datasets.load_diabetes, TaskType.REGRESSION, "Diabetes progression after one year"
    ),
}


@dataclass(frozen=True)
class Table:
    """Features and target of one dataset, ready for a Pipeline."""

    X: pd.DataFrame
    y: pd.Series
    task: TaskType
    n_unlabelled: int = 0  # rows left out because their target is missing
    # Columns no estimator can take, each {"column", "message"}: an upload holding one is
    # refused; one stored before that rule keeps them here, for a run to refuse them.
    unusable: tuple[dict[str, str], ...] = ()


def load_bundled(name: str) -> Table:
    """One of scikit-learn's bundled datasets, as a frame (shipped with sklearn, no download)."""
    if name not in BUNDLED:
        bundled = ", ".join(BUNDLED)
        raise InvalidInput("dataset", f"unknown dataset {shown(name)}; bundled: {bundled}")
    bundle = BUNDLED[name]
    loaded = bundle.loader(as_frame=True)
    return Table(X=loaded.data, y=loaded.target, task=bundle.task)


def infer_task(y: pd.Series) -> TaskType:
    """Text, boolean and small sets of integer labels are classes; other numbers are regression."""
    if not pd.api.types.is_numeric_dtype(y) or pd.api.types.is_bool_dtype(y):
        return TaskType.CLASSIFICATION
    values = y.to_numpy(dtype=float)
    is_integral = bool(np.all(np.equal(np.mod(values, 1), 0)))
    if is_integral and y.nunique() <= MAX_CLASSES_FOR_NUMERIC_TARGET:
        return TaskType.CLASSIFICATION
    return TaskType.REGRESSION


def read_csv(
    content: bytes,
    target: str,
    *,
    max_bytes: int | None = None,
    task: TaskType | None = None,
    stored: TaskType | None = None,
) -> Table:
    """Parse and check an uploaded CSV; every problem raises InvalidInput naming it. The task
    is read from the target (`infer_task`) unless given. A file already stored is read with
    its `stored` task and not judged again (it was checked at upload, by the rules then)."""
    frame = parse_csv(content, max_bytes=max_bytes)
    if target not in frame.columns:
        columns = ", ".join(shown(str(column), 40) for column in frame.columns[:20])
        raise InvalidInput("target", f"no column named {shown(target)}; columns are: {columns}")
    unusable = infinite_columns(frame)
    if unusable and stored is None:
        named = "; ".join(f"column {shown(u['column'])} {u['message']}" for u in unusable[:5])
        raise InvalidInput("file", f"{named}: no estimator can fit infinity; {INFINITY_FIX}")
    n_rows = len(frame)
    frame = frame.dropna(subset=[target])
    y = frame.pop(target)
    if y.empty:
        raise InvalidInput("target", f"the target column {shown(target)} has no values")
    if y.nunique() < 2:
        raise InvalidInput("target", f"the target column {shown(target)} has a single value")
    if frame.shape[1] == 0:
        raise InvalidInput("file", "the file has no feature columns besides the target")
    if stored is None and frame.isna().all().all():
        raise InvalidInput("file", "every feature column is empty: there is nothing to learn from")
    task = stored or check_target(y, target, task)
    X, y = frame.reset_index(drop=True), y.reset_index(drop=True)
    return Table(X=X, y=y, task=task, n_unlabelled=n_rows - len(y), unusable=tuple(unusable))


INFINITY_FIX = (
    "replace it with a number, or leave the cell empty (a missing feature is filled in, a row "
    "without a target left out)"
)


def infinite_columns(frame: pd.DataFrame) -> list[dict[str, str]]:
    """Each column holding infinity (pandas reads "inf", "-inf" and "Infinity" in a column of
    numbers as such), with how many rows and the first of them, counted from 1 under the
    header: no estimator fits it, and every candidate would fail."""
    found = []
    for name in frame.columns:
        if not pd.api.types.is_float_dtype(frame[name]):
            continue  # whole numbers, booleans and text hold no infinity
        values = frame[name].to_numpy(dtype=float)
        infinite = np.isinf(values)
        if infinite.any():
            first, n_rows = int(np.argmax(infinite)), int(infinite.sum())
            rows = "1 row" if n_rows == 1 else f"{n_rows:,} rows"
            found.append(
                {
                    "column": str(name),
                    "message": f"holds infinity in {rows} (the first: {values[first]} in row "
                    f"{first + 1} under the header)",
                }
            )
    return found


def parse_csv(content: bytes, *, max_bytes: int | None = None) -> pd.DataFrame:
    """A CSV file as pandas reads it, every file the same way (the training file and the
    rows to predict); InvalidInput("file") when it is too large, empty or unreadable."""
    if max_bytes is not None and len(content) > max_bytes:
        raise InvalidInput(
            "file", f"the file is {len(content):,} bytes; the limit is {max_bytes:,} bytes"
        )
    if not content.strip():
        raise InvalidInput("file", "the file is empty")
    try:
        return pd.read_csv(io.BytesIO(content))
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise InvalidInput("file", f"not a readable CSV file: {str(exc)[:200]}") from exc


# A target with this many classes or more is refused as classification.
MAX_CLASSES = 100
# The fewest rows of a numeric target: 2 folds, each with 2 rows to score (r2 needs two).
MIN_REGRESSION_ROWS = 4


def check_target(y: pd.Series, target: str, task: TaskType | None) -> TaskType:
    """The task of a target column, refusing one that cannot be learned: an ID, a class with a
    single row (no cross-validation can split it), text asked to be read as numbers."""
    name = shown(target)
    numeric = pd.api.types.is_numeric_dtype(y) and not pd.api.types.is_bool_dtype(y)
    if task is TaskType.REGRESSION and not numeric:
        raise InvalidInput("task", f"the target {name} holds text, which regression cannot predict")
    task = task or infer_task(y)
    n_distinct = y.nunique()
    if is_row_number(y) or (not numeric and len(y) >= 20 and n_distinct > len(y) / 2):
        raise InvalidInput(
            "target",
            f"the target {name} looks like an ID: {n_distinct:,} distinct values in "
            f"{len(y):,} rows; choose the column to predict",
        )
    if task is TaskType.REGRESSION and len(y) < MIN_REGRESSION_ROWS:
        raise InvalidInput(
            "target",
            f"the target {name} has {len(y)} rows with a value: cross-validation needs at "
            f"least {MIN_REGRESSION_ROWS} (2 folds of 2 rows, each scored on 2 rows)",
        )
    if task is TaskType.CLASSIFICATION:
        if n_distinct >= MAX_CLASSES:
            raise InvalidInput(
                "task",
                f"the target {name} has {n_distinct:,} distinct values: too many to predict as "
                "classes; read it as numbers (regression)",
            )
        counts = y.value_counts()
        if counts.iloc[-1] < 2:
            raise InvalidInput(
                "target",
                f"class {shown(counts.index[-1])} of the target {name} has a single row: "
                "cross-validation needs at least 2 rows of every class; drop or merge it",
            )
    return task


def profile_of(table: Table, target: str, *, task_inferred: bool = False) -> dict[str, Any]:
    """The dataset's profile (tuning.ml.profile) for its features and target."""
    return profile_table(
        table.X,
        table.y,
        target=target,
        task=table.task,
        n_unlabelled=table.n_unlabelled,
        task_inferred=task_inferred,
        unusable=list(table.unusable),
    )
