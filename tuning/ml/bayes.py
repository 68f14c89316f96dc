"""Bayesian search: Optuna's TPE proposes each candidate from the candidates stored so far.

Optuna is a library here, not a store. Each proposal rebuilds an in-memory study from the
stored candidates (scored, failed, and in flight on other workers) and asks it for one more,
so a redelivered task proposes the same candidate again. The sampler's seed mixes the run's
seed with the candidate's index: each index draws from its own stream, whatever the order in
which workers reach it. With `constant_liar`, candidates in flight count as bad scores, which
keeps concurrent workers from proposing the same point.

A list of values becomes a categorical choice of positions, not of the values themselves:
Optuna compares choices by `==`, under which 1, 1.0 and True are one value.
"""

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import optuna
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)
from optuna.exceptions import ExperimentalWarning
from optuna.trial import FrozenTrial, TrialState, create_trial

from tuning.ml.ranges import Range

# Every proposal creates a throwaway study, and Optuna logs each creation at INFO.
optuna.logging.set_verbosity(optuna.logging.WARNING)

Space = dict[str, list[Any] | Range]


@dataclass(frozen=True)
class Observed:
    """A stored candidate: its parameters and mean CV score (None when it failed)."""

    params: dict[str, Any]
    score: float | None


def propose(
    space: Space,
    *,
    observed: Sequence[Observed],
    in_flight: Sequence[dict[str, Any]],
    seed: int,
    index: int,
    n_startup: int = 10,
) -> dict[str, Any]:
    """The parameters of candidate number `index`, proposed by TPE from the candidates so far.

    `observed` are the finished candidates, `in_flight` those other workers are evaluating.
    Until `n_startup` candidates have a score the proposal is drawn at random. The same inputs
    give the same proposal. A stored candidate whose parameters lie outside `space` is skipped.
    """
    _check(space, seed=seed, index=index, n_startup=n_startup)
    distributions = {name: _distribution(values) for name, values in space.items()}
    # Optuna flags TPE options as experimental from one release to the next; a worker's log
    # is no place for that.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExperimentalWarning)
        sampler = optuna.samplers.TPESampler(
            seed=_stream_seed(seed, index), constant_liar=True, n_startup_trials=n_startup
        )
        study = optuna.create_study(direction="maximize", sampler=sampler)
        study.add_trials(_trials(space, distributions, observed=observed, in_flight=in_flight))
        trial = study.ask(distributions)
    return _decode(space, trial.params)


def _check(space: Space, *, seed: int, index: int, n_startup: int) -> None:
    for name, values in space.items():
        if not isinstance(values, Range) and not values:
            raise ValueError(f"{name!r} has no values to choose from")
    for name, count in (("seed", seed), ("index", index), ("n_startup", n_startup)):
        if count < 0:
            raise ValueError(f"{name} must be 0 or more, got {count}")


def _stream_seed(seed: int, index: int) -> int:
    """A 32-bit seed of its own for each (seed, index), stable across processes and versions."""
    return int(np.random.SeedSequence([seed, index]).generate_state(1)[0])


def _distribution(values: list[Any] | Range) -> BaseDistribution:
    if isinstance(values, Range):
        if values.integer:
            return IntDistribution(int(values.low), int(values.high), log=values.log)
        return FloatDistribution(float(values.low), float(values.high), log=values.log)
    return CategoricalDistribution(list(range(len(values))))


def _trials(
    space: Space,
    distributions: dict[str, BaseDistribution],
    *,
    observed: Sequence[Observed],
    in_flight: Sequence[dict[str, Any]],
) -> list[FrozenTrial]:
    """The stored candidates as Optuna trials, leaving out those outside `space`."""
    trials = []
    for candidate in observed:
        params = _encode(space, candidate.params)
        if params is None:
            continue
        if candidate.score is None or math.isnan(candidate.score):
            trial = create_trial(state=TrialState.FAIL, params=params, distributions=distributions)
        else:
            trial = create_trial(value=candidate.score, params=params, distributions=distributions)
        trials.append(trial)
    for candidate_params in in_flight:
        params = _encode(space, candidate_params)
        if params is not None:
            trials.append(
                create_trial(state=TrialState.RUNNING, params=params, distributions=distributions)
            )
    return trials


def _encode(space: Space, params: dict[str, Any]) -> dict[str, Any] | None:
    """A candidate's parameters as Optuna's, or None when they do not fit `space`."""
    if params.keys() != space.keys():
        return None
    encoded = {}
    for name, values in space.items():
        value = params[name]
        if isinstance(values, Range):
            value = _encode_number(values, value)
        else:
            value = _position(values, value)
        if value is None:
            return None
        encoded[name] = value
    return encoded


def _encode_number(values: Range, value: Any) -> int | float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if not values.low <= value <= values.high:  # also False for nan
        return None
    if values.integer:
        return int(value) if float(value).is_integer() else None
    return float(value)


def _position(values: list[Any], value: Any) -> int | None:
    """Where `value` is in `values`, matched on type as well: True is not 1, 1.0 is not 1."""
    for position, choice in enumerate(values):
        if type(choice) is type(value) and choice == value:
            return position
    return None


def _decode(space: Space, params: dict[str, Any]) -> dict[str, Any]:
    """Optuna's parameters back as the space's own values, in plain Python types."""
    decoded = {}
    for name, values in space.items():
        value = params[name]
        if isinstance(values, Range):
            decoded[name] = int(value) if values.integer else float(value)
        else:
            decoded[name] = values[int(value)]
    return decoded
