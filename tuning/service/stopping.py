"""Early stopping: a run ends SUCCESS with its best so far, and says why.

`stop_after_no_improvement: K` ends a run once K candidates in a row, in order of completion,
did not beat the best score before them; `time_budget_s` ends it at the first candidate
boundary past its budget. Both are checked each time a task stores trials.
"""

import math

from sqlalchemy import select
from sqlmodel import Session, col

from tuning.domain import as_utc, utcnow
from tuning.models import Trial, TuningRun


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
