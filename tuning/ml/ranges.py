"""Continuous ranges: a parameter sampled between two numbers instead of picked from a list.

In a submitted grid a parameter is a list of values or a range `{"low": 1e-4, "high": 10,
"log": true}`. Random search samples a range as `RandomizedSearchCV` does a scipy.stats
distribution: `loguniform(low, high)` or `uniform(low, high - low)` for a float, `randint(low,
high + 1)` for an integer (both ends included). An integer on a log scale has no scipy.stats
twin: it is the floor of `loguniform(low, high + 1)`, which keeps both ends and the log density.
"""

import math
from dataclasses import dataclass
from typing import Any

from scipy import stats

from tuning.errors import InvalidInput

RANGE_KEYS = frozenset({"low", "high", "log"})


@dataclass(frozen=True)
class Range:
    """Numbers from `low` to `high`, both included; whole numbers when `integer`."""

    low: float
    high: float
    log: bool = False
    integer: bool = False

    def rvs(self, random_state: Any = None) -> float | int:
        """One sample, drawn with `random_state` as ParameterSampler draws from distributions."""
        value = self.distribution().rvs(random_state=random_state)
        if self.integer:
            return math.floor(value) if self.log else int(value)
        return float(value)

    def distribution(self) -> Any:
        """The scipy.stats distribution RandomizedSearchCV would be given for this range."""
        if self.integer:
            if self.log:
                return stats.loguniform(self.low, self.high + 1)
            return stats.randint(int(self.low), int(self.high) + 1)
        if self.log:
            return stats.loguniform(self.low, self.high)
        return stats.uniform(self.low, self.high - self.low)

    def as_json(self) -> dict[str, Any]:
        cast = int if self.integer else float
        return {"low": cast(self.low), "high": cast(self.high), "log": self.log}


def is_range(values: Any) -> bool:
    """A grid entry written as a range (an object), not as a list of values."""
    return isinstance(values, dict)


def parse_range(values: dict[str, Any], *, integer: bool, where: str) -> Range:
    """A submitted range checked for its shape: InvalidInput naming `where` if it is wrong."""
    unknown = sorted(set(values) - RANGE_KEYS, key=str)
    if unknown:
        raise InvalidInput(where, f"a range takes low, high and log; unknown key {unknown[0]!r}")
    if "low" not in values or "high" not in values:
        raise InvalidInput(where, 'a range needs "low" and "high", e.g. {"low": 0.001, "high": 10}')
    low, high, log = values["low"], values["high"], values.get("log", False)
    for name, bound in (("low", low), ("high", high)):
        if isinstance(bound, bool) or not isinstance(bound, int | float):
            raise InvalidInput(where, f"the range's {name} must be a number")
        if not _finite(bound):
            raise InvalidInput(where, f"the range's {name} must be a finite number")
        if integer and not isinstance(bound, int):
            raise InvalidInput(where, f"the range's {name} must be an integer for this parameter")
    if not isinstance(log, bool):
        raise InvalidInput(where, "the range's log must be true or false")
    if high <= low:
        raise InvalidInput(
            where,
            f"the range ends ({high:g}) at or below its start ({low:g}); for one value give a list",
        )
    if log and low <= 0:
        raise InvalidInput(where, "a log range needs a low above 0")
    return Range(low=low, high=high, log=log, integer=integer)


def _finite(number: float) -> bool:
    try:
        return math.isfinite(number)
    except OverflowError:  # an integer beyond any float, e.g. 10**400
        return False
