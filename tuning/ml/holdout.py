"""The test set a run keeps out of tuning: drawn once from the run's seed, by class, by group
or by time, so that tuning's cross-validation and every later training agree on it.

Rows are positions in the dataset's table (its labelled rows, in file order). Classes are
split stratified (`train_test_split(stratify=y)`), groups whole (`GroupShuffleSplit`: a group
is on one side only, its missing value a group of its own as in the CV splits), and with a
time column the latest rows are the test set, so that tuning looks at the past only.
"""

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.model_selection import GroupShuffleSplit, train_test_split

from tuning.domain import TaskType
from tuning.errors import InvalidInput, shown
from tuning.ml.datasets import Table
from tuning.ml.features import MISSING
from tuning.ml.search import time_order

# A class label and how many rows carry it (as tuning.ml.checks counts them).
ClassCount = tuple[Any, int]


def n_test_rows(test_size: float, n_rows: int) -> int:
    """How many rows the test set takes: scikit-learn's rounding (up) of a share."""
    return math.ceil(test_size * n_rows) if test_size > 0 else 0


def held_out_rows(
    table: Table,
    test_size: float,
    *,
    random_state: int | None,
    profile: dict[str, Any] | None = None,
    roles: dict[str, Any] | None = None,
) -> list[int]:
    """The positions of the rows kept out of tuning, in ascending order; [] for no test set."""
    if test_size <= 0:
        return []
    seed = 0 if random_state is None else random_state
    n_rows = len(table.y)
    positions = np.arange(n_rows)
    group, time = (roles or {}).get("group"), (roles or {}).get("time")
    if time is not None:
        order = np.argsort(time_order(table, profile or {}, time), kind="stable")
        test = order[n_rows - n_test_rows(test_size, n_rows) :]
    elif group is not None:
        column = table.X[group]
        groups = column.astype(object).where(column.notna(), MISSING).astype(str).to_numpy()
        splitter = GroupShuffleSplit(n_splits=1, test_size=test_size, random_state=seed)
        _, test = next(splitter.split(positions, groups=groups))
    else:
        stratify = table.y if table.task is TaskType.CLASSIFICATION else None
        _, test = train_test_split(
            positions, test_size=test_size, random_state=seed, stratify=stratify
        )
    return sorted(int(row) for row in test)


def without_rows(table: Table, rows: Sequence[int]) -> Table:
    """The table without `rows` (numbered 0.. again): what tuning sees of a run's dataset."""
    if not rows:
        return table
    keep = np.setdiff1d(np.arange(len(table.y)), np.asarray(rows, dtype=int))
    return Table(
        X=table.X.iloc[keep].reset_index(drop=True),
        y=table.y.iloc[keep].reset_index(drop=True),
        task=table.task,
        n_unlabelled=table.n_unlabelled,
        unusable=table.unusable,
    )


def check_test_size(
    test_size: float,
    *,
    cv: int,
    n_rows: int,
    classes: Sequence[ClassCount] | None,
    n_groups: int | None,
    by_time: bool,
) -> None:
    """A test set of this share must leave every side what it needs: rows (every class, for a
    stratified split) in the test set, and enough for `cv` folds in the rest."""
    if test_size <= 0:
        return
    n_test = n_test_rows(test_size, n_rows)
    share = f"a {test_size:.0%} test set"
    if n_rows - n_test < 2:
        raise InvalidInput("test_size", f"{share} of {n_rows} rows leaves none to tune on")
    if by_time:
        if n_rows - n_test <= cv:
            raise InvalidInput(
                "test_size",
                f"{share} leaves {n_rows - n_test} rows before it, too few for {cv} folds in "
                "time order; choose a smaller test set or fewer folds",
            )
        return
    if n_groups is not None:
        test_groups = math.ceil(test_size * n_groups)
        if n_groups - test_groups < cv:
            raise InvalidInput(
                "test_size",
                f"{share} takes {test_groups} of the {n_groups} groups, leaving "
                f"{n_groups - test_groups} for {cv} folds that each need a group of their own; "
                "choose a smaller test set or fewer folds",
            )
        return
    if not classes:
        if n_rows - n_test < cv:
            raise InvalidInput(
                "test_size", f"{share} leaves {n_rows - n_test} rows, fewer than {cv} folds"
            )
        return
    label, smallest = min(classes, key=lambda pair: pair[1])
    if smallest < 2:
        raise InvalidInput(
            "test_size",
            f"class {shown(label)} has only {smallest} row, and a stratified test set needs "
            "every class on both sides; leave the test set out (0)",
        )
    if n_test < len(classes):
        raise InvalidInput(
            "test_size",
            f"{share} is {n_test} rows, fewer than the {len(classes)} classes it must hold; "
            "choose a larger test set",
        )
    left = smallest - math.ceil(test_size * smallest)
    if left < cv:
        raise InvalidInput(
            "test_size",
            f"{share} leaves class {shown(label)} about {left} rows for tuning, fewer than "
            f"{cv} folds; choose a smaller test set or at most {max(left, 2)} folds",
        )
