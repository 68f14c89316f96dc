"""Refine and relaunch: a narrower, finer grid around a finished run's best candidates, and the
runs that refine a run.

For each parameter the refined grid keeps what the top candidates had and, for a number, fills
the stretch between its neighbours in the run's grid with finer values: evenly spaced, or
geometrically where the catalog explores the parameter on a log scale.
"""

import math
import numbers
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import select
from sqlmodel import Session, col

from tuning.errors import Forbidden, InvalidInput, NotFound
from tuning.ml.catalog import ParamSpec, get_estimator
from tuning.models import TuningRun, User
from tuning.schemas import HalvingOptions, TuningRunCreate
from tuning.service.accounts.access import only_readable_runs, parse_id
from tuning.service.reads.runs import RunSummary, get_run_summary
from tuning.service.reads.trials import SCORE, param_column, run_trials
from tuning.service.searches.grid import grid_size

TOP_K = 5
# Finer values per number, besides the top candidates' own; fewer when the grid would be large.
VALUES_PER_PARAM = 5
# A refined run is a second, narrower look: kept well under the service's own limit.
REFINED_CANDIDATES = 200


@dataclass(frozen=True)
class RefinedGrid:
    """A grid around the best candidates of `run`, ready to be submitted as a run refining it."""

    run: RunSummary
    param_grid: dict[str, list[Any]]
    top_trials: tuple[int, ...]  # the candidates it was built around, best first
    values_per_param: int  # finer values per number, after keeping under the limit

    @property
    def n_candidates(self) -> int:
        return grid_size(self.param_grid)

    def run_in(self) -> TuningRunCreate:
        """The submission of the refined run: a grid search linked to the run it refines."""
        return run_like(
            self.run,
            param_grid=self.param_grid,
            search="grid",
            n_iter=None,
            halving=None,
            parent_run_id=str(self.run.id),
        )


def run_like(run: RunSummary, **changes: Any) -> TuningRunCreate:
    """A submission with `run`'s dataset, estimator, grid, search (with its halving options and
    early stopping), folds, scoring and positive class, seed, test set, train scores and tags,
    and `changes` (for example a new `param_grid`). Its column roles too: a run stored before
    roles gets the profile's defaults."""
    halving = None
    if run.halving is not None:  # its options, not the schedule they made
        halving = HalvingOptions.model_validate(
            {key: value for key, value in run.halving.items() if key in HalvingOptions.model_fields}
        )
    fields: dict[str, Any] = {
        "dataset": str(run.dataset_id),
        "estimator": run.estimator,
        "param_grid": run.param_grid,
        "search": run.search,
        "n_iter": run.n_iter,
        "halving": halving,
        "stop_after_no_improvement": run.stop_after_no_improvement,
        "time_budget_s": run.time_budget_s,
        "return_train_score": run.return_train_score,
        "cv": run.cv,
        "scoring": run.scoring,
        "random_state": run.random_state,
        "columns": run.column_roles,
        "pos_label": run.pos_label,
        # The same share and seed draw the same test set: a refined run is tested like its parent.
        "test_size": run.test_size,
        "tags": run.tags or None,  # its tags, not its name: the new run is another
    }
    return TuningRunCreate(**{**fields, **changes})


def refine_grid(
    *,
    session: Session,
    run_id: str | uuid.UUID,
    viewer: User,
    top_k: int = TOP_K,
    values_per_param: int = VALUES_PER_PARAM,
    max_candidates: int = REFINED_CANDIDATES,
) -> RefinedGrid:
    """The grid around the run's `top_k` best candidates (see `refine_trials`); two reads."""
    stored = run_trials(session=session, run_id=run_id, viewer=viewer)
    return refine_trials(
        stored.run,
        stored.trials,
        top_k=top_k,
        values_per_param=values_per_param,
        max_candidates=max_candidates,
    )


def refine_trials(
    run: RunSummary,
    trials: pd.DataFrame,
    *,
    top_k: int = TOP_K,
    values_per_param: int = VALUES_PER_PARAM,
    max_candidates: int = REFINED_CANDIDATES,
) -> RefinedGrid:
    """The grid around the `top_k` best of `trials` (the run's `trials_frame`), a grid search
    of at most `max_candidates`: fewer finer values per number until it fits.

    InvalidInput when the run is still going, when no candidate scored, or when even the top
    candidates' own values make more than `max_candidates`.
    """
    top = _top_candidates(run, trials, top_k)
    spec = get_estimator(run.estimator)
    known = {
        param: _known_values(entry, trials[param_column(param)])
        for param, entry in run.param_grid.items()
    }
    for n_values in range(values_per_param, -1, -1):
        grid = {
            param: refined_values(
                spec.params[param],
                known[param],
                list(top[param_column(param)]),
                n_values,
                log=spec.params[param].log or _is_log_range(entry),
            )
            for param, entry in run.param_grid.items()
        }
        if grid_size(grid) <= max_candidates:
            top_trials = tuple(int(trial) for trial in top["trial"])
            return RefinedGrid(run, grid, top_trials, n_values)
    raise InvalidInput(
        "top_k",
        f"the top {len(top)} candidates alone make {grid_size(grid):,} candidates, over "
        f"{max_candidates:,}: refine around fewer",
    )


