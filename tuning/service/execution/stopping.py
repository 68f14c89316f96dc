"""Early stopping: a run ends SUCCESS with its best so far, and says why; or, when its first
candidates all fail with the same error, FAILURE without trying the rest.

`stop_after_no_improvement: K` ends a run once K candidates in a row, in order of completion,
did not beat the best score before them; `time_budget_s` ends it at the first candidate
boundary past its budget. Both are checked each time a task stores trials, and so is
`hopeless`, for every search.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import takewhile
from typing import Any

from sqlalchemy import select
from sqlmodel import Session, col

from tuning.domain import as_utc, utcnow
from tuning.models import Chunk, Trial, TuningRun
from tuning.service.analysis.failures import failure_key
from tuning.service.searches import strategy_for

# Stored trials, all failed with one error and none scored, that make a run hopeless.
HOPELESS_AFTER = 5
# Chunk 0, once done, decides sooner, if it holds at least this many candidates.
HOPELESS_CHUNK = 2

# A stored trial's mean test score (None when it failed) and error.
Outcome = tuple[float | None, str | None]


def stop_reason(*, session: Session, run: TuningRun) -> str | None:
    """Why the run should end now, or None while it should go on."""
    if run.time_budget_s is not None and run.started_at is not None:
        elapsed = (utcnow() - as_utc(run.started_at)).total_seconds()
        if elapsed >= run.time_budget_s:
            return f"the time budget of {run.time_budget_s:g} s was reached"
    patience = run.stop_after_no_improvement
    if patience is not None:
        scores = session.execute(
            select(col(Trial.mean_test_score))
            .where(col(Trial.run_id) == run.id)
            .order_by(col(Trial.finished_at), col(Trial.id))
        ).scalars()
        if candidates_since_best(list(scores)) >= patience:
            return f"no better score in the last {patience} candidates"
    return None


def candidates_since_best(scores: list[float | None]) -> int:
    """How many candidates, in order of completion, came after the last improvement (a failed
    candidate never improves); all of them while none has scored."""
    best, since = -math.inf, 0
    for score in scores:
        if score is not None and score > best:
            best, since = score, 0
        else:
            since += 1
    return since


@dataclass(frozen=True)
class Hopeless:
    """A run whose candidates so far all failed with one error: why it stops, in words."""

    error: str  # the first candidate's error, as raised: "ValueError: ..."
    n_tried: int
    n_candidates: int

    @property
    def reason(self) -> str:
        return f"the first {self.n_tried} candidates all failed with the same error"

    @property
    def message(self) -> str:
        n_left = self.n_candidates - self.n_tried
        return f"{self.reason}, so the other {n_left} were not tried: {self.error}"


def hopeless(
    outcomes: Sequence[Outcome],
    *,
    n_candidates: int,
    n_first_chunk: int = 0,
    tried: Sequence[dict[str, Any]] = (),
    param_grid: dict[str, Any] | None = None,
) -> Hopeless | None:
    """Whether a run should stop now because nothing it tried scored: its first candidates
    (`outcomes`, from index 0 on) all failed with one error, and some candidates are left.
    None while it should go on; never once a candidate has scored.

    One error is one group of Results' Failures: type and message with numbers and ids set
    aside (`failure_key`), so "n_neighbors = 500" and "n_neighbors = 501" are the same error.

    Enough evidence is whichever comes first: `HOPELESS_AFTER` trials, or chunk 0 once done
    (`n_first_chunk` candidates, every one of them among `outcomes`). A grid,
    random or halving run can decide only when a task ends its chunk, and its first chunk holds
    fewer than five candidates only when candidates are slow (chunk 0 probes for half a second,
    the others hold about `TASK_TARGET_S` of work): just where waiting for five costs the
    workers most. A chunk of one candidate is not enough, though: one failure is as often that
    candidate's own values as the run's, so such a run waits for five. Bayesian slots run to
    the end of the run and are no chunks of candidates: the count alone decides there.

    Nor does a run stop while one value may be to blame: when every candidate `tried` shares
    a value of a parameter that `param_grid` gives others of (a grid tries its first value of
    its first parameter with every other combination first), the other values may score.
    """
    n_tried = len(outcomes)
    if n_tried >= n_candidates or not failed_alike(outcomes):
        return None  # a run that tried every candidate ends as every run does
    if param_grid is not None and value_to_blame(tried, param_grid):
        return None
    if n_tried < HOPELESS_AFTER and n_first_chunk < HOPELESS_CHUNK:
        return None
    error = outcomes[0][1]
    assert error is not None, "failed alike: every one has an error"
    return Hopeless(error=error, n_tried=n_tried, n_candidates=n_candidates)


def value_to_blame(tried: Sequence[dict[str, Any]], param_grid: dict[str, Any]) -> bool:
    """Whether the candidates tried all share one value of a parameter the search has other
    values of (a list of several, or a range), so that value alone may be why they failed."""
    for name, values in param_grid.items():
        varies = isinstance(values, dict) or len(values) > 1
        if varies and tried and len({repr(params.get(name)) for params in tried}) == 1:
            return True
    return False


def failed_alike(outcomes: Sequence[Outcome]) -> bool:
    """Some trials, none scored, every one with the same error (numbers and ids aside)."""
    if not outcomes or any(score is not None for score, _ in outcomes):
        return False
    keys = {failure_key(error) if error is not None else None for _, error in outcomes}
    return len(keys) == 1 and None not in keys


def hopeless_run(*, session: Session, run: TuningRun) -> Hopeless | None:
    """`hopeless` over the run's first candidates: the stored trials from index 0 on, with no
    gap, and chunk 0 once done. By index, not by time of completion: chunks run side by side,
    and a later chunk's failures can be stored while an earlier candidate that scored is still
    waiting in its task's next write."""
    trials = (
        select(col(Trial.index), col(Trial.mean_test_score), col(Trial.error), col(Trial.params))
        .where(col(Trial.run_id) == run.id)
        .order_by(col(Trial.index))
    )
    # Most checks read a few rows: when the first ones did not all fail alike, the run is not
    # hopeless, now or later.
    head = [(score, error) for _, score, error, _ in session.execute(trials.limit(HOPELESS_AFTER))]
    if not failed_alike(head):
        session.commit()
        return None
    rows = session.execute(trials).all()
    first_chunk = session.execute(
        select(col(Chunk.start), col(Chunk.stop)).where(
            col(Chunk.run_id) == run.id, col(Chunk.index) == 0, col(Chunk.state) == "done"
        )
    ).first()
    session.commit()
    prefix = [row for _, row in takewhile(lambda item: item[1][0] == item[0], enumerate(rows))]
    n_first_chunk = 0
    slots = strategy_for(run.search).proposes  # a Bayesian run's tasks are no chunks
    if first_chunk is not None and not slots and len(prefix) >= first_chunk[1]:
        n_first_chunk = first_chunk[1] - first_chunk[0]
    return hopeless(
        [(score, error) for _, score, error, _ in prefix],
        n_candidates=run.total_combinations,
        n_first_chunk=n_first_chunk,
        tried=[params for *_, params in prefix],
        param_grid=run.param_grid,
    )
