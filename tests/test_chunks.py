"""A run's chunks in process: sizing, planning, sending, claiming, and a whole run through the
task function, with a RecordingQueue and a SQLite file of the test's own (no worker, no
broker). tests/test_fanout.py proves the same on real workers, killed and restarted."""

import uuid
from datetime import timedelta

from sqlmodel import col, select

from tuning.domain import RunStatus, utcnow
from tuning.models import Chunk, Trial, TuningRun, WorkerHeartbeat
from tuning.service import beat, reconcile
from tuning.service.execution.chunks import (
    MAX_CHUNK,
    TASKS_PER_PROCESS,
    chunk_size,
    claim_chunk,
    live_processes,
    plan_chunks,
)

from fakes import InProcess
from helpers import gridsearch_best

ALPHAS = [0.001 * 2**i for i in range(30)]  # 30 candidates of Ridge on diabetes


def submitted(inproc: InProcess, **fields) -> TuningRun:
    """Ridge on diabetes over 30 values of alpha, unless `fields` say otherwise."""
    fields = {"dataset": "diabetes", "estimator": "Ridge", "scoring": "r2", "cv": 3, **fields}
    return inproc.submit(**{"param_grid": {"alpha": ALPHAS}, **fields})


def chunks_of(inproc: InProcess, run_id: uuid.UUID) -> list[Chunk]:
    with inproc.session() as session:
        return list(
            session.exec(select(Chunk).where(Chunk.run_id == run_id).order_by(col(Chunk.index)))
        )


def planned(inproc: InProcess, run: TuningRun, *, probed_to: int = 1) -> int:
    """Chunk 0 timed `probed_to` candidates at 10 ms each and planned the rest as chunks;
    where chunk 0 now ends."""
    with inproc.session() as session:
        return plan_chunks(
            session=session,
            queue=inproc.queue,
            settings=inproc.settings,
            run=session.get(TuningRun, run.id),
            probed_to=probed_to,
            per_candidate_s=0.01,
        )


def a_worker(inproc: InProcess, hostname: str = "w1@test", concurrency: int = 2) -> None:
    with inproc.session() as session:
        beat(
            session=session,
            hostname=hostname,
            pid=1,
            concurrency=concurrency,
            started_at=utcnow(),
        )


def test_a_chunk_holds_about_the_target_time_of_work():
    assert chunk_size(per_candidate_s=0.1, n_remaining=1000, n_processes=2, target_s=2.0) == 20
    # Slower than the target: one candidate per task, never none.
    assert chunk_size(per_candidate_s=10.0, n_remaining=1000, n_processes=2, target_s=2.0) == 1


