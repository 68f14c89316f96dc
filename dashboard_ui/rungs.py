"""Successive halving on the dashboard: its schedule and the trials stored per rung."""

from collections.abc import Iterable, Sequence
from typing import Any

import pandas as pd


def schedule_table(
    halving: dict[str, Any], stored: Sequence[int] | None = None, current: int | None = None
) -> pd.DataFrame:
    """The schedule stored with a run: rung (from 1), candidates, samples; with `stored` (trials
    stored per rung) a "stored" column, and with `current` (0-based) a mark on that rung."""
    n_candidates, n_resources = halving["n_candidates"], halving["n_resources"]
    table = pd.DataFrame(
        {
            "rung": range(1, len(n_candidates) + 1),
            "candidates": n_candidates,
            "samples": n_resources,
        }
    )
    if stored is not None:
        table["stored"] = [f"{n} / {total}" for n, total in zip(stored, n_candidates, strict=True)]
        table["now"] = ["◀ current" if rung == current else "" for rung in range(len(table))]
    return table


def stored_per_rung(halving: dict[str, Any], rungs: Iterable[int | None]) -> list[int]:
    """How many trials of each rung are stored, from each stored trial's rung."""
    counts = [0] * len(halving["n_candidates"])
    for rung in rungs:
        if rung is not None and 0 <= rung < len(counts):
            counts[rung] += 1
    return counts


def current_rung(halving: dict[str, Any], stored: Sequence[int]) -> int:
    """The rung being evaluated: the first one not fully stored (the last once all are)."""
    for rung, (n, total) in enumerate(zip(stored, halving["n_candidates"], strict=True)):
        if n < total:
            return rung
    return len(stored) - 1
