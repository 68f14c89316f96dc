"""The preprocessing: a dataset's feature columns, by kind, to the numbers an estimator takes.

Numbers are imputed (and scaled for estimators that need it); booleans become 0 and 1; dates
held as text become year, month, day of week and day number; categories are one-hot encoded
with their rarest levels grouped, so a many-level column stays narrow, or, for estimators that
take categories natively (HistGradientBoosting), ordinal codes. Columns that are not features
(left out, or grouping and ordering the rows) are dropped, so a fitted pipeline takes the raw
columns of the file and needs none of those.
"""

from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.compose import ColumnTransformer, make_column_selector
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler

from tuning.ml.columns import FeatureColumns

# One-hot columns per categorical feature at most: the most frequent levels, then "infrequent".
MAX_LEVELS = 20
MISSING = "(missing)"


class DateParts(TransformerMixin, BaseEstimator):
    """Dates held as text, in one format, as numbers: year, month, day of week and day number
    (days since 1970-01-01); NaN where a value is missing or not a date."""

    PARTS = ("year", "month", "dayofweek", "days")

    def __init__(self, date_format: str = "ISO8601") -> None:
        self.date_format = date_format

    def fit(self, X: Any, y: Any = None) -> "DateParts":
        frame = pd.DataFrame(X)
        self.n_features_in_ = frame.shape[1]
        self.feature_names_in_ = np.asarray([str(c) for c in frame.columns], dtype=object)
        return self

    def transform(self, X: Any) -> np.ndarray:
        frame = pd.DataFrame(X)
        parts = []
        for name in frame.columns:
            dates = pd.to_datetime(frame[name], format=self.date_format, errors="coerce")
            days = (dates - pd.Timestamp("1970-01-01")) / pd.Timedelta(days=1)
            for part in (dates.dt.year, dates.dt.month, dates.dt.day_of_week, days):
                parts.append(part.to_numpy(dtype=float))
        return np.column_stack(parts) if parts else np.empty((len(frame), 0))

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        names = self.feature_names_in_ if input_features is None else input_features
        return np.asarray([f"{name}_{part}" for name in names for part in self.PARTS], dtype=object)


def build_preprocessor(
    features: FeatureColumns | None, *, scale: bool, native_categories: bool = False
) -> ColumnTransformer:
    """The column transformer for `features`; with none given (runs stored before column roles),
    every numeric column is a number and every other one a category, as then."""
    if features is None:
        return _by_dtype(scale=scale)
    steps: list[tuple[str, Any, Any]] = []
    # Categories first, so that their output columns are the first ones (native categories).
    if features.categorical:
        steps.append(("categorical", _categories(native_categories), features.categorical))
    if features.numeric:
        steps.append(("numeric", make_pipeline(*_number_steps(scale)), features.numeric))
    if features.boolean:
        steps.append(("boolean", _booleans(), features.boolean))
    for position, (name, date_format) in enumerate(features.dates.items()):
        dates = make_pipeline(DateParts(date_format), *_number_steps(scale))
        steps.append((f"date{position}", dates, [name]))
    dense = 0.0 if native_categories else 0.3  # ColumnTransformer's default
    return ColumnTransformer(steps, remainder="drop", sparse_threshold=dense)


def n_category_columns(features: FeatureColumns | None) -> int:
    """How many of the preprocessing's first output columns are categories (ordinal codes)."""
    return 0 if features is None else len(features.categorical)


def _number_steps(scale: bool) -> list[Any]:
    """Gaps as the median, then (for estimators that need it) standardized."""
    return [SimpleImputer(strategy="median"), *([StandardScaler()] if scale else [])]


def _booleans() -> Pipeline:
    """False and True as 0 and 1, a gap as the most frequent of them."""
    return make_pipeline(
        SimpleImputer(strategy="most_frequent"),
        OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=np.nan),
    )


def _categories(native: bool) -> Pipeline:
    imputer = SimpleImputer(strategy="constant", fill_value=MISSING)
    if native:
        encoder: Any = OrdinalEncoder(
            handle_unknown="use_encoded_value",
            unknown_value=np.nan,
            max_categories=MAX_LEVELS,
        )
    else:
        encoder = OneHotEncoder(handle_unknown="infrequent_if_exist", max_categories=MAX_LEVELS)
    return make_pipeline(imputer, encoder)


def _by_dtype(*, scale: bool) -> ColumnTransformer:
    numeric = make_pipeline(*_number_steps(scale))
    categorical = make_pipeline(
        SimpleImputer(strategy="most_frequent"), OneHotEncoder(handle_unknown="ignore")
    )
    return ColumnTransformer(
        [
            ("numeric", numeric, make_column_selector(dtype_include="number")),
            ("categorical", categorical, make_column_selector(dtype_exclude="number")),
        ]
    )
