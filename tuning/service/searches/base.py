"""A search strategy: what one kind of search decides, and nothing the searches share.

As scikit-learn's `BaseSearchCV.fit` owns the one loop that fits and scores and each search
only `_run_search`, the service's one loop (`execution/evaluate.py`) fits, stores, fans out and
reports progress for every search, and asks the run's `Strategy`: at submit, its space and
schedule (`space`, `resolve`, the checks of its options); while running, a chunk's candidates
with their splits (`candidates`), the progress message and what stored trials open next
(`after_stored`: halving's next rung); and the New run form and planning ask it for its words,
whether it samples, and its cost in fits on every row.

Every search that draws (candidates, or a halving rung's subsamples) gets its seed fixed at
submit, so that any worker on any host, and a second delivery, draws the same.
"""

import secrets
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

from sqlalchemy import Select
from sqlmodel import Session

from tuning.config import Settings
from tuning.errors import InvalidInput, shown
from tuning.ml import catalog
from tuning.ml.ranges import Range
from tuning.ml.search import SearchSpace, Splits, n_candidates
from tuning.models import Chunk, TuningRun
from tuning.schemas import HalvingOptions, SearchKind, TuningRunCreate, testing_message
from tuning.service.execution.preparation import Prepared
from tuning.service.execution.queue import TaskQueue


@dataclass(frozen=True)
class Resolved:
    """What a submission's search stores with the run, fixed at submit."""

    n_iter: int | None
    random_state: int | None
    total: int  # trials the run will store
    halving: dict[str, Any] | None = None  # successive halving's options and schedule


@dataclass(frozen=True)
class Candidate:
    """One trial to evaluate: its index in the run, parameters and CV splits, and for halving
    its rung and samples."""

    position: int
    params: dict[str, Any]
    splits: Splits
    rung: int | None = None
    n_resources: int | None = None


class Candidates(Protocol):
    """A chunk's candidates, one at a time, for the one loop."""

    def next(self) -> Candidate | None:
        """The next candidate to evaluate; None when the chunk is done. Asked only while the
        run is active, so a proposal is never made for a cancelled run."""
        ...

    def evaluated(self) -> None:
        """The candidate just returned was evaluated (its trial is pending or stored)."""
        ...

    def end(self) -> None:
        """The loop stopped: the chunk is done, or the run ended."""
        ...

    def yielded(self) -> bool:
        """The chunk gave up its worker process for fair turns with candidates left: it waits
        for its next turn (`tuning.service.execution.dispatch`) instead of ending."""
        ...


