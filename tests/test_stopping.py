"""A hopeless run: the pure rule, in-process, and its ending over stored trials."""

from datetime import timedelta

import pytest
from sqlmodel import Session, select

from tuning.domain import RunStatus, utcnow
from tuning.models import Chunk, Trial, TuningRun
from tuning.service.execution.endings import fail_hopeless
from tuning.service.execution.stopping import HOPELESS_AFTER, hopeless, hopeless_run

from factories import make_run

TOO_MANY = "ValueError: Expected n_neighbors <= n_samples_fit, but n_neighbors = {}"


def failed(*numbers: int) -> list[tuple[float | None, str | None]]:
    return [(None, TOO_MANY.format(n)) for n in numbers]


def test_five_failures_with_the_same_error_make_a_run_hopeless():
    verdict = hopeless(failed(500, 501, 502, 503, 504), n_candidates=200)

    assert verdict is not None
    assert verdict.error == TOO_MANY.format(500)  # the first, as raised
    assert (verdict.n_tried, verdict.n_candidates) == (5, 200)
    assert verdict.message == (
        "the first 5 candidates all failed with the same error, so the other 195 were not "
        f"tried: {TOO_MANY.format(500)}"
    )


def test_different_errors_are_not_hopeless():
    outcomes = [*failed(500, 501, 502, 503), (None, "ValueError: metric l3 is unknown")]

    assert hopeless(outcomes, n_candidates=200) is None
    assert hopeless(outcomes, n_candidates=200, n_first_chunk=5) is None


def test_one_scored_candidate_among_them_is_never_hopeless():
    outcomes = [*failed(500, 501, 502), (0.93, None), *failed(503, 504, 505, 506)]

    assert hopeless(outcomes, n_candidates=200) is None
    assert hopeless(outcomes, n_candidates=200, n_first_chunk=8) is None


def test_a_failure_without_an_error_is_not_the_same_error():
    assert hopeless([*failed(500, 501, 502, 503), (None, None)], n_candidates=200) is None


def test_fewer_than_five_are_not_enough_unless_they_are_the_first_completed_chunk():
    four = failed(500, 501, 502, 503)

    assert hopeless([], n_candidates=200) is None
    assert hopeless(four, n_candidates=200) is None
    assert hopeless(four, n_candidates=200, n_first_chunk=1) is None  # one failure says little
    verdict = hopeless(four[:2], n_candidates=200, n_first_chunk=2)
    assert verdict is not None and verdict.n_tried == 2


def test_a_run_goes_on_while_one_value_may_be_to_blame():
    grid = {"kernel": ["poly", "rbf"], "C": [0.1, 1.0, 10.0]}
    poly = [{"kernel": "poly", "C": c} for c in (0.1, 1.0, 10.0, 0.1, 1.0)]
    outcomes = failed(1, 2, 3, 4, 5)

    # Grid order tried only 'poly' so far: 'rbf' may score.
    assert hopeless(outcomes, n_candidates=60, tried=poly, param_grid=grid) is None
    mixed = [*poly[:4], {"kernel": "rbf", "C": 0.1}]
    assert hopeless(outcomes, n_candidates=60, tried=mixed, param_grid=grid) is not None
    # A parameter with a single value, or a range tried at one value, counts as a grid says.
    assert hopeless(outcomes, n_candidates=60, tried=poly, param_grid={"kernel": ["poly"]})
    ranged = {"C": {"low": 0.1, "high": 10}}
    same_c = [{"C": 1.0}] * 5
    assert hopeless(outcomes, n_candidates=60, tried=same_c, param_grid=ranged) is None


def test_a_run_that_tried_every_candidate_ends_as_every_run_does():
    assert hopeless(failed(*range(500, 500 + HOPELESS_AFTER)), n_candidates=HOPELESS_AFTER) is None


# --- Over stored trials ----------------------------------------------------------------------


def store_failures(session: Session, run: TuningRun, indexes: range) -> None:
    start = utcnow()
    for index in indexes:
        trial = Trial(
            run_id=run.id,
            index=index,
            params={"n_neighbors": 500 + index},
            mean_test_score=None,
            std_test_score=None,
            split_scores=[None, None, None],
            mean_fit_time=0.001,
            mean_score_time=0.0,
            error=TOO_MANY.format(500 + index),
            worker="factory@test",
            finished_at=start + timedelta(seconds=index),
        )
        session.add(trial)
    session.commit()


@pytest.mark.database
def test_a_hopeless_run_fails_at_once_and_counts_the_candidates_in_flight_later(session, user):
    grid = {"n_neighbors": list(range(500, 700))}
    run = make_run(
        session,
        user,
        estimator="KNeighborsClassifier",
        param_grid=grid,
        status=RunStatus.PROGRESS,
        n_trials=0,
        chunk_size=20,
    )
    session.add(
        Chunk(
            run_id=run.id,
            index=0,
            start=0,
            stop=3,
            state="done",
            task_id=run.task_id,
            finished_at=utcnow(),
        )
    )
    store_failures(session, run, range(3))  # the first completed chunk: three alike

    assert fail_hopeless(session=session, run=run)

    session.refresh(run)
    assert run.status is RunStatus.FAILURE
    assert run.error_type == "ValueError"
    assert run.error_message == (
        "the first 3 candidates all failed with the same error, so the other 197 were not "
        "tried: ValueError: Expected n_neighbors <= n_samples_fit, but n_neighbors = 500"
    )
    assert run.stop_reason == "the first 3 candidates all failed with the same error"
    assert run.progress_current == 3 and run.finished_at is not None

    store_failures(session, run, range(3, 5))  # in flight at the stop, stored after it
    assert fail_hopeless(session=session, run=run)
    session.refresh(run)
    assert run.status is RunStatus.FAILURE and run.progress_current == 5
    assert run.error_message.startswith("the first 5 candidates all failed with the same error")
    assert "the other 195 were not tried" in run.error_message
    assert len(session.exec(select(Trial.id).where(Trial.run_id == run.id)).all()) == 5


@pytest.mark.database
def test_failures_stored_before_an_earlier_candidate_are_not_yet_hopeless(session, user):
    """Chunks run side by side: a later chunk's failures can be stored while candidate 0,
    which scored, still waits in its own task's next write."""
    run = make_run(
        session,
        user,
        estimator="KNeighborsClassifier",
        param_grid={"n_neighbors": [3, *range(500, 520)]},
        status=RunStatus.PROGRESS,
        n_trials=0,
    )
    store_failures(session, run, range(1, 12))  # candidates 1 to 11 failed alike

    assert hopeless_run(session=session, run=run) is None  # candidate 0 is not stored yet
    store_failures(session, run, range(0, 1))
    verdict = hopeless_run(session=session, run=run)
    assert verdict is not None and verdict.n_tried == 12  # from 0, with no gap, all alike
