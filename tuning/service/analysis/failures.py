"""Failure triage: a run's failed candidates grouped by error, with the parameter values that
produced each group, the grid without the values that never scored, and, when nothing scored,
how far the run got.

Pure functions over the frame of `trials_frame`, like `analysis`.
"""

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from tuning.service.analysis.scores import value_label
from tuning.service.reads.trials import SCORE, param_column


@dataclass(frozen=True)
class FailedValue:
    """A parameter value among the candidates of a failure group."""

    param: str
    value: Any
    in_every_candidate: bool  # every candidate of the group has it
    also_scores: bool  # a scored candidate has it too: the value alone does not fail


@dataclass(frozen=True)
class FailureGroup:
    """Failed candidates with the same error, once numbers and ids in its message are set aside."""

    error_type: str  # "ValueError"
    message: str  # the first candidate's message, as raised
    n_candidates: int
    trials: tuple[int, ...]
    values: tuple[FailedValue, ...]  # every value its candidates had, by parameter

    @property
    def shared(self) -> tuple[FailedValue, ...]:
        """The param=value pairs every candidate of the group had: what produced the failure."""
        return tuple(value for value in self.values if value.in_every_candidate)


# Ids and numbers differ between candidates failing for one reason (n_neighbors=11 > 8 rows);
# words such as l1 and log2 keep their digits.
_IDS = re.compile(r"\b0x[0-9a-f]+\b|\b[0-9a-f]{8}(?:-[0-9a-f]{4}){3}-[0-9a-f]{12}\b", re.I)
_NUMBERS = re.compile(r"(?<![\w.])[-+]?\d+(?:\.\d+)?(?:e[-+]?\d+)?", re.I)
_ERROR_TYPE = re.compile(r"[A-Za-z_][\w.]*")


def error_parts(error: str) -> tuple[str, str]:
    """A stored error ("ValueError: message") as its type and message; "FitFailedError" when it
    names no type."""
    error_type, _, message = error.partition(": ")
    if message and _ERROR_TYPE.fullmatch(error_type):
        return error_type, message
    return "FitFailedError", error


def failure_key(error: str) -> tuple[str, str]:
    """What makes two errors one: their type and message, numbers and ids set aside."""
    error_type, message = error_parts(error)
    message = _NUMBERS.sub("#", _IDS.sub("#", message))
    return error_type, " ".join(message.split())


def failure_groups(frame: pd.DataFrame, params: Sequence[str]) -> list[FailureGroup]:
    """Failed candidates (error set) grouped by error type and message, numbers and ids aside;
    the largest group first, then the earliest."""
    failed = frame[frame["error"].notna()].sort_values("trial")
    scored = frame[frame[SCORE].notna()]
    scored_labels = {p: set(scored[param_column(p)].map(value_label)) for p in params}
    rows_of: dict[tuple[str, str], list[Any]] = {}
    for row, error in failed["error"].items():
        rows_of.setdefault(failure_key(str(error)), []).append(row)
    groups = [_failure_group(failed.loc[rows], params, scored_labels) for rows in rows_of.values()]
    return sorted(groups, key=lambda group: (-group.n_candidates, group.trials[0]))


def _failure_group(
    candidates: pd.DataFrame, params: Sequence[str], scored_labels: dict[str, set[str]]
) -> FailureGroup:
    values = []
    for param in params:
        by_label: dict[str, list[Any]] = {}
        for value in candidates[param_column(param)]:
            by_label.setdefault(value_label(value), []).append(value)
        for label, same in by_label.items():
            in_every = len(same) == len(candidates)
            values.append(FailedValue(param, same[0], in_every, label in scored_labels[param]))
    error_type, message = error_parts(str(candidates["error"].iloc[0]))
    trials = tuple(int(trial) for trial in candidates["trial"])
    return FailureGroup(error_type, message, len(trials), trials, tuple(values))


def grid_without_failures(
    param_grid: dict[str, list[Any]], groups: Sequence[FailureGroup]
) -> tuple[dict[str, list[Any]], list[tuple[str, Any]]]:
    """The grid less every value that only ever failed (no scored candidate had it), and the
    `(param, value)` pairs removed, in grid order.

    When removing them would leave a parameter without values, nothing is removed: the grid
    comes back as it was, with an empty list. Meant for runs in which some candidate scored:
    where none did, no value is to blame on its own (see `nothing_scored`), yet a run stopped
    early would lose the values it happened to try.
    """
    failing = {
        (value.param, value_label(value.value))
        for group in groups
        for value in group.values
        if not value.also_scores
    }
    kept = {
        param: [value for value in values if (param, value_label(value)) not in failing]
        for param, values in param_grid.items()
    }
    if any(not values for values in kept.values()):
        return {param: list(values) for param, values in param_grid.items()}, []
    removed = [
        (param, value)
        for param, values in param_grid.items()
        for value in values
        if (param, value_label(value)) in failing
    ]
    return kept, removed


def nothing_scored(frame: pd.DataFrame, *, n_candidates: int) -> str | None:
    """When no candidate of the run scored, what happened in words: how many of `n_candidates`
    were tried, that every one failed (with how many different errors), and that the rest were
    not tried. None when some candidate scored."""
    if frame[SCORE].notna().any():
        return None
    n_tried = len(frame)
    if n_tried == 0:
        return f"none of the {n_candidates:,} candidates was tried"
    n_errors = len({failure_key(str(error)) for error in frame["error"].dropna()})
    if n_tried == 1:
        tried = "the one candidate" if n_candidates == 1 else f"1 of {n_candidates:,} candidates"
        what = f"{tried} was tried and it failed"
    else:
        tried = (
            f"all {n_tried:,}" if n_tried >= n_candidates else f"{n_tried:,} of {n_candidates:,}"
        )
        what = f"{tried} candidates were tried and every one failed"
        if n_errors == 1:
            what += " with the same error"
        elif n_errors > 1:
            what += f", with {n_errors} different errors"
    if n_tried < n_candidates:
        what += f"; the other {n_candidates - n_tried:,} were not tried"
    return what
