"""Successive halving: many candidates on a few samples, the best 1/factor on ever more.

Its schedule (candidates and samples per rung) is resolved at submit as scikit-learn resolves
it (`tuning.ml.halving.plan_halving`) and stored with the run, so its cost is known before
launch. Its first rung's candidates are listed like a grid's or a random search's; each later
rung's are the survivors of the one before (`rungs.py`), on subsampled splits.
"""

from dataclasses import replace
from typing import Any

from sqlalchemy import Select, func, select
from sqlmodel import Session, col

from tuning.config import Settings
from tuning.ml.halving import plan_halving, random_candidates
from tuning.ml.search import SearchSpace, n_candidates
from tuning.models import Trial, TuningRun
from tuning.schemas import HalvingOptions, TuningRunCreate, testing_message
from tuning.service.execution.preparation import Prepared
from tuning.service.execution.queue import TaskQueue
from tuning.service.searches.base import Candidate, Resolved
from tuning.service.searches.listed import ListedSearch
from tuning.service.searches.rungs import halving_plan, open_next_rung, rung_candidates, splits_for


class HalvingSearch(ListedSearch):
    """As HalvingGridSearchCV and HalvingRandomSearchCV (resource="n_samples")."""

    kind = "halving"
    label = "Successive halving"
    explained = (
        "Scores many candidates on a few samples, then keeps the best third (1/factor) "
        "on ever more samples, as HalvingGridSearchCV and HalvingRandomSearchCV do."
    )
    has_rungs = True
    patience_refused = (
        "halving's rungs score candidates on different numbers of samples, so their scores "
        "do not compare"
    )

    # --- At submit ---------------------------------------------------------------------------

    def samples(self, options: HalvingOptions | None = None) -> bool:
        return (options or HalvingOptions()).candidates == "random"

    def resolve(
        self, run_in: TuningRunCreate, space: SearchSpace, *, n_rows: int, n_classes: int | None
    ) -> Resolved:
        schedule, first = halving_schedule(run_in, space, n_rows=n_rows, n_classes=n_classes)
        return Resolved(
            n_iter=first.n_iter,
            random_state=space.random_state,
            total=sum(schedule["n_candidates"]),
            halving=schedule,
        )

    def check_options(self, run_in: TuningRunCreate) -> None:
        self._check_patience(run_in)

    def full_data_fits(self, run: TuningRun, *, n_rows: int | None) -> float:
        """A rung on a third of the rows counts a third (fit times grow at least in proportion
        to the rows)."""
        assert run.halving is not None, "a halving run's schedule is stored at submit"
        rows = max(n_rows if n_rows is not None else run.halving["n_resources"][-1], 1)
        rungs = zip(run.halving["n_candidates"], run.halving["n_resources"], strict=True)
        return sum(count * samples / rows for count, samples in rungs) * run.cv

    def words(self, *, n_iter: int | None, halving: dict[str, Any] | None) -> str:
        if halving is None:
            return "successive halving"
        source = "a random sample" if halving["candidates"] == "random" else "the grid"
        return (
            f"successive halving over {source}, factor {halving['factor']:g}, "
            f"{len(halving['n_candidates'])} rungs"
        )

    # --- While running -----------------------------------------------------------------------

    def listed_space(self, run: TuningRun, work: Prepared) -> SearchSpace:
        """The first rung's: every grid combination, or a sample as RandomizedSearchCV's."""
        assert run.halving is not None, "a halving run's schedule is stored at submit"
        sampled = run.halving["candidates"] == "random"
        return SearchSpace(
            work.param_grid, sampled=sampled, n_iter=run.n_iter, random_state=run.random_state
        )

    def candidate(
        self, *, session: Session, run: TuningRun, work: Prepared, position: int
    ) -> Candidate:
        plan = halving_plan(run)
        rung = plan.rung_of(position)
        if rung == 0:
            candidates = self.listed(run, work)
        else:
            candidates = rung_candidates(session=session, run=run, work=work, plan=plan, rung=rung)
        return Candidate(
            position,
            candidates[position - plan.rung_start(rung)],
            splits_for(run=run, work=work, plan=plan, rung=rung),
            rung=rung,
            n_resources=plan.n_resources[rung],
        )

    def message(self, run: TuningRun, n_stored: int) -> str:
        plan = halving_plan(run)
        rung = plan.rung_of(min(n_stored, plan.total - 1))
        return testing_message(n_stored, run.total_combinations, (rung, plan.n_rungs))

    def after_stored(
        self,
        *,
        session: Session,
        queue: TaskQueue,
        settings: Settings,
        run: TuningRun,
        n_stored: int,
    ) -> bool:
        """Open the next rung once every trial of the current one is stored."""
        return open_next_rung(
            session=session, queue=queue, settings=settings, run=run, n_stored=n_stored
        )

    def best_among(self, trials: Select[Any], run: TuningRun) -> Select[Any]:
        """The last rung's (of the last rung reached, when stopped early)."""
        last_rung = (
            select(func.max(col(Trial.rung))).where(col(Trial.run_id) == run.id).scalar_subquery()
        )
        return trials.where(col(Trial.rung) == last_rung)


def halving_schedule(
    run_in: TuningRunCreate, space: SearchSpace, *, n_rows: int, n_classes: int | None
) -> tuple[dict[str, Any], SearchSpace]:
    """The halving options resolved as scikit-learn resolves them, with the schedule; and the
    first rung's candidates as a grid or a sample (n_iter then fixed, "exhaust" resolved)."""
    options = run_in.halving or HalvingOptions()
    min_resources = options.min_resources or (
        "exhaust" if options.candidates == "grid" else "smallest"
    )
    first = space
    if first.sampled and first.n_iter is None:  # n_candidates="exhaust"
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