class Strategy(ABC):
    """One kind of search: grid, random, halving or Bayesian (see `tuning.service.searches`)."""

    kind: ClassVar[SearchKind]
    label: ClassVar[str]  # the New run form's name for it
    explained: ClassVar[str]  # one sentence under it
    needs_n_iter: ClassVar[bool] = False  # n_iter is required: how many candidates to draw
    fixes_seed: ClassVar[bool] = True  # a seed is drawn at submit when none is given
    has_rungs: ClassVar[bool] = False  # successive halving's rungs, and its options
    # Each candidate is proposed from the scores stored so far: its tasks are slots, not chunks
    # of listed candidates, and each trial is stored (and settled) at once for the next one.
    proposes: ClassVar[bool] = False
    # Why "stop after N candidates without improvement" does not apply; None when it does.
    patience_refused: ClassVar[str | None] = None

    # --- At submit ---------------------------------------------------------------------------

    def samples(self, options: HalvingOptions | None = None) -> bool:
        """Whether its candidates are drawn, so that a parameter may be a range; halving's
        depend on its options."""
        return self.needs_n_iter

    def check_size(self, run_in: TuningRunCreate, settings: Settings) -> None:
        """Refuse a submission too large, before its values are checked, where that can be
        counted so early (a grid)."""
        return None

    def space(self, run_in: TuningRunCreate, estimator: str, settings: Settings) -> SearchSpace:
        """The space to search, its ranges parsed; a seed fixed now for a search that draws."""
        param_grid = catalog.search_space(estimator, run_in.param_grid)
        sampled = self.samples(run_in.halving)
        if not sampled:
            for param, values in param_grid.items():
                if isinstance(values, Range):
                    raise InvalidInput(
                        f"param_grid.{param}",
                        f"{shown(param)} is a range, and a grid takes lists of values only: give "
                        "a list, or sample the range with random, Bayesian or random-candidate "
                        "halving search",
                    )
        if self.needs_n_iter and (run_in.n_iter is None or run_in.n_iter < 1):
            raise InvalidInput(
                "n_iter", f"a {self.kind} search needs n_iter, a number of candidates >= 1"
            )
        if run_in.n_iter is not None and run_in.n_iter > settings.max_candidates:
            raise InvalidInput(
                "n_iter", f"{run_in.n_iter:,} candidates; the limit is {settings.max_candidates:,}"
            )
        seed = run_in.random_state
        if seed is None and self.fixes_seed:
            seed = secrets.randbelow(2**31)
        n_iter = run_in.n_iter if sampled else None
        return SearchSpace(param_grid, sampled=sampled, n_iter=n_iter, random_state=seed)

    def resolve(
        self, run_in: TuningRunCreate, space: SearchSpace, *, n_rows: int, n_classes: int | None
    ) -> Resolved:
        """What the run stores: its candidates' count, n_iter and seed (and a schedule)."""
        return Resolved(
            n_iter=space.n_iter, random_state=space.random_state, total=n_candidates(space)
        )

    def check_options(self, run_in: TuningRunCreate) -> None:
        """Refuse options that do not apply to this search."""
        if run_in.halving is not None:
            raise InvalidInput(
                "halving", f'halving options need search "halving", not {run_in.search!r}'
            )
        self._check_patience(run_in)

    def _check_patience(self, run_in: TuningRunCreate) -> None:
        if run_in.stop_after_no_improvement is not None and self.patience_refused is not None:
            raise InvalidInput(
                "stop_after_no_improvement",
                f"{self.patience_refused}; use time_budget_s to bound a {self.kind} run",
            )

    def full_data_fits(self, run: TuningRun, *, n_rows: int | None) -> float:
        """The run's fits as fits on every row, for its expected duration."""
        return float(run.total_combinations * run.cv)

    @abstractmethod
    def words(self, *, n_iter: int | None, halving: dict[str, Any] | None) -> str:
        """A run's search in a few words, for the line under its title."""

    # --- While running -----------------------------------------------------------------------

    @abstractmethod
    def candidates(
        self,
        *,
        session: Session,
        queue: TaskQueue,
        settings: Settings,
        run: TuningRun,
        chunk: Chunk,
        work: Prepared,
    ) -> Candidates:
        """The chunk's candidates; chunk 0 of a run not yet planned plans the others."""

    def message(self, run: TuningRun, n_stored: int) -> str:
        """The progress message once `n_stored` trials are stored."""
        return testing_message(n_stored, run.total_combinations)

    def after_stored(
        self,
        *,
        session: Session,
        queue: TaskQueue,
        settings: Settings,
        run: TuningRun,
        n_stored: int,
    ) -> bool:
        """What stored trials open when the run neither ended nor stopped (halving's next rung);
        True if something was opened. Also the reconciler's, for a run whose chunks all ended."""
        return False

    def best_among(self, trials: Select[Any], run: TuningRun) -> Select[Any]:
        """The trials (a query over the run's) that the best is chosen from: every one."""
        return trials


def check_total(total: int, settings: Settings) -> None:
    """Refuse a search of more candidates than the service takes."""
    if total > settings.max_candidates:
        raise InvalidInput(
            "param_grid", f"{total:,} candidates; the limit is {settings.max_candidates:,}"
        )