def _top_candidates(run: RunSummary, trials: pd.DataFrame, top_k: int) -> pd.DataFrame:
    """The `top_k` best scored trials of a finished run, best (then earliest) first; for
    successive halving, of its last rung (earlier rungs scored on fewer samples)."""
    if not run.status.is_finished:
        raise InvalidInput("tuning_run_id", "the run is still going: refine it once it finishes")
    if top_k < 1:
        raise InvalidInput("top_k", "refine around at least one candidate")
    scored = trials[trials[SCORE].notna()]
    if "iter" in scored and scored["iter"].notna().any():
        scored = scored[scored["iter"] == scored["iter"].max()]
    if scored.empty:
        raise InvalidInput("tuning_run_id", "no candidate of this run scored: nothing to refine")
    return scored.sort_values([SCORE, "trial"], ascending=[False, True]).head(top_k)


def _known_values(entry: Any, tried: pd.Series) -> list[Any]:
    """What a parameter's grid entry offered: its list of values, or for a range
    (`{"low": .., "high": ..}`) its ends and the values the candidates drew from it."""
    if isinstance(entry, list | tuple):
        return list(entry)
    ends = [entry.get("low"), entry.get("high")] if isinstance(entry, dict) else []
    return [value for value in [*ends, *tried] if _is_number(value)]


def _is_log_range(entry: Any) -> bool:
    return isinstance(entry, dict) and entry.get("log") is True


def refined_values(
    spec: ParamSpec,
    grid_values: Sequence[Any],
    top_values: Sequence[Any],
    n_values: int,
    *,
    log: bool = False,
) -> list[Any]:
    """One parameter's refined values: the top candidates' named options (None, 'sqrt', True)
    in grid order, then their numbers and `n_values` finer ones between the numbers' neighbours
    in the grid (geometrically spaced when `log`), ascending."""
    options = [v for v in grid_values if not _is_number(v) and _occurs(v, top_values)]
    top_numbers = sorted({float(v): v for v in top_values if _is_number(v)}.items())
    if not top_numbers:
        return options
    grid_numbers = sorted(float(v) for v in grid_values if _is_number(v))
    low, high = top_numbers[0][0], top_numbers[-1][0]
    below = max((v for v in grid_numbers if v < low), default=low)
    above = min((v for v in grid_numbers if v > high), default=high)
    integer = spec.kind == "int"
    finer = _between(below, above, n_values, log=log, integer=integer)
    numbers_by_value = {value: kept for value, kept in top_numbers}
    for value in finer:
        numbers_by_value.setdefault(float(value), value)
    allowed = [v for _, v in sorted(numbers_by_value.items()) if spec.check(v) is None]
    return options + allowed


def _between(low: float, high: float, n_values: int, *, log: bool, integer: bool) -> list[Any]:
    """`n_values` values strictly between low and high: geometric when `log` (and low > 0,
    else even), whole numbers for an integer parameter (as many as fit), 3 significant digits
    otherwise."""
    if n_values < 1 or high <= low:
        return []
    if integer and high - low - 1 <= n_values:
        return list(range(math.floor(low) + 1, math.ceil(high)))
    points = (
        np.geomspace(low, high, n_values + 2)
        if log and low > 0
        else np.linspace(low, high, n_values + 2)
    )
    inner = points[1:-1]
    if integer:
        whole = dict.fromkeys(int(np.rint(point)) for point in inner)
        return [value for value in whole if low < value < high]
    rounded = dict.fromkeys(float(f"{point:.3g}") for point in inner)
    return [value for value in rounded if low < value < high]


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _occurs(value: Any, values: Sequence[Any]) -> bool:
    """`value` is among `values`, the same type too (True is not 1)."""
    return any(type(other) is type(value) and other == value for other in values)


# --- Runs that refine a run ---------------------------------------------------------------


def run_children(*, session: Session, run_id: str | uuid.UUID, viewer: User) -> list[RunSummary]:
    """The runs launched to refine this one, oldest first: the ones `viewer` may see."""
    key = parse_id(run_id, field="tuning_run_id")
    query = (
        select(col(TuningRun.id))
        .where(col(TuningRun.parent_id) == key)
        .order_by(col(TuningRun.created_at), col(TuningRun.id))
    )
    ids = session.execute(only_readable_runs(query, viewer)).scalars().all()
    return [get_run_summary(session=session, run_id=child, viewer=viewer) for child in ids]


def run_parent(*, session: Session, run: RunSummary, viewer: User) -> RunSummary | None:
    """The run that `run` refines, if it has one that `viewer` may still see."""
    if run.parent_id is None:
        return None
    try:
        return get_run_summary(session=session, run_id=run.parent_id, viewer=viewer)
    except (Forbidden, NotFound):
        return None
