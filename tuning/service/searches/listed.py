"""Searches whose candidates are listed before they are evaluated: grid, random and halving.

A chunk of such a search is a span of positions in the list, scikit-learn's order; a second
delivery skips the stored ones. Chunk 0 of a run not yet planned times its first candidates
for `PROBE_S`, then plans the rest as chunks of about `TASK_TARGET_S` (`plan_chunks`).
"""

import time
import uuid
from abc import abstractmethod
from typing import Any

from sqlalchemy import select
from sqlmodel import Session, col

from tuning.config import Settings
from tuning.ml.search import SearchSpace, iter_candidates
from tuning.models import Chunk, Trial, TuningRun
from tuning.service.execution.chunks import plan_chunks
from tuning.service.execution.preparation import Prepared
from tuning.service.execution.queue import TaskQueue
from tuning.service.searches.base import Candidate, Candidates, Strategy

# How long chunk 0 evaluates candidates to time them before it plans the rest.
PROBE_S = 0.5


class ListedSearch(Strategy):
    """A search whose candidates are listed before they are evaluated (grid, random, halving):
    a chunk is a span of positions, planned from chunk 0's timing."""

    @abstractmethod
    def listed_space(self, run: TuningRun, work: Prepared) -> SearchSpace:
        """The space whose candidates are listed: the run's (halving: its first rung's)."""

    def listed(self, run: TuningRun, work: Prepared) -> list[dict[str, Any]]:
        """The listed candidates in scikit-learn's order, listed once per worker process."""
        if "candidates" not in work.kept:
            work.kept["candidates"] = list(iter_candidates(self.listed_space(run, work)))
        listed: list[dict[str, Any]] = work.kept["candidates"]
        return listed

    def candidate(
        self, *, session: Session, run: TuningRun, work: Prepared, position: int
    ) -> Candidate:
        """Trial `position`'s candidate, on the run's splits."""
        return Candidate(position, self.listed(run, work)[position], work.splits)

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
        self.listed(run, work)
        return Span(
            self, session=session, queue=queue, settings=settings, run=run, chunk=chunk, work=work
        )


class Span:
    """A chunk's positions, start to stop, skipping the stored ones (a second delivery). Chunk 0
    of a run not yet planned times its first candidates for `PROBE_S`, then plans the rest as
    chunks of about `TASK_TARGET_S` and ends where it got."""

    def __init__(
        self,
        search: ListedSearch,
        *,
        session: Session,
        queue: TaskQueue,
        settings: Settings,
        run: TuningRun,
        chunk: Chunk,
        work: Prepared,
    ) -> None:
        self._search, self._session, self._queue = search, session, queue
        self._settings, self._run, self._chunk, self._work = settings, run, chunk, work
        self._stored = _stored(session, run.id, chunk.start, chunk.stop)
        self._positions = iter(range(chunk.start, chunk.stop))
        self._stop = chunk.stop
        self._probing = chunk.index == 0 and run.chunk_size is None
        self._position = chunk.start
        self._n_evaluated = 0
        self._began = time.monotonic()

    def next(self) -> Candidate | None:
        for position in self._positions:
            if position >= self._stop:
                return None
            if position in self._stored:
                continue
            self._position = position
            return self._search.candidate(
                session=self._session, run=self._run, work=self._work, position=position
            )
        return None

    def evaluated(self) -> None:
        self._n_evaluated += 1
        elapsed = time.monotonic() - self._began
        if self._probing and elapsed >= PROBE_S:
            self._stop = self._plan(self._position + 1, elapsed / self._n_evaluated)

    def yielded(self) -> bool:
        return False  # a span is about one turn long: planned so from measured times

    def end(self) -> None:
        if self._probing:  # the whole run fitted in the probe: nothing left to plan
            self._plan(self._chunk.stop, 0.0)

    def _plan(self, probed_to: int, per_candidate_s: float) -> int:
        self._probing = False
        return plan_chunks(
            session=self._session,
            queue=self._queue,
            settings=self._settings,
            run=self._run,
            probed_to=probed_to,
            per_candidate_s=per_candidate_s,
        )


def _stored(session: Session, run_id: uuid.UUID, start: int, stop: int) -> set[int]:
    rows = session.execute(
        select(col(Trial.index)).where(
            col(Trial.run_id) == run_id, col(Trial.index) >= start, col(Trial.index) < stop
        )
    )
    return set(rows.scalars())
