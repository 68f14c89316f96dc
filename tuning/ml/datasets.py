"""Datasets: scikit-learn's bundled ones and uploaded CSV files, and the preprocessing for them."""

import io
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn import datasets as sk_datasets
from sklearn.compose import ColumnTransformer, make_column_selector
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from tuning.domain import TaskType
from tuning.errors import InvalidInput, shown

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


def read_csv(content: bytes, target: str, *, max_bytes: int | None = None) -> Table:
    """Parse and check an uploaded CSV; every problem raises InvalidInput naming it."""
    if max_bytes is not None and len(content) > max_bytes:
        raise InvalidInput(
            "file", f"the file is {len(content):,} bytes; the limit is {max_bytes:,} bytes"
        )
    if not content.strip():
        raise InvalidInput("file", "the file is empty")
    try:
        frame = pd.read_csv(io.BytesIO(content))
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise InvalidInput("file", f"not a readable CSV file: {str(exc)[:200]}") from exc
    if target not in frame.columns:
        columns = ", ".join(shown(str(column), 40) for column in frame.columns[:20])
        raise InvalidInput("target", f"no column named {shown(target)}; columns are: {columns}")
    frame = frame.dropna(subset=[target])
    y = frame.pop(target)
    if y.empty:
        raise InvalidInput("target", f"the target column {shown(target)} has no values")
    if y.nunique() < 2:
        raise InvalidInput("target", f"the target column {shown(target)} has a single value")
    if frame.shape[1] == 0:
        raise InvalidInput("file", "the file has no feature columns besides the target")
    return Table(X=frame.reset_index(drop=True), y=y.reset_index(drop=True), task=infer_task(y))


def column_types(X: pd.DataFrame) -> dict[str, str]:
    """Each column read as "numeric" or "categorical", as the preprocessing will treat it."""
    return {
        str(col): "numeric" if pd.api.types.is_numeric_dtype(X[col]) else "categorical"
        for col in X.columns
    }


def build_preprocessor(*, scale: bool) -> ColumnTransformer:
    """Impute (and scale) numeric columns; impute and one-hot encode the others."""
    numeric: Pipeline = make_pipeline(SimpleImputer(strategy="median"))
    if scale:
        numeric.steps.append(("standardscaler", StandardScaler()))
    categorical = make_pipeline(
        SimpleImputer(strategy="most_frequent"), OneHotEncoder(handle_unknown="ignore")
    )
    return ColumnTransformer(
        [
            ("numeric", numeric, make_column_selector(dtype_include="number")),
            ("categorical", categorical, make_column_selector(dtype_exclude="number")),
        ]
    )
