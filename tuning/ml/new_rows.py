"""New rows for a trained model: read like the training file, checked against the model's
columns, and predicted.

A model takes its feature columns, each of a kind (numbers, booleans, categories, dates held
as text). A row set must hold every one of them; other columns (an ID, the group or time
column, anything extra) are dropped, and the target, when present, is kept to score against.
A value that cannot be of its column's kind is refused naming the column, the row and the
value, rather than failing deep in the pipeline.
"""

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from tuning.errors import InvalidInput, shown
from tuning.ml.profile import DATE_SHARE, parse_dates

# The words a boolean column may hold in a CSV file or JSON rows, as pandas reads True/False.
BOOLEAN_TEXT = {"true": True, "false": False, "1": True, "0": False}


@dataclass(frozen=True)
class NewRows:
    X: pd.DataFrame  # the model's columns, in its order, typed as in training
    y: pd.Series | None  # the target, where the rows hold it (rows without one dropped)
    scored_rows: np.ndarray | None  # positions of the rows with a target
    dropped: list[str]  # columns given that the model does not take


def column_kinds(
    columns: list[str], profile: dict[str, Any] | None, X: pd.DataFrame
) -> list[dict[str, Any]]:
    """Each model column with its kind and date format, from the dataset's profile (for a run
    stored before profiles: numbers by dtype, anything else a category)."""
    described = {c["name"]: c for c in (profile or {}).get("columns", [])}
    kinds = []
    for name in columns:
        column = described.get(name)
        if column is None:
            numeric = pd.api.types.is_numeric_dtype(X[name])
            column = {"kind": "numeric" if numeric else "categorical", "date_format": None}
        kind = "categorical" if column["kind"] == "text" else column["kind"]
        kinds.append({"name": name, "kind": kind, "date_format": column.get("date_format")})
    return kinds


def rows_from_json(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """JSON rows as a frame; InvalidInput when there are none."""
    if not rows:
        raise InvalidInput("rows", "no rows to predict: send at least one")
    return pd.DataFrame.from_records(rows)


def check_rows(frame: pd.DataFrame, columns: list[dict[str, Any]], target: str | None) -> NewRows:
    """The model's columns of `frame`, each as its kind; InvalidInput("columns") naming a
    missing column or a value of the wrong kind."""
    if frame.empty:
        raise InvalidInput("file", "the file has a header but no rows to predict")
    names = [c["name"] for c in columns]
    missing = [name for name in names if name not in frame.columns]
    if missing:
        listed = ", ".join(shown(name, 40) for name in missing[:10])
        more = f" and {len(missing) - 10} more" if len(missing) > 10 else ""
        raise InvalidInput(
            "columns", f"the model needs the column(s) {listed}{more}, which the rows lack"
        )
    X = pd.DataFrame({c["name"]: _typed(frame[c["name"]], c) for c in columns})
    y, scored = None, None
    if target is not None and target in frame.columns and frame[target].notna().any():
        scored = np.flatnonzero(frame[target].notna().to_numpy())
        y = frame[target].iloc[scored].reset_index(drop=True)
    dropped = [str(c) for c in frame.columns if c not in set(names) and c != target]
    return NewRows(X.reset_index(drop=True), y, scored, dropped)


def _typed(values: pd.Series, column: dict[str, Any]) -> pd.Series:
    kind, name = column["kind"], column["name"]
    present = values.notna()
    if kind == "numeric":
        if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
            return values.astype(float)
        numbers = values.map(_number, na_action="ignore")
        _refuse(values, present & numbers.isna(), name, "numbers")
        return numbers.astype(float)
    if kind == "boolean":
        flags = values.map(_flag, na_action="ignore")
        _refuse(values, present & flags.isna(), name, "True or False")
        return flags.astype(object).where(present, np.nan)
    if kind == "datetime":
        text = values.astype(object).where(present, None)
        parsed = parse_dates(text.astype(str).where(present, None), column["date_format"])
        bad = present & parsed.isna()
        if present.any() and bad.sum() > (1 - DATE_SHARE) * present.sum():
            _refuse(values, bad, name, f"dates like the training file's ({column['date_format']})")
        return text
    # Categories: as text, as they were read from the training file.
    return values.map(_as_text, na_action="ignore").astype(object).where(present, np.nan)


def _number(value: Any) -> float:
    if isinstance(value, bool | np.bool_):
        return np.nan  # True is not a number here, though Python counts it as 1
    try:
        return float(value)
    except (TypeError, ValueError):
        return np.nan


def _flag(value: Any) -> Any:
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | float | np.number) and value in (0, 1):
        return bool(value)
    return BOOLEAN_TEXT.get(str(value).strip().lower())


def _as_text(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # a category read as 3.0 from a column with gaps is "3"
    return value if isinstance(value, str) else str(value)


def _refuse(values: pd.Series, bad: pd.Series, name: str, expected: str) -> None:
    if bad.any():
        row, n_bad = int(np.flatnonzero(bad.to_numpy())[0]), int(bad.sum())
        others = f", and {n_bad - 1:,} other rows too" if n_bad > 1 else ""
        raise InvalidInput(
            "columns",
            f"column {shown(name, 60)} holds {expected} in the training data, but row "
            f"{row + 1} has {shown(values.iloc[row], 40)}{others}",
        )


def predict_rows(model: Any, X: pd.DataFrame) -> pd.DataFrame:
    """Each row's prediction, and for a classifier with probabilities each class's."""
    predicted = pd.DataFrame({"prediction": model.predict(X)})
    if hasattr(model, "predict_proba"):
        probabilities = model.predict_proba(X)
        for position, label in enumerate(model.classes_):
            predicted[f"probability_{label}"] = probabilities[:, position]
    return predicted
