"""Bayesian search (TPE) over the workers: each task a slot that proposes, evaluates, stores.

A Bayesian run's tasks are slots, one per worker process at launch (chunk 0 plans the others).
A slot asks TPE (tuning.ml.bayes) for the next candidate given every stored trial and every
proposal still in flight, stores the proposal (a unique index per run: two slots never take
the same one), evaluates it and stores its trial at once, so the next proposal sees it. A
redelivered slot first evaluates the proposals it made and did not store. A slot's task lasts
one turn (`TURNS_PER_SLOT_TASK` times `TASK_TARGET_S`), then the slot waits for its next turn
like any chunk, so that a long Bayesian run does not hold the workers from other runs.
"""

import time
from typing import Any

from sqlalchemy import func, select, update
from sqlmodel import Session, col

from tuning.config import Settings
from tuning.db import insert_new
from tuning.ml.bayes import Observed, propose
from tuning.ml.search import SearchSpace
from tuning.models import Chunk, Proposal, Trial, TuningRun
from tuning.schemas import TuningRunCreate
from tuning.service.execution.chunks import add_chunks, live_processes
from tuning.service.execution.preparation import Prepared
from tuning.service.execution.queue import TaskQueue
from tuning.service.searches.base import Candidate, Candidates, Resolved, Strategy

# A slot's task proposes for this many task targets: a few, as each turn reads the dataset again.
TURNS_PER_SLOT_TASK = 3


class BayesianSearch(Strategy):
    """Optuna's TPE sampler over the space: n_iter candidates, each proposed from the scores
    stored so far (and the proposals in flight)."""

    kind = "bayes"
    label = "Bayesian (TPE)"
    explained = (
        "Proposes each next candidate from the scores so far (Optuna's TPE sampler), "
        "so that later candidates gather where the scores are best."
    )
    needs_n_iter = True
    proposes = True

    def resolve(
        self, run_in: TuningRunCreate, space: SearchSpace, *, n_rows: int, n_classes: int | None
    ) -> Resolved:
        """n_iter candidates, whatever the size of the grid: TPE may propose one twice."""
        return Resolved(
            n_iter=space.n_iter, random_state=space.random_state, total=space.n_iter or 0
        )

    def words(self, *, n_iter: int | None, halving: dict[str, Any] | None) -> str:
        return f"Bayesian search (TPE) of {n_iter}"

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
        if chunk.index == 0 and run.chunk_size is None:
            plan_slots(session=session, queue=queue, settings=settings, run=run)
        turn_s = settings.task_target_s * TURNS_PER_SLOT_TASK
        return Proposals(session=session, run=run, slot=chunk.index, work=work, turn_s=turn_s)


class Proposals:
    """A slot's candidates: proposed one at a time until the run's are all proposed, or until
    the slot's turn is over; it then waits for its next turn, so other runs take theirs."""

    def __init__(
        self, *, session: Session, run: TuningRun, slot: int, work: Prepared, turn_s: float
    ) -> None:
        self._session, self._run, self._slot, self._work = session, run, slot, work
        self._until = time.monotonic() + turn_s
        self._yielded = False

    def next(self) -> Candidate | None:
        if time.monotonic() >= self._until:
            self._yielded = True
            return None
        proposal = next_proposal(
            session=self._session, run=self._run, slot=self._slot, work=self._work
        )
        if proposal is None:
            return None
        index, params = proposal
        return Candidate(index, params, self._work.splits)

    def evaluated(self) -> None:
        pass

    def yielded(self) -> bool:
        return self._yielded

    def end(self) -> None:
        pass


def plan_slots(*, session: Session, queue: TaskQueue, settings: Settings, run: TuningRun) -> None:
    """Chunk 0's first task: one more slot per live worker process, up to the candidates."""
    planned = session.execute(
        update(TuningRun)
        .where(col(TuningRun.id) == run.id, col(TuningRun.chunk_size).is_(None))
        .values(chunk_size=1)
    )
    session.commit()
    if planned.rowcount == 0:  # type: ignore[attr-defined]  # another delivery planned them
        return
    run.chunk_size = 1
    n_slots = max(
        1, min(live_processes(session=session, settings=settings), run.total_combinations)
    )
    spans = [(slot, 0, run.total_combinations) for slot in range(1, n_slots)]
    add_chunks(session=session, queue=queue, settings=settings, run_id=run.id, spans=spans)


def next_proposal(
    *, session: Session, run: TuningRun, slot: int, work: Prepared
) -> tuple[int, dict[str, Any]] | None:
    """The next candidate this slot evaluates (its index and parameters), or None when every
    candidate of the run has been proposed."""
    stored = select(col(Trial.index)).where(col(Trial.run_id) == run.id)
    own = session.execute(
        select(col(Proposal.index), col(Proposal.params))
        .where(
            col(Proposal.run_id) == run.id,
            col(Proposal.chunk) == slot,
            col(Proposal.index).not_in(stored),
        )
        .order_by(col(Proposal.index))
        .limit(1)
    ).first()
    if own is not None:  # proposed by an earlier delivery of this slot, never stored
        return int(own[0]), dict(own[1])
    while True:
        index = session.execute(
            select(func.count()).select_from(Proposal).where(col(Proposal.run_id) == run.id)
        ).scalar_one()
        if index >= run.total_combinations:
            session.commit()
            return None
        params = _ask(session, run, work, index)
        taken = session.execute(
            select(func.count())
            .select_from(Proposal)
            .where(col(Proposal.run_id) == run.id, col(Proposal.index) == index)
        ).scalar_one()
        if not taken:
            insert_new(
                session,
                Proposal,
                [{"run_id": run.id, "index": index, "chunk": slot, "params": params}],
            )
        session.commit()
        mine = session.execute(
            select(col(Proposal.chunk)).where(
                col(Proposal.run_id) == run.id, col(Proposal.index) == index
            )
        ).scalar_one()
        session.commit()
        if mine == slot:
            return index, params
        # Another slot took this index first: ask again with its proposal in flight.


def _ask(session: Session, run: TuningRun, work: Prepared, index: int) -> dict[str, Any]:
    trials = session.execute(
        select(col(Trial.index), col(Trial.params), col(Trial.mean_test_score))
        .where(col(Trial.run_id) == run.id)
        .order_by(col(Trial.index))
    ).all()
    done = {row[0] for row in trials}
    in_flight = session.execute(
        select(col(Proposal.index), col(Proposal.params))
        .where(col(Proposal.run_id) == run.id)
        .order_by(col(Proposal.index))
    ).all()
    assert run.random_state is not None, "a Bayesian run's seed is fixed at submit"
    return propose(
        work.param_grid,
        observed=[Observed(params=params, score=score) for _, params, score in trials],
        in_flight=[params for i, params in in_flight if i not in done],
        seed=run.random_state,
        index=index,
    )
