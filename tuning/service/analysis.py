"""What a run's trials say: best so far, time left, which parameter mattered and how.

Pure functions over the frame of `trials_frame` (or the trial rows): no database, no Streamlit,
so the dashboard's pages and the tests call them alike.
"""

import math
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd

from tuning.domain import as_utc
from tuning.service.runs import RunSummary
from tuning.service.trials import SCORE, TrialRecord, param_column, split_columns

# How many recent trials set the pace for the ETA: recent enough to follow a change of speed.
ETA_WINDOW = 20


def best_so_far(frame: pd.DataFrame) -> pd.Series:
    """The best mean test score up to each trial, in trial order; nan until one scores."""
    ordered = frame.sort_values("trial")
    best = ordered[SCORE].fillna(-np.inf).cummax().replace(-np.inf, np.nan)
    return pd.Series(best.to_numpy(), index=ordered["trial"].to_numpy(), name="best_so_far")


def eta_seconds(trials: Sequence[TrialRecord], total: int, *, n_splits: int) -> float | None:
    """Seconds until the last candidate, at the pace of the most recent ones; None before one."""
    remaining = total - len(trials)
    if remaining <= 0:
        return 0.0
    if not trials:
        return None
    recent = sorted(trial.finished_at for trial in trials)[-ETA_WINDOW:]
    if len(recent) >= 2:
        elapsed = as_utc(recent[-1]) - as_utc(recent[0])
        per_candidate = elapsed.total_seconds() / (len(recent) - 1)
    else:
        last = trials[-1]
        per_candidate = (last.mean_fit_time + last.mean_score_time) * n_splits
    return remaining * per_candidate


def value_label(value: Any) -> str:
    """A grid value as the user typed it: None, True, 0.1, sqrt."""
    return "None" if value is None else str(value)


_SCORE_BY_VALUE_COLUMNS = ("value", "label", "n_candidates", "mean_score", "best_score", "fold_std")


def score_by_value(frame: pd.DataFrame, param: str, values: Sequence[Any]) -> pd.DataFrame:
    """Per value of `param`, in grid order: candidates, mean and best score, fold spread.

    `fold_std` is the spread of every split score of the candidates with that value.
    """
    splits = split_columns(frame)
    labels = frame[param_column(param)].map(value_label)
    rows = []
    for value in values:
        group = frame[labels == value_label(value)]
        folds = group[splits].to_numpy(dtype=float).ravel()
        folds = folds[~np.isnan(folds)]
        rows.append(
            {
                "value": value,
                "label": value_label(value),
                "n_candidates": len(group),
                "mean_score": group[SCORE].mean(),
                "best_score": group[SCORE].max(),
                "fold_std": float(folds.std()) if folds.size else math.nan,
            }
        )
    table = pd.DataFrame(rows, columns=list(_SCORE_BY_VALUE_COLUMNS))
    table["value"] = pd.Series(list(values), dtype=object)  # None stays None, not NaN
    return table


def score_table(
    frame: pd.DataFrame, rows: str, columns: str, *, how: Literal["mean", "max"] = "mean"
) -> pd.DataFrame:
    """Mean (or best) score for each pair of values of two parameters, labels as index."""
    table = frame.assign(
        _row=frame[param_column(rows)].map(value_label),
        _col=frame[param_column(columns)].map(value_label),
    )
    return table.pivot_table(index="_row", columns="_col", values=SCORE, aggfunc=how, sort=False)


def parameter_importance(frame: pd.DataFrame, params: Sequence[str]) -> pd.DataFrame:
    """Share of the score's variance each parameter explains on its own (eta squared), 0 to 1."""
    scored = frame[frame[SCORE].notna()]
    total = float(((scored[SCORE] - scored[SCORE].mean()) ** 2).sum())
    rows = []
    for param in params:
        groups = scored.groupby(scored[param_column(param)].map(value_label))[SCORE]
        between = float((groups.count() * (groups.mean() - scored[SCORE].mean()) ** 2).sum())
        rows.append({"parameter": param, "importance": between / total if total > 0 else 0.0})
    result = pd.DataFrame(rows, columns=["parameter", "importance"])
    return result.sort_values("importance", ascending=False, ignore_index=True)


def shared_params(runs: Sequence[RunSummary]) -> list[str]:
    """Parameters every one of the runs searched over, in the first run's order."""
    if not runs:
        return []
    common = set.intersection(*(set(run.param_grid) for run in runs))
    return [param for param in runs[0].param_grid if param in common]
