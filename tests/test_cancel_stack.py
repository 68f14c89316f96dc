"""A cancel racing a run's last candidates on a real worker, Redis and database (issue 18):
whatever the timing, a run whose candidates are all stored ends SUCCESS with scikit-learn's
best; a cancelled one reports the best of what it stored (scikit-learn's, over those) and how
many; and no chunk of either is left queued or running."""

import time

import pytest
from sklearn.model_selection import GridSearchCV
from sqlmodel import Session, col, select

from tuning.domain import RunStatus
from tuning.ml.datasets import load_bundled
from tuning.ml.search import default_pipeline, pipeline_params
from tuning.models import UNFINISHED_CHUNK, Chunk
from tuning.service import cancel_run

from helpers import (
    gridsearch_best,
    read_status,
    submit,
    trials_of,
    wait_until_finished,
    wait_until_released,
)
from stack import wait_until

pytestmark = [pytest.mark.database, pytest.mark.usefixtures("worker")]

# A tenth of a second or so a candidate: a run of six lasts about a second on two processes.
GRID = {"n_estimators": [20, 25, 30, 35, 40, 45]}
ESTIMATOR = "RandomForestClassifier"


def best_over(tried: list[dict]) -> tuple[dict, float]:
    """scikit-learn's best over just these candidates, in their order, on the run's folds."""
    table = load_bundled("iris")
    search = GridSearchCV(
        default_pipeline(ESTIMATOR, table),
        [pipeline_params({name: [value] for name, value in params.items()}) for params in tried],
        scoring="accuracy",
        cv=3,
    ).fit(table.X, table.y)
    best = {name.removeprefix("model__"): value for name, value in search.best_params_.items()}
    return best, search.best_score_


def unfinished_chunks(runtime, run_id) -> list[Chunk]:
    with Session(runtime.engine) as session:
        return list(
            session.exec(
                select(Chunk).where(
                    col(Chunk.run_id) == run_id, col(Chunk.state).in_(UNFINISHED_CHUNK)
                )
            ).all()
        )


def test_a_cancel_racing_the_last_candidates_always_settles(runtime, user):
    everything = gridsearch_best("iris", ESTIMATOR, GRID, "accuracy", 3)
    total = len(GRID["n_estimators"])
    outcomes = []
    # Cancel as the count reaches the last candidate, the one before, or just after it; and,
    # now and then, early (two processes may have the last two in flight at count 4).
    for attempt, at in enumerate([total - 1, total, 1, total - 2, total - 1, total, 2] * 2):
        run_id = submit(runtime, user, estimator=ESTIMATOR, param_grid=GRID)
        wait_until(lambda r=run_id, n=at: len(trials_of(runtime, r)) >= n, 60, 0.002)
        time.sleep(0.01 * (attempt % 3))  # a few ms later, now and then
        with Session(runtime.engine) as session:
            cancel_run(session=session, queue=runtime.queue, run_id=run_id)
        wait_until_finished(runtime, run_id)
        wait_until_released(runtime, run_id)  # candidates in flight at the cancel are stored

        status = read_status(runtime, run_id)
        tried = [trial.params for trial in trials_of(runtime, run_id)]
        outcomes.append((at, status.status.value, len(tried)))
        assert len(tried) == len({trial.index for trial in trials_of(runtime, run_id)})
        assert unfinished_chunks(runtime, run_id) == [], outcomes
        if len(tried) == total:
            assert status.status is RunStatus.SUCCESS, outcomes
            assert (status.result.best_params, status.result.best_score) == everything
        else:
            assert status.status is RunStatus.REVOKED, outcomes
            assert status.result is not None, f"REVOKED without a best: {outcomes}"
            assert status.result.combinations_tried == len(tried) == status.progress.current
            assert (status.result.best_params, status.result.best_score) == best_over(tried)
    # Both endings were seen: the race was really run.
    assert {"SUCCESS", "REVOKED"} <= {ending for _, ending, _ in outcomes}, outcomes