def test_fast_candidates_still_make_several_tasks_per_process():
    n_tasks = TASKS_PER_PROCESS * 2
    size = chunk_size(per_candidate_s=0.001, n_remaining=100, n_processes=2, target_s=2.0)
    assert size == -(-100 // n_tasks)  # 13: eight tasks of at most 13 over two processes
    # No live process counts as one; an untimed candidate (0 s) leans on the spread alone.
    assert chunk_size(per_candidate_s=0.001, n_remaining=100, n_processes=0, target_s=2.0) == 25
    assert chunk_size(per_candidate_s=0.0, n_remaining=40, n_processes=1, target_s=2.0) == 10
    big = chunk_size(per_candidate_s=1e-6, n_remaining=10**8, n_processes=1, target_s=2.0)
    assert big == MAX_CHUNK


def test_live_processes_count_only_workers_heard_from_within_the_timeout(inproc):
    a_worker(inproc, "w1@test", concurrency=2)
    a_worker(inproc, "w2@test", concurrency=3)
    with inproc.session() as session:
        assert live_processes(session=session, settings=inproc.settings) == 5
        silent = utcnow() - timedelta(seconds=inproc.settings.worker_timeout_s + 1)
        session.get(WorkerHeartbeat, "w2@test").last_seen = silent
        session.commit()
        assert live_processes(session=session, settings=inproc.settings) == 2


def test_a_submitted_run_has_one_chunk_of_every_candidate_sent_with_the_runs_task_id(inproc):
    run = submitted(inproc)
    [chunk] = chunks_of(inproc, run.id)
    assert (chunk.index, chunk.start, chunk.stop) == (0, 0, len(ALPHAS))
    assert chunk.task_id == run.task_id and chunk.sent_at is not None
    assert [(s.run_id, s.index, s.task_id) for s in inproc.queue.chunks] == [
        (run.id, 0, run.task_id)
    ]


def test_planning_cuts_chunk_0_where_it_got_and_sends_what_fair_turns_allow_in_order(inproc):
    run = submitted(inproc)
    a_worker(inproc, concurrency=2)
    assert planned(inproc, run, probed_to=4) == 4
    chunks = chunks_of(inproc, run.id)
    size = -(-(len(ALPHAS) - 4) // (TASKS_PER_PROCESS * 2))  # 26 left over 8 tasks: 4
    assert [(c.start, c.stop) for c in chunks] == [
        (0, 4),
        *((start, min(start + size, len(ALPHAS))) for start in range(4, len(ALPHAS), size)),
    ]
    # Two live processes and one chunk of headroom: chunk 0 and the next two are out; the rest
    # wait in the database for a process to end one (tuning.service.execution.dispatch).
    assert all(c.state == "queued" for c in chunks)
    assert [c.sent_at is not None for c in chunks] == [True] * 3 + [False] * (len(chunks) - 3)
    assert inproc.queue.sent(run.id) == [0, 1, 2]
    assert [s.task_id for s in inproc.queue.chunks] == [c.task_id for c in chunks[:3]]
    assert len({c.task_id for c in chunks}) == len(chunks)
    with inproc.session() as session:
        assert session.get(TuningRun, run.id).chunk_size == size


def test_a_second_delivery_of_chunk_0_plans_nothing_and_stops_where_the_first_planned(inproc):
    run = submitted(inproc)
    with inproc.session() as first, inproc.session() as second:
        # Both deliveries read the run unplanned; the first plans, then the second tries.
        runs = [first.get(TuningRun, run.id), second.get(TuningRun, run.id)]
        queue, settings = inproc.queue, inproc.settings
        assert runs[1].chunk_size is None
        stop = plan_chunks(
            session=first,
            queue=queue,
            settings=settings,
            run=runs[0],
            probed_to=6,
            per_candidate_s=0.05,
        )
        assert stop == 6
        n_chunks, n_sent = len(chunks_of(inproc, run.id)), len(queue.chunks)
        stop = plan_chunks(
            session=second,
            queue=queue,
            settings=settings,
            run=runs[1],
            probed_to=2,
            per_candidate_s=0.5,
        )
        assert stop == 6
    assert (len(chunks_of(inproc, run.id)), len(queue.chunks)) == (n_chunks, n_sent)


def test_chunks_the_broker_refuses_are_stored_unsent_for_the_reconciler(inproc):
    run = submitted(inproc)
    a_worker(inproc, concurrency=4)  # room for five chunks out
    inproc.queue.refuse_from = 3  # chunk 0 and two more go, then the broker stops answering
    planned(inproc, run, probed_to=2)
    chunks = chunks_of(inproc, run.id)
    assert [c.sent_at is not None for c in chunks] == [True, True, True] + [False] * (
        len(chunks) - 3
    )
    inproc.queue.refuse_from = None
    with inproc.session() as session:
        done = reconcile(session=session, queue=inproc.queue, settings=inproc.settings)
    assert (done.requeued, done.dispatched) == (0, 2)
    sent = [c.sent_at is not None for c in chunks_of(inproc, run.id)]
    assert sent == [True] * 5 + [False] * (len(chunks) - 5)
    assert inproc.queue.sent(run.id) == [0, 1, 2, 3, 4]


def test_claiming_a_chunk_marks_it_running_and_counts_each_delivery(inproc):
    inproc.queue.refuse_from = 0  # the send of chunk 0 never heard back
    run = submitted(inproc)
    with inproc.session() as session:
        assert session.get(TuningRun, run.id).sent_at is None
        chunk = claim_chunk(session=session, run_id=run.id, index=0, worker="w1@test")
        assert chunk is not None and (chunk.state, chunk.worker, chunk.attempts) == (
            "running",
            "w1@test",
            1,
        )
        # It arrived, so it was sent: the outbox must not send it again.
        assert chunk.sent_at is not None and session.get(TuningRun, run.id).sent_at is not None
        again = claim_chunk(session=session, run_id=run.id, index=0, worker="w2@test")
        assert again is not None and (again.worker, again.attempts) == ("w2@test", 2)
        again.state = "done"
        session.add(again)
        session.commit()
        assert claim_chunk(session=session, run_id=run.id, index=0, worker="w1@test") is None
        assert claim_chunk(session=session, run_id=run.id, index=9, worker="w1@test") is None


def test_a_whole_run_in_process_through_the_task_function_equals_gridsearchcv(inproc):
    run = submitted(inproc, param_grid={"alpha": ALPHAS[::10]})
    assert inproc.run_sent() >= 1
    with inproc.session() as session:
        done = session.get(TuningRun, run.id)
        n_trials = len(session.exec(select(Trial).where(Trial.run_id == run.id)).all())
    assert done.status is RunStatus.SUCCESS
    assert n_trials == done.total_combinations == len(ALPHAS[::10])
    assert all(c.state == "done" for c in chunks_of(inproc, run.id))
    best, score = gridsearch_best("diabetes", "Ridge", {"alpha": ALPHAS[::10]}, "r2", 3)
    assert (done.best_params, done.best_score) == (best, score)
    # A late second delivery of every chunk stores nothing twice.
    for sent in list(inproc.queue.chunks):
        inproc.queue.enqueue_chunk(sent.run_id, sent.index, task_id=sent.task_id)
    inproc.run_sent()
    with inproc.session() as session:
        assert len(session.exec(select(Trial).where(Trial.run_id == run.id)).all()) == n_trials
