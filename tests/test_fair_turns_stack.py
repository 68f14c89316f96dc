"""Fair turns on a real worker: a colleague's small run does not wait behind a big run's
backlog, and the big run's status shows it still going. Timings are `make bench-fair`'s; this
proves the order."""

import uuid

import numpy as np
from sqlmodel import Session

from tuning.domain import RunStatus
from tuning.models import TuningRun
from tuning.service import cancel_run, create_user

from helpers import read_status, submit, wait_until_finished
from stack import wait_until

# About 15 ms a candidate: a run of minutes on the test worker's two processes.
BIG = {
    "dataset": "diabetes",
    "estimator": "Ridge",
    "scoring": "r2",
    "param_grid": {"alpha": [float(a) for a in np.logspace(-4, 3, 8000)]},
}
SMALL = {"estimator": "DecisionTreeClassifier", "param_grid": {"max_depth": [1, 2, 3, 4]}}


def test_a_small_run_ends_while_another_users_big_run_is_still_going(runtime, worker, session):
    big_owner, _ = create_user(session=session, name=f"big-{uuid.uuid4().hex[:8]}")
    small_owner, _ = create_user(session=session, name=f"small-{uuid.uuid4().hex[:8]}")
    big = submit(runtime, big_owner, **BIG)

    def planned() -> bool:
        with Session(runtime.engine) as fresh:
            return fresh.get(TuningRun, big).chunk_size is not None

    wait_until(planned, 60, 0.1, "the big run never planned its chunks")
    small = submit(runtime, small_owner, **SMALL)
    assert wait_until_finished(runtime, small, timeout=120).status is RunStatus.SUCCESS
    going = read_status(runtime, big)
    try:
        assert going.status is RunStatus.PROGRESS
        assert going.progress is not None and going.progress.current < going.progress.total / 2
    finally:
        cancel_run(session=session, queue=runtime.queue, run_id=big, viewer=big_owner)
    assert wait_until_finished(runtime, big).status is RunStatus.REVOKED
