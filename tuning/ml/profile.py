"""A dataset's profile: what each column holds and what it is for, read once at upload.

Each column gets a kind (numeric, boolean, categorical, datetime, text), its share of missing
values, its number of distinct values, a few examples and a default role with the reason in
words: ID-like, constant and empty columns are left out of the features by default, a column
that gives the target away is flagged. The target gets its task and class counts (or its
spread). Warnings say, in a sentence each, what an analyst should look at before tuning.

Pure pandas: the profile is a JSON-ready dict, stored with the dataset.
"""

import warnings
from typing import Any, Literal

import numpy as np
import pandas as pd

from tuning.domain import TaskType
from tuning.errors import shown

ColumnKind = Literal["numeric", "boolean", "categorical", "datetime", "text"]
Role = Literal["feature", "ignored", "group", "time"]

# A text column with distinct values in at least this share of its rows is ID-like or free text.
ID_LIKE_SHARE = 0.95
# A categorical column with more levels than this is one-hot encoded with its rarest grouped.
MANY_LEVELS = 20
# A text column whose parsed dates cover at least this share of its values holds dates.
DATE_SHARE = 0.95
# A two-class target whose smaller class is below this share is imbalanced.
IMBALANCED_SHARE = 0.3
# A class with fewer rows than the usual 5 folds limits how many folds a run can take.
FEW_ROWS_PER_CLASS = 5
N_EXAMPLES = 3
BOOLEAN_WORDS = frozenset({"true", "false"})


def profile_table(
    X: pd.DataFrame,
    y: pd.Series,
    *,
    target: str,
    task: TaskType,
    n_unlabelled: int = 0,
    task_inferred: bool = False,
    unusable: list[dict[str, str]] | None = None,
) -> dict[str, Any]:
    """The profile of features `X` and target `y` (rows without a target already dropped);
    `task_inferred`: the task was read from the target's values, not chosen; `unusable`: the
    columns no estimator can take, with why (kept for a run to refuse them)."""
    columns = [_column(X[name], str(name), y, task) for name in X.columns]
    target_profile = _target(y, target, task, n_unlabelled, task_inferred)
    found = [
        {"column": column["name"], "message": column["warning"]}
        for column in columns
        if column.get("warning")
    ]
    found.extend(target_profile.pop("warnings"))
    for column in columns:
        column.pop("warning", None)
    return {
        "n_rows": len(y),
        "columns": columns,
        "target": target_profile,
        "warnings": found,
        "unusable": list(unusable or []),
    }


def _column(values: pd.Series, name: str, y: pd.Series, task: TaskType) -> dict[str, Any]:
    n_rows = len(values)
    present = values.dropna()
    distinct = int(present.nunique())
    kind, date_format = _kind(values, present)
    column: dict[str, Any] = {
        "name": name,
        "kind": kind,
        "missing": round(1 - len(present) / n_rows, 4) if n_rows else 0.0,
        "distinct": distinct,
        "examples": [_example(v) for v in present.drop_duplicates().head(N_EXAMPLES)],
        "role": "feature",
        "reason": None,
        "date_format": date_format,
    }
    ignored = _why_ignored(values, present, kind, distinct)
    if ignored is not None:
        column["role"], column["reason"] = "ignored", ignored
        column["warning"] = f"left out of the features: {ignored}"
        if present.empty:
            column["warning"] = f"dropped: {ignored}, so it cannot be a feature"
    elif (leak := _leak(values, y, task, kind, distinct)) is not None:
        column["warning"] = leak
    elif kind == "categorical" and distinct > MANY_LEVELS:
        column["warning"] = (
            f"{distinct:,} levels: the {MANY_LEVELS - 1} most frequent are encoded one by one, "
            "the rest as one 'infrequent' level"
        )
    if kind == "datetime":
        column.setdefault(
            "warning",
            "dates held as text: used as year, month, day of week and day number, not as levels",
        )
    return column


def _kind(values: pd.Series, present: pd.Series) -> tuple[ColumnKind, str | None]:
    if pd.api.types.is_bool_dtype(values) or _is_boolean_text(present):
        return "boolean", None
    if pd.api.types.is_numeric_dtype(values):
        return "numeric", None
    date_format = _date_format(present)
    if date_format is not None:
        return "datetime", date_format
    n_distinct = present.nunique()
    if len(present) >= 20 and n_distinct >= ID_LIKE_SHARE * len(present):
        return "text", None
    return "categorical", None


def _is_boolean_text(present: pd.Series) -> bool:
    """True/False with gaps: pandas reads them as objects."""
    if present.empty or pd.api.types.is_numeric_dtype(present):
        return False
    return bool(present.map(lambda v: isinstance(v, bool | np.bool_)).all())


