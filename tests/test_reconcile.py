"""The reconciler and a run's endings in process, with a RecordingQueue and a SQLite file of the
test's own: the outbox, lost chunks, runs left unfinished or overdue, early stops. The `stack`
tier proves the same with real workers killed mid-run (tests/test_fanout.py) and real stops
(tests/test_searches.py)."""

from datetime import timedelta

from sqlmodel import col, select

from tuning.domain import RunStatus, utcnow
from tuning.models import Chunk, TuningRun
from tuning.service import beat, reconcile
from tuning.service.execution.chunks import claim_chunk
from tuning.service.execution.endings import after_stored
from tuning.service.operations.reconcile import OUTBOX_GRACE_S, Reconciled

from factories import make_run
from fakes import InProcess


def submitted(inproc: InProcess) -> TuningRun:
    return inproc.submit(dataset="iris", estimator="SVC", param_grid={"C": [0.1, 1, 10]})


def reconciled(inproc: InProcess, **settings) -> Reconciled:
    with inproc.session() as session:
        return reconcile(
            session=session,
            queue=inproc.queue,
            settings=inproc.settings.model_copy(update=settings),
        )


def stored_run(inproc: InProcess, run_id) -> TuningRun:
    with inproc.session() as session:
        return session.get(TuningRun, run_id)


def chunk_0(inproc: InProcess, run_id) -> Chunk:
    with inproc.session() as session:
        return session.exec(
            select(Chunk).where(col(Chunk.run_id) == run_id, col(Chunk.index) == 0)
        ).one()


def test_a_run_the_broker_refused_waits_in_the_outbox_then_goes_once_it_answers(inproc):
    inproc.queue.refuse_from = 0
    run = submitted(inproc)
    assert stored_run(inproc, run.id).sent_at is None
    assert reconciled(inproc).sent == 0  # within its grace: its API process may still send it
    with inproc.session() as session:
        session.get(TuningRun, run.id).created_at = utcnow() - timedelta(seconds=OUTBOX_GRACE_S + 1)
        session.commit()
    assert reconciled(inproc).sent == 0  # the broker still refuses: next pass
    inproc.queue.refuse_from = None
    assert reconciled(inproc).sent == 1
    assert stored_run(inproc, run.id).sent_at is not None
    assert chunk_0(inproc, run.id).sent_at is not None
    assert inproc.queue.sent(run.id) == [0]
    assert reconciled(inproc) == Reconciled()  # sent once, not again


def test_a_chunk_on_a_silent_worker_is_queued_again_under_a_new_task_id(inproc):
    run = submitted(inproc)
    with inproc.session() as session:
        beat(session=session, hostname="w1@test", pid=1, concurrency=2, started_at=utcnow())
        claim_chunk(session=session, run_id=run.id, index=0, worker="w1@test")
    taken = chunk_0(inproc, run.id)
    assert reconciled(inproc).requeued == 0  # its worker is alive: left alone
    assert reconciled(inproc, worker_timeout_s=0.0).requeued == 1  # now it went silent
    again = chunk_0(inproc, run.id)
    assert (again.state, again.worker) == ("queued", None)
    assert again.task_id != taken.task_id and again.sent_at is not None
    assert [s.task_id for s in inproc.queue.chunks] == [run.task_id, again.task_id]


def test_a_chunk_taken_before_its_worker_restarted_is_queued_again(inproc):
    run = submitted(inproc)
    with inproc.session() as session:
        beat(session=session, hostname="w1@test", pid=1, concurrency=2, started_at=utcnow())
        claim_chunk(session=session, run_id=run.id, index=0, worker="w1@test")
        # The same name, a new process: what the old one held is lost.
        restarted = utcnow() + timedelta(seconds=1)
        beat(session=session, hostname="w1@test", pid=2, concurrency=2, started_at=restarted)
    assert reconciled(inproc).requeued == 1
    assert chunk_0(inproc, run.id).state == "queued"


def test_a_run_with_every_candidate_stored_but_not_ended_is_ended_with_sklearns_best(inproc):
    owner = inproc.user()
    with inproc.session() as session:
        run = make_run(session, owner, status=RunStatus.PROGRESS, chunk_size=2)
    assert run.best_trial_index is None
    assert reconciled(inproc).finished == 1
    ended = stored_run(inproc, run.id)
    assert ended.status is RunStatus.SUCCESS
    assert ended.best_params == {"max_depth": None, "n_estimators": 100}
    assert ended.best_trial_index == 1
    assert reconciled(inproc).finished == 0


def test_a_run_past_the_time_limit_fails(inproc):
    owner = inproc.user()
    with inproc.session() as session:
        long_ago = utcnow() - timedelta(minutes=5)
        run = make_run(session, owner, status=RunStatus.PROGRESS, n_trials=2, created_at=long_ago)
        recent = make_run(session, owner, status=RunStatus.PROGRESS, n_trials=2)
    assert reconciled(inproc, run_time_limit_s=60).timed_out == 1
    failed = stored_run(inproc, run.id)
    assert (failed.status, failed.error_type) == (RunStatus.FAILURE, "TimeLimitExceeded")
    assert stored_run(inproc, recent.id).status is RunStatus.PROGRESS


def ended_after(inproc: InProcess, n_trials: int, **fields) -> TuningRun:
    """A grid run of six candidates with its first `n_trials` stored, after the task that stored
    the last of them asked what they settle."""
    owner = inproc.user()
    with inproc.session() as session:
        run = make_run(session, owner, status=RunStatus.PROGRESS, n_trials=n_trials, **fields)
        after_stored(
            session=session,
            queue=inproc.queue,
            settings=inproc.settings,
            run=run,
            n_stored=n_trials,
        )
    return stored_run(inproc, run.id)


def test_the_task_that_stores_the_last_candidate_ends_the_run_with_the_best(inproc):
    run = ended_after(inproc, 6)
    assert (run.status, run.best_trial_index, run.stop_reason) == (RunStatus.SUCCESS, 1, None)
    assert run.progress_message == "Completed 6 parameter combinations"


def test_no_improvement_in_the_last_k_candidates_stops_the_run_with_its_best_so_far(inproc):
    # Scores in order of completion: 0.72, 0.82 (the best), 0.70, 0.80: two since the best.
    run = ended_after(inproc, 4, stop_after_no_improvement=2)
    assert run.status is RunStatus.SUCCESS and run.best_trial_index == 1
    assert run.stop_reason == "no better score in the last 2 candidates"
    assert run.progress_message.startswith("Stopped after 4 of 6 parameter combinations")
    assert ended_after(inproc, 4, stop_after_no_improvement=3).status is RunStatus.PROGRESS


def test_a_spent_time_budget_stops_the_run_with_its_best_so_far(inproc):
    started_long_ago = utcnow() - timedelta(seconds=30)
    run = ended_after(inproc, 3, time_budget_s=10.0, created_at=started_long_ago)
    assert run.status is RunStatus.SUCCESS and run.best_trial_index == 1
    assert run.stop_reason == "the time budget of 10 s was reached"
    assert ended_after(inproc, 3, time_budget_s=3600.0).status is RunStatus.PROGRESS
