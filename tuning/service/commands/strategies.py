"""The searches beyond a grid: their spaces, halving's schedule, early stopping, at submit.

Every sampled search (random, Bayesian, halving over random candidates) gets its seed fixed at
submit, so that any worker on any host, and a second delivery, draws the same candidates and
the same subsamples. Halving's schedule (candidates and samples per rung) is resolved here as
scikit-learn resolves it and stored with the run, so its cost is known before launch.
"""

import secrets
from dataclasses import replace
from typing import Any

from tuning.config import Settings
from tuning.errors import InvalidInput, shown
from tuning.ml import catalog
from tuning.ml.halving import plan_halving, random_candidates
from tuning.ml.ranges import Range
from tuning.ml.search import SearchSpace, n_candidates
from tuning.schemas import HalvingOptions, TuningRunCreate


def search_space(run_in: TuningRunCreate, estimator: str, settings: Settings) -> SearchSpace:
    """The space to search, its ranges parsed; a seed fixed now for every sampled search, so
    that any worker, and a second delivery, draws the same candidates and subsamples."""
    space = catalog.search_space(estimator, run_in.param_grid)
    sampled = run_in.search in ("random", "bayes") or (
        run_in.search == "halving" and _halving_options(run_in).candidates == "random"
    )
    if not sampled:
        for param, values in space.items():
            if isinstance(values, Range):
                raise InvalidInput(
                    f"param_grid.{param}",
                    f"{shown(param)} is a range, and a grid takes lists of values only: give "
                    "a list, or sample the range with random, Bayesian or random-candidate "
                    "halving search",
                )
    needs_n_iter = run_in.search in ("random", "bayes")
    if needs_n_iter and (run_in.n_iter is None or run_in.n_iter < 1):
        raise InvalidInput(
            "n_iter", f"a {run_in.search} search needs n_iter, a number of candidates >= 1"
        )
    if run_in.n_iter is not None and run_in.n_iter > settings.max_candidates:
        raise InvalidInput(
            "n_iter", f"{run_in.n_iter:,} candidates; the limit is {settings.max_candidates:,}"
        )
    if run_in.search == "grid":
        return SearchSpace(space, random_state=run_in.random_state)
    seed = run_in.random_state if run_in.random_state is not None else secrets.randbelow(2**31)
    n_iter = run_in.n_iter if sampled else None
    return SearchSpace(space, search=run_in.search, n_iter=n_iter, random_state=seed)


def check_early_stopping(run_in: TuningRunCreate) -> None:
    if run_in.halving is not None and run_in.search != "halving":
        raise InvalidInput(
            "halving", f'halving options need search "halving", not {run_in.search!r}'
        )
    if run_in.stop_after_no_improvement is not None and run_in.search == "halving":
        raise InvalidInput(
            "stop_after_no_improvement",
            "halving's rungs score candidates on different numbers of samples, so their scores "
            "do not compare; use time_budget_s to bound a halving run",
        )


def _halving_options(run_in: TuningRunCreate) -> HalvingOptions:
    return run_in.halving or HalvingOptions()


def halving_schedule(
    run_in: TuningRunCreate, space: SearchSpace, *, n_rows: int, n_classes: int | None
) -> tuple[dict[str, Any], SearchSpace]:
    """The halving options resolved as scikit-learn resolves them, with the schedule; and the
    first rung's candidates as a grid or a sample (n_iter then fixed, "exhaust" resolved)."""
    options = _halving_options(run_in)
    min_resources = options.min_resources or (
        "exhaust" if options.candidates == "grid" else "smallest"
    )
    first = first_rung(space, options.candidates)
    if options.candidates == "random" and first.n_iter is None:  # n_candidates="exhaust"
        n_iter = random_candidates(
            n_samples=n_rows, n_splits=run_in.cv, n_classes=n_classes, min_resources=min_resources
        )
        first = replace(first, n_iter=n_iter)
    plan = plan_halving(
        n_candidates=n_candidates(first),
        n_samples=n_rows,
        n_splits=run_in.cv,
        n_classes=n_classes,
        factor=options.factor,
        min_resources=min_resources,
        aggressive_elimination=options.aggressive_elimination,
    )
    schedule = {
        "candidates": options.candidates,
        "factor": options.factor,
        "min_resources": min_resources,
        "aggressive_elimination": options.aggressive_elimination,
        "n_candidates": plan.n_candidates,
        "n_resources": plan.n_resources,
    }
    return schedule, first


def first_rung(space: SearchSpace, candidates: str) -> SearchSpace:
    """Halving's first rung: every grid combination, or a sample as RandomizedSearchCV's."""
    return replace(space, search="random" if candidates == "random" else "grid")