def _date_format(present: pd.Series) -> str | None:
    """The format that parses (nearly) every value of a text column as a date, if one does."""
    if present.empty or not all(isinstance(v, str) for v in present.head(50)):
        return None
    first = str(present.iloc[0]).strip()
    if not any(c.isdigit() for c in first) or len(first) < 6:
        return None
    candidates = ["ISO8601"]
    guessed = pd.tseries.api.guess_datetime_format(first)
    if guessed is not None:
        candidates.insert(0, guessed)
    for date_format in candidates:
        parsed = parse_dates(present, date_format)
        if parsed.notna().mean() >= DATE_SHARE:
            return date_format
    return None


def parse_dates(values: pd.Series, date_format: str) -> pd.Series:
    """Text as dates in one format, NaT where a value does not fit it."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pd.to_datetime(values, format=date_format, errors="coerce")


def _why_ignored(
    values: pd.Series, present: pd.Series, kind: ColumnKind, distinct: int
) -> str | None:
    if present.empty:
        return "every value is missing"
    if distinct == 1:
        return f"constant: every row holds {shown(_example(present.iloc[0]), 40)}"
    if kind == "text":
        return (
            f"ID-like: {distinct:,} distinct values in {len(present):,} rows, so no pattern in "
            "it can carry over to new rows"
        )
    if kind == "numeric" and is_row_number(values):
        return (
            f"ID-like: a different whole number in every row ({distinct:,}), counting up; "
            "a row number predicts nothing"
        )
    return None


def is_row_number(values: pd.Series) -> bool:
    """Whole numbers, different in every row and counting up (sorted, they step by about one):
    a row number or a sequential ID."""
    numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
    if not numeric or len(values) < 20 or values.isna().any() or values.nunique() < len(values):
        return False
    ordered = np.sort(values.to_numpy(dtype=float))
    whole = bool(np.all(np.mod(ordered, 1) == 0))
    return whole and bool(ordered[-1] - ordered[0] <= 2 * len(ordered))


def _leak(
    values: pd.Series, y: pd.Series, task: TaskType, kind: ColumnKind, distinct: int
) -> str | None:
    """A column that gives the target away: equal to it, or a function of it so exactly that
    it must be derived from it (or recorded after the outcome)."""
    present = values.notna()
    if present.sum() < 10:
        return None
    x, target = values[present], y[present]
    if task is TaskType.REGRESSION:
        if kind == "numeric" and x.nunique() > 2:
            with np.errstate(all="ignore"):
                correlation = np.corrcoef(x.to_numpy(dtype=float), target.to_numpy(dtype=float))
            if abs(correlation[0, 1]) >= 0.99:
                return (
                    "moves with the target almost exactly (correlation "
                    f"{correlation[0, 1]:.3f}): derived from it? Leave it out if so"
                )
        return None
    if distinct >= len(x) * 0.5:
        return None  # unique per row: every ID would "predict" the target
    classes_per_value = target.groupby(x.astype(str)).nunique()
    if int(classes_per_value.max()) == 1 and target.nunique() > 1:
        return (
            "each of its values goes with a single class of the target: derived from it? "
            "Leave it out if so"
        )
    return None


def _target(
    y: pd.Series, name: str, task: TaskType, n_unlabelled: int, task_inferred: bool
) -> dict[str, Any]:
    found: list[dict[str, str]] = []
    profile: dict[str, Any] = {"name": name, "task": task.value, "n_unlabelled": n_unlabelled}
    if n_unlabelled:
        found.append(
            {
                "column": name,
                "message": f"{n_unlabelled:,} rows have no target value and are left out",
            }
        )
    if task is TaskType.CLASSIFICATION:
        counts = y.value_counts()
        profile["classes"] = [[_example(label), int(n)] for label, n in counts.items()]
        smallest = counts.iloc[-1] / len(y)
        if len(counts) == 2 and smallest < IMBALANCED_SHARE:
            found.append(
                {
                    "column": name,
                    "message": f"imbalanced: {shown(_example(counts.index[-1]))} is "
                    f"{smallest:.0%} of the rows; accuracy would be {1 - smallest:.0%} by always "
                    "answering the other class, so score by average precision or ROC AUC",
                }
            )
        if counts.iloc[-1] < FEW_ROWS_PER_CLASS:
            found.append(
                {
                    "column": name,
                    "message": f"class {shown(_example(counts.index[-1]))} has only "
                    f"{counts.iloc[-1]} rows: every fold needs one of them, so at most "
                    f"{counts.iloc[-1]} folds",
                }
            )
        numeric = pd.api.types.is_numeric_dtype(y) and not pd.api.types.is_bool_dtype(y)
        if task_inferred and numeric and len(counts) > 2:
            found.append(
                {
                    "column": name,
                    "message": f"whole numbers with {len(counts)} values are read as "
                    "classes; if they are counts or amounts, upload it as a regression",
                }
            )
    else:
        numbers = y.to_numpy(dtype=float)
        profile["summary"] = {
            "min": float(np.min(numbers)),
            "mean": float(np.mean(numbers)),
            "max": float(np.max(numbers)),
            "std": float(np.std(numbers)),
        }
    profile["warnings"] = found
    return profile


def _example(value: Any) -> Any:
    """A value as JSON stores it."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return str(value)
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)
