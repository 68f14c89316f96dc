"""A cancel that settles (issue 18), in process with a SQLite file of the test's own: a cancel
too late to stop anything leaves SUCCESS with the best; an earlier one leaves REVOKED with the
best of what was stored and a true count, also when candidates in flight are stored after it;
a finished run leaves no chunk waiting. tests/test_cancel_stack.py races real workers."""

import json

from sklearn.model_selection import ParameterGrid
from sqlmodel import col, select

from tuning.domain import RunStatus, utcnow
from tuning.models import Chunk, TuningRun
from tuning.service import cancel_run, get_status, reconcile
from tuning.service.execution.chunks import add_chunks
from tuning.service.execution.endings import after_stored

from factories import GRID, forest_score, make_run, make_trial
from fakes import InProcess

CANDIDATES = list(ParameterGrid(GRID))  # six; forest_score ranks index 1 first


def running_run(inproc: InProcess, n_trials: int) -> TuningRun:
    """A grid run of six candidates, running, with its first `n_trials` stored."""
    with inproc.session() as session:
        return make_run(
            session, inproc.user(), status=RunStatus.PROGRESS, n_trials=n_trials, chunk_size=2
        )


def cancelled(inproc: InProcess, run: TuningRun) -> TuningRun:
    with inproc.session() as session:
        cancel_run(session=session, queue=inproc.queue, run_id=run.id)
        return session.get(TuningRun, run.id)


def store_in_flight(inproc: InProcess, run: TuningRun, indexes: range) -> TuningRun:
    """Trials of candidates that were running at the cancel, stored as their task ends."""
    with inproc.session() as session:
        session.add_all(
            make_trial(run.id, i, CANDIDATES[i], forest_score(CANDIDATES[i]), 3, utcnow())
            for i in indexes
        )
        session.commit()
        after_stored(
            session=session,
            queue=inproc.queue,
            settings=inproc.settings,
            run=run,
            n_stored=indexes.stop,
        )
        return session.get(TuningRun, run.id)


def best_of(indexes: range) -> int:
    return max(indexes, key=lambda i: (forest_score(CANDIDATES[i]), -i))


def test_a_cancel_after_the_last_candidate_is_stored_leaves_success_with_the_best(inproc):
    run = cancelled(inproc, running_run(inproc, n_trials=6))

    assert run.status is RunStatus.SUCCESS
    assert run.best_trial_index == best_of(range(6)) == 1
    assert run.best_params == CANDIDATES[1]
    assert run.progress_current == 6
    assert run.progress_message == "Completed 6 parameter combinations"
    assert inproc.queue.revoked == []  # nothing to stop


def test_a_cancelled_run_reports_the_best_of_what_it_stored_and_how_many(inproc):
    run = cancelled(inproc, running_run(inproc, n_trials=3))

    assert run.status is RunStatus.REVOKED
    assert run.best_trial_index == best_of(range(3))
    assert run.best_score == forest_score(CANDIDATES[best_of(range(3))])
    assert run.progress_current == 3
    assert run.progress_message == "Cancelled after 3 of 6 parameter combinations"
    with inproc.session() as session:
        status = json.loads(
            get_status(session=session, queue=inproc.queue, run_id=run.id).to_json()
        )
    assert status["status"] == "REVOKED"
    assert status["result"]["best_params"] == CANDIDATES[best_of(range(3))]
    assert status["result"]["combinations_tried"] == 3
    assert status["result"]["total_combinations"] == 6
    assert status["progress"]["current"] == 3


def test_a_success_status_keeps_the_specs_four_result_fields(inproc):
    run = cancelled(inproc, running_run(inproc, n_trials=6))
    with inproc.session() as session:
        status = json.loads(
            get_status(session=session, queue=inproc.queue, run_id=run.id).to_json()
        )
    assert set(status["result"]) == {
        "best_params",
        "best_score",
        "total_combinations",
        "tuning_time",
    }


def test_candidates_in_flight_at_a_cancel_count_in_what_it_left(inproc):
    run = running_run(inproc, n_trials=0)
    assert cancelled(inproc, run).status is RunStatus.REVOKED
    # Nothing scored at the cancel: a count, no best.
    assert cancelled(inproc, run).progress_current == 0

    later = store_in_flight(inproc, run, range(0, 2))  # candidate 1, the best, among them

    assert later.status is RunStatus.REVOKED
    assert later.progress_current == 2
    assert later.best_trial_index == 1
    assert later.progress_message == "Cancelled after 2 of 6 parameter combinations"


def test_a_settle_never_takes_the_count_back(inproc):
    run = running_run(inproc, n_trials=4)
    cancelled(inproc, run)
    with inproc.session() as session:  # a slower task that counted fewer writes last
        session.get(TuningRun, run.id).progress_current = 5
        session.commit()
        after_stored(
            session=session, queue=inproc.queue, settings=inproc.settings, run=run, n_stored=4
        )
        assert session.get(TuningRun, run.id).progress_current == 5


def test_the_in_flight_trials_that_complete_the_run_leave_it_success(inproc):
    run = running_run(inproc, n_trials=4)
    assert cancelled(inproc, run).status is RunStatus.REVOKED

    ended = store_in_flight(inproc, run, range(4, 6))

    assert ended.status is RunStatus.SUCCESS
    assert ended.best_trial_index == 1 and ended.progress_current == 6


def unfinished_chunks(inproc: InProcess, run_id) -> list[Chunk]:
    with inproc.session() as session:
        return list(
            session.exec(
                select(Chunk).where(col(Chunk.run_id) == run_id, col(Chunk.state) != "done")
            ).all()
        )


def test_chunks_planned_as_the_run_is_cancelled_are_ended_with_it(inproc):
    run = inproc.submit(dataset="iris", estimator="SVC", param_grid={"C": [0.1, 1, 10, 100]})
    with inproc.session() as session:
        cancel_run(session=session, queue=inproc.queue, run_id=run.id)
        # Chunk 0's task had timed its first candidates and plans the rest after the cancel.
        add_chunks(
            session=session,
            queue=inproc.queue,
            settings=inproc.settings,
            run_id=run.id,
            spans=[(1, 1, 2), (2, 2, 4)],
        )
    assert unfinished_chunks(inproc, run.id) == []
    assert inproc.queue.sent(run.id) == [0]  # none of them was sent


def test_the_reconciler_ends_chunks_a_finished_run_left_waiting(inproc):
    run = running_run(inproc, n_trials=3)
    with inproc.session() as session:  # as an older version left a cancelled run's chunks
        session.get(TuningRun, run.id).status = RunStatus.REVOKED
        session.add_all(
            Chunk(run_id=run.id, index=i, start=i, stop=i + 1, state=state, task_id=f"t{i}")
            for i, state in enumerate(["queued", "running", "done"])
        )
        session.commit()
    live = running_run(inproc, n_trials=1)
    with inproc.session() as session:
        session.add(Chunk(run_id=live.id, index=0, start=0, stop=6, state="queued", task_id="l"))
        session.commit()
        done = reconcile(session=session, queue=inproc.queue, settings=inproc.settings)

    assert done.swept == 2
    assert unfinished_chunks(inproc, run.id) == []
    assert len(unfinished_chunks(inproc, live.id)) == 1  # an active run's are left alone
