"""What a run's trials say: best so far, time left, which parameter mattered and how, where
the model overfits, the simplest candidate about as good as the best, and why candidates failed.

Pure functions over the frame of `trials_frame` (or the trial rows): no database, no Streamlit,
so the dashboard's pages and the tests call them alike.
"""

import itertools
import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from tuning.domain import as_utc
from tuning.ml.catalog import Simpler, get_estimator
from tuning.service.reads.runs import RunSummary
from tuning.service.reads.trials import SCORE, TrialRecord, param_column, split_columns

# How many recent trials set the pace for the ETA: recent enough to follow a change of speed.
ETA_WINDOW = 20


def best_so_far(frame: pd.DataFrame) -> pd.Series:
    """The best mean test score up to each trial, in trial order; nan until one scores."""
    ordered = frame.sort_values("trial")
    best = ordered[SCORE].fillna(-np.inf).cummax().replace(-np.inf, np.nan)
    return pd.Series(best.to_numpy(), index=ordered["trial"].to_numpy(), name="best_so_far")


def best_so_far_steps(scores: Sequence[tuple[int, float | None]]) -> pd.Series:
    """`best_so_far` of (trial, score) pairs kept to the trials where it changes, and the last:
    the same step line in as many points as there were improvements."""
    frame = pd.DataFrame(scores, columns=["trial", SCORE]).astype({SCORE: float})
    history = best_so_far(frame)
    if history.empty:
        return history
    changed = history.ne(history.shift()) & history.notna()
    changed.iloc[-1] = True
    return history[changed.to_numpy()]


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

    `fold_std` is the spread of every split score of the candidates with that value. One pass
    over the trials, whatever the number of values.
    """
    labels = frame[param_column(param)].map(value_label)
    table = _score_by_label(frame, labels, [value_label(value) for value in values])
    table["value"] = pd.Series(list(values), dtype=object)  # None stays None, not NaN
    return table


# A numeric parameter with more values than this is summed up in bins on its chart.
MANY_VALUES = 30


def score_by_bin(frame: pd.DataFrame, param: str, *, log: bool, bins: int = 24) -> pd.DataFrame:
    """`score_by_value`'s columns over `bins` equal bins of a numeric parameter's range (equal
    on a log scale when `log`): `value` is a bin's centre, `label` its range. For a parameter
    tried at hundreds of values, where one point per value is a band no one can read."""
    numbers = frame[param_column(param)].astype(float)
    low, high = float(numbers.min()), float(numbers.max())
    if log and low > 0:
        edges = np.geomspace(low, high, bins + 1)
        centres = np.sqrt(edges[:-1] * edges[1:])
    else:
        edges = np.linspace(low, high, bins + 1)
        centres = (edges[:-1] + edges[1:]) / 2
    codes = np.clip(np.searchsorted(edges, numbers, side="right") - 1, 0, bins - 1)
    order = [str(code) for code in range(bins)]
    table = _score_by_label(frame, pd.Series(codes.astype(str), index=frame.index), order)
    table["label"] = [f"{a:.3g} to {b:.3g}" for a, b in itertools.pairwise(edges)]
    table["value"] = centres
    return table[table["n_candidates"] > 0].reset_index(drop=True)


def _score_by_label(frame: pd.DataFrame, labels: pd.Series, order: list[str]) -> pd.DataFrame:
    """Candidates, mean and best score and the spread of all split scores per label, in `order`;
    one groupby over the trials (two passes for the spread, as numpy's std computes it)."""
    splits = frame[split_columns(frame)].to_numpy(dtype=float)
    grouped = frame.groupby(labels, sort=False)[SCORE]
    folds = pd.DataFrame(
        {"label": np.repeat(labels.to_numpy(), splits.shape[1]), "fold": splits.ravel()}
    ).dropna()
    by_label = folds.groupby("label", sort=False)["fold"]
    deviation = folds["fold"] - by_label.transform("mean")
    spread = (deviation**2).groupby(folds["label"], sort=False).mean().pow(0.5)
    table = pd.DataFrame(
        {
            "value": order,
            "label": order,
            "n_candidates": grouped.size().reindex(order, fill_value=0).to_numpy(),
            "mean_score": grouped.mean().reindex(order).to_numpy(),
            "best_score": grouped.max().reindex(order).to_numpy(),
            "fold_std": spread.reindex(order).to_numpy(),
        },
        columns=list(_SCORE_BY_VALUE_COLUMNS),
    )
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


# --- Overfitting: train against validation scores -------------------------------------------


def _mean_train_scores(frame: pd.DataFrame) -> pd.Series:
    """Each candidate's mean train score, as cv_results_' mean_train_score: nan unless every
    split's train score is stored."""
    columns = [c.replace("_test_score", "_train_score") for c in split_columns(frame)]
    columns = [c for c in columns if c in frame]
    if not columns:
        return pd.Series(np.nan, index=frame.index, dtype=float)
    means = np.average(frame[columns].to_numpy(dtype=float), axis=1)
    return pd.Series(means, index=frame.index, dtype=float)


_TRAIN_VS_VALIDATION_COLUMNS = ["trial", "mean_train_score", SCORE, "gap", "std_test_score"]


def train_vs_validation(frame: pd.DataFrame) -> pd.DataFrame:
    """Per scored candidate, in trial order: trial, mean_train_score, mean_test_score (the
    validation score), gap (train minus validation: large means overfitting), std_test_score.

    Empty, with these columns, when the run stored no train scores (runs from before they were).
    """
    table = frame.assign(mean_train_score=_mean_train_scores(frame))
    table = table[table[SCORE].notna() & table["mean_train_score"].notna()]
    table = table.assign(gap=table["mean_train_score"] - table[SCORE])
    return table[_TRAIN_VS_VALIDATION_COLUMNS].sort_values("trial", ignore_index=True)


def gap_by_value(frame: pd.DataFrame, param: str, values: Sequence[Any]) -> pd.DataFrame:
    """Per value of `param`, in grid order: value, label, n_candidates, mean_train_score,
    mean_test_score (validation), mean_gap (train minus validation) and fold_std (the spread of
    the validation split scores, as in `score_by_value`); nan where no candidate has the score.
    """
    train = _mean_train_scores(frame)
    gap = train - frame[SCORE]
    labels = frame[param_column(param)].map(value_label)
    order = [value_label(value) for value in values]
    table = score_by_value(frame, param, values).rename(columns={"mean_score": SCORE})
    table["mean_train_score"] = train.groupby(labels, sort=False).mean().reindex(order).to_numpy()
    table["mean_gap"] = gap.groupby(labels, sort=False).mean().reindex(order).to_numpy()
    columns = ["value", "label", "n_candidates", "mean_train_score", SCORE, "mean_gap", "fold_std"]
    return table[columns]


# --- The simplest candidate about as good as the best ---------------------------------------


@dataclass(frozen=True)
class SimplestPick:
    """The simplest candidate scoring within one standard deviation of the best, and why.

    When no simpler candidate qualifies, it is the best itself (`is_best`) and `why` says so.
    """

    trial: int
    params: dict[str, Any]
    mean_test_score: float
    threshold: float  # the best's mean test score minus its std_test_score
    n_within: int  # candidates scoring at least the threshold, the best among them
    best_trial: int
    best_score: float
    compared: tuple[str, ...]  # the parameters whose values were ranked by simplicity
    why: str

    @property
    def is_best(self) -> bool:
        return self.trial == self.best_trial


def _simplicity(column: pd.Series, simpler: Simpler) -> pd.Series | None:
    """Each candidate's value placed from 0 (the simplest value tried) to 1 (the most complex),
    evenly by rank; None when the values cannot be ordered (a named option such as 'sqrt') or
    are all the same. None as a value means no limit: the most complex."""
    keys: dict[str, float] = {}
    for value in column:
        if value is None:
            keys["None"] = math.inf
        elif isinstance(value, numbers.Real) and not isinstance(value, bool):
            keys[value_label(value)] = float(value) if simpler == "lower" else -float(value)
        else:
            return None
    order = sorted(set(keys.values()))
    if len(order) < 2:
        return None
    place = {key: rank / (len(order) - 1) for rank, key in enumerate(order)}
    return column.map(lambda value: place[keys[value_label(value)]])


def _directions(estimator: str, params: Sequence[str]) -> dict[str, Simpler]:
    """The run's parameters the catalog orders by simplicity, and which way is simpler."""
    specs = get_estimator(estimator).params
    return {p: simpler for p in params if p in specs and (simpler := specs[p].simpler)}


def simplest_within_one_se(
    frame: pd.DataFrame, params: Sequence[str], estimator: str
) -> SimplestPick | None:
    """The simplest candidate whose mean test score is at least the best's minus the best's
    std_test_score: the rule of scikit-learn's example "Balance model complexity and
    cross-validated score" (plot_grid_search_refit_callable.py, `lower_bound` and
    `best_low_complexity`), which calls it the one-standard-error rule of Hastie et al. and
    measures it, as here, with the spread of the best candidate's split scores.

    Simplest: each parameter the catalog gives a direction (`ParamSpec.simpler`) places the
    values the run tried from 0 (simplest) to 1 (most complex), evenly by rank, and the
    candidate with the lowest sum wins; ties go to the higher score, then the lower trial. The
    best is the first of the highest scores, as best_index_. None when no candidate scored or
    no parameter of the run can be ordered by simplicity.
    """
    directions = _directions(estimator, params)
    scored = frame[frame[SCORE].notna()].sort_values("trial", ignore_index=True)
    places = {
        param: place
        for param, simpler in directions.items()
        if (place := _simplicity(scored[param_column(param)], simpler)) is not None
    }
    if scored.empty or not places:
        return None
    best = scored.iloc[int(np.argmax(scored[SCORE].to_numpy()))]  # the first of the highest
    threshold = float(best[SCORE] - np.nan_to_num(best["std_test_score"]))
    within = scored[scored[SCORE] >= threshold].assign(_complexity=pd.DataFrame(places).sum(axis=1))
    ordered = within.sort_values(["_complexity", SCORE, "trial"], ascending=[True, False, True])
    pick = ordered.iloc[0]
    chosen = {param: pick[param_column(param)] for param in params}
    return SimplestPick(
        trial=int(pick["trial"]),
        params=chosen,
        mean_test_score=float(pick[SCORE]),
        threshold=threshold,
        n_within=len(within),
        best_trial=int(best["trial"]),
        best_score=float(best[SCORE]),
        compared=tuple(places),
        why=_why_simplest(pick, best, threshold, {p: directions[p] for p in places}),
    )


def _why_simplest(
    pick: pd.Series, best: pd.Series, threshold: float, directions: dict[str, Simpler]
) -> str:
    """One sentence for the page: what was picked, against which bar, by which directions."""
    by = " and ".join(f"{direction} {param}" for param, direction in directions.items())
    if pick["trial"] == best["trial"]:
        return (
            f"No simpler candidate scores {threshold:.4g} or more (the best score minus one "
            f"standard deviation), so the best, trial {best['trial']}, is also the simplest by "
            f"{by}."
        )
    values = ", ".join(f"{p}={value_label(pick[param_column(p)])}" for p in directions)
    return (
        f"Trial {pick['trial']} ({values}) scores {pick[SCORE]:.4g}, within one standard "
        f"deviation of the best, {best[SCORE]:.4g} (trial {best['trial']}), and is the "
        f"simplest such candidate by {by}."
    )


# --- Failed candidates ----------------------------------------------------------------------
