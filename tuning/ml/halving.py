"""Successive halving with scikit-learn's own rules, one rung at a time.

`HalvingGridSearchCV` / `HalvingRandomSearchCV` (resource="n_samples") evaluate every candidate
on a small subsample, keep the best 1/factor, and give the survivors `factor` times more
samples, until one rung is left. The schedule (candidates and samples per rung) follows from
the number of candidates and the dataset alone, so it is known before launch. Each rung's CV
splits subsample GridSearchCV's splits exactly as scikit-learn's `_SubsampleMetaSplitter` does,
and the survivors are picked in `_top_k`'s order, so the rungs, the candidates in each and the
best candidate equal scikit-learn's on the same inputs, ties included.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.utils import resample

from tuning.errors import InvalidInput

Splits = list[tuple[np.ndarray, np.ndarray]]
MinResources = int | str  # a number of samples, "exhaust" or "smallest"
# scikit-learn's "magic factor": the smallest rung has 2 samples per fold (and per class).
SAMPLES_PER_SPLIT = 2


@dataclass(frozen=True)
class HalvingPlan:
    """Candidates and samples per rung, as scikit-learn's `n_candidates_` and `n_resources_`."""

    n_candidates: list[int]
    n_resources: list[int]

    @property
    def n_rungs(self) -> int:
        return len(self.n_candidates)

    @property
    def total(self) -> int:
        """Candidate evaluations over every rung: a run's trials."""
        return sum(self.n_candidates)

    def rung_start(self, rung: int) -> int:
        """The index of the rung's first trial: rungs are stored one after another."""
        return sum(self.n_candidates[:rung])

    def rung_of(self, index: int) -> int:
        """The rung that trial `index` belongs to."""
        for rung, start in enumerate(np.cumsum(self.n_candidates)):
            if index < start:
                return rung
        raise ValueError(f"trial {index} is past the last rung")


def smallest_resources(*, n_splits: int, n_classes: int | None) -> int:
    """min_resources="smallest": 2 samples per fold, times the classes for a classifier."""
    return n_splits * SAMPLES_PER_SPLIT * (n_classes or 1)


def random_candidates(
    *, n_samples: int, n_splits: int, n_classes: int | None, min_resources: MinResources
) -> int:
    """HalvingRandomSearchCV's n_candidates="exhaust": enough that the last rung uses every
    sample, i.e. max_resources // min_resources."""
    if min_resources == "exhaust":
        raise InvalidInput(
            "halving.min_resources",
            'n_candidates and min_resources cannot both be "exhaust": give n_iter or min_resources',
        )
    low = _min_resources(min_resources, n_splits=n_splits, n_classes=n_classes)
    return max(n_samples // low, 1)


def plan_halving(
    *,
    n_candidates: int,
    n_samples: int,
    n_splits: int,
    n_classes: int | None,
    factor: float,
    min_resources: MinResources,
    aggressive_elimination: bool,
) -> HalvingPlan:
    """BaseSuccessiveHalving._run_search's schedule; InvalidInput where scikit-learn raises."""
    if n_candidates < 1:
        raise InvalidInput("param_grid", "successive halving needs at least one candidate")
    if not factor > 1:
        raise InvalidInput("halving.factor", f"factor must be above 1, not {factor:g}")
    low: float = _min_resources(min_resources, n_splits=n_splits, n_classes=n_classes)
    if low > n_samples:
        raise InvalidInput(
            "halving.min_resources",
            f"min_resources={low:,.0f} is more than the dataset's {n_samples:,} rows",
        )
    required = 1 + math.floor(math.log(n_candidates, factor))
    if min_resources == "exhaust":  # the same arithmetic (a float factor included) as sklearn
        low = max(low, n_samples // factor ** (required - 1))
    possible = 1 + math.floor(math.log(n_samples // low, factor))
    n_rungs = required if aggressive_elimination else min(possible, required)
    counts: list[int] = []
    resources: list[int] = []
    remaining = n_candidates
    for rung in range(n_rungs):
        power = max(0, rung - required + possible) if aggressive_elimination else rung
        resources.append(min(int(factor**power * low), n_samples))
        counts.append(remaining)
        remaining = math.ceil(remaining / factor)
    return HalvingPlan(n_candidates=counts, n_resources=resources)


def _min_resources(value: MinResources, *, n_splits: int, n_classes: int | None) -> int:
    if value in ("exhaust", "smallest"):
        return smallest_resources(n_splits=n_splits, n_classes=n_classes)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidInput(
            "halving.min_resources", 'give a number of samples >= 1, "exhaust" or "smallest"'
        )
    return value


def rung_splits(base: Splits, *, n_resources: int, n_samples: int, random_state: int) -> Splits:
    """The rung's CV splits: every fold's train and test indices subsampled to the fraction
    n_resources / n_samples, as `_SubsampleMetaSplitter(subsample_test=True)` does."""
    fraction = n_resources / n_samples
    return [
        (
            resample(
                train,
                replace=False,
                random_state=random_state,
                n_samples=int(fraction * len(train)),
            ),
            resample(
                test, replace=False, random_state=random_state, n_samples=int(fraction * len(test))
            ),
        )
        for train, test in base
    ]


def survivors(scores: Sequence[float | None], *, factor: float) -> list[int]:
    """Positions (within the rung) of the candidates the next rung evaluates, in its order:
    `_top_k` keeps ceil(n / factor), the best last, failed (nan) candidates first."""
    keep = math.ceil(len(scores) / factor)
    array = np.array([np.nan if score is None else score for score in scores], dtype=np.float64)
    order = np.roll(np.argsort(array), np.count_nonzero(np.isnan(array)))
    return [int(position) for position in order[-keep:]]


def best_of_last_rung(scores: Sequence[float | None]) -> int:
    """`_select_best_index`: the first highest score of the last rung; 0 when all failed."""
    array = np.array([np.nan if score is None else score for score in scores], dtype=np.float64)
    return 0 if np.isnan(array).all() else int(np.nanargmax(array))
