"""Fair turns in process: which chunk goes to the workers next, with a RecordingQueue that runs
what was sent in order, as one worker process would. tests/test_fair_turns_stack.py proves the
same on a real worker."""

import itertools
import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import col, select
from test_chunks import ALPHAS, a_worker, chunks_of, planned, submitted

from tuning.domain import RunStatus
from tuning.errors import Forbidden
from tuning.models import Chunk, Trial, TuningRun
from tuning.schemas import QueuePlace, RunChange
from tuning.service import change_run, create_user, get_status, queue_places, reconcile
from tuning.service.execution.chunks import claim_chunk
from tuning.service.execution.dispatch import RunTurn, next_turn

from fakes import InProcess

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def turn(
    owner: int, *, out: int = 0, waiting: int = 1, priority: int = 0, age: int = 0, last: int = 0
) -> RunTurn:
    return RunTurn(
        run_id=uuid.uuid4(),
        owner_id=owner,
        priority=priority,
        created_at=T0 + timedelta(seconds=age),
        n_out=out,
        n_waiting=waiting,
        last_sent=T0 + timedelta(seconds=last),
    )


def test_the_user_with_the_fewest_chunks_out_goes_first_whoever_came_first():
    big = turn(1, out=3, waiting=400, age=0)
    small = turn(2, out=0, waiting=1, age=10)
    assert next_turn([big, small]) is small


def test_a_users_runs_count_together_so_many_runs_do_not_buy_a_bigger_share():
    many = [turn(1, out=1, age=i) for i in range(4)]
    one = turn(2, out=2, age=10)
    assert next_turn([*many, one]) is one


def test_at_a_tie_the_user_served_longest_ago_goes_then_the_run_served_longest_ago():
    a, b = turn(1, out=1, last=5), turn(2, out=1, last=3)
    assert next_turn([a, b]) is b
    first, second = turn(1, out=0, last=9, age=0), turn(1, out=0, last=2, age=1)
    assert next_turn([first, second]) is second


def test_a_higher_priority_goes_first_and_nothing_waiting_is_no_turn():
    urgent = turn(1, out=5, priority=1)
    assert next_turn([turn(2), urgent]) is urgent
    assert next_turn([turn(1, waiting=0), turn(2, out=3, waiting=0)]) is None


def ran(inproc: InProcess) -> list[uuid.UUID]:
    """Run what was sent (and what that sends) in order; the run of each chunk, in that order."""
    inproc.run_sent()
    return [sent.run_id for sent in inproc.queue.chunks]


def test_a_small_run_waits_for_a_free_process_not_behind_another_users_backlog(inproc):
    a_worker(inproc, concurrency=2)
    big = submitted(inproc)
    planned(inproc, big)
    assert len(chunks_of(inproc, big.id)) >= 8
    small = submitted(inproc, param_grid={"alpha": ALPHAS[:4]})
    order = ran(inproc)
    # Sent after the three chunks already out: it is the fourth to run, not the ninth.
    assert order.index(small.id) == 3
    # Had its probe planned more chunks (a slow machine), each waited for a free turn only:
    # at most the three out ahead of it.
    positions = [i for i, run_id in enumerate(order) if run_id == small.id]
    assert all(later - earlier <= 3 for earlier, later in itertools.pairwise(positions))
    assert positions[-1] < len(order) - 1, "the big run had chunks left when the small ended"
    with inproc.session() as session:
        assert session.get(TuningRun, small.id).status is RunStatus.SUCCESS
        assert session.get(TuningRun, big.id).status is RunStatus.SUCCESS


def test_two_users_equal_runs_take_alternate_turns(inproc):
    a_worker(inproc, concurrency=2)
    first, second = submitted(inproc), submitted(inproc)
    planned(inproc, first)
    planned(inproc, second)
    order = ran(inproc)
    assert len(order) == len(chunks_of(inproc, first.id)) + len(chunks_of(inproc, second.id))
    # At every moment, neither run is more than two chunks ahead of the other.
    gaps = [abs(order[:n].count(first.id) - order[:n].count(second.id)) for n in range(len(order))]
    assert max(gaps) <= 2, order
    last = {run_id: max(i for i, r in enumerate(order) if r == run_id) for run_id in set(order)}
    assert abs(last[first.id] - last[second.id]) <= 2


def test_an_admin_raises_a_runs_priority_and_its_chunks_go_first(inproc):
    a_worker(inproc, concurrency=2)
    early, urgent = submitted(inproc), submitted(inproc)
    with inproc.session() as session:
        admin, _ = create_user(session=session, name="boss", is_admin=True)
        owner = session.get(TuningRun, urgent.id).owner_id
        analyst = session.exec(select(TuningRun.owner_id).where(TuningRun.id == early.id)).one()
        assert analyst != owner
        with pytest.raises(Forbidden, match="only an admin"):
            change_run(
                session=session,
                run_id=urgent.id,
                viewer=session.get(type(admin), owner),
                change=RunChange(priority=5),
            )
        assert (
            change_run(
                session=session, run_id=urgent.id, viewer=admin, change=RunChange(priority=5)
            ).priority
            == 5
        )
    planned(inproc, early)
    planned(inproc, urgent)
    inproc.run_sent()
    sent = [(chunk.run_id, chunk.index) for chunk in inproc.queue.chunks]
    planned_urgent = [n for n, (run_id, index) in enumerate(sent) if run_id == urgent.id and index]
    # From its first planned chunk to its last, no chunk of the other run was sent.
    between = sent[planned_urgent[0] : planned_urgent[-1]]
    assert [run_id for run_id, _ in between] == [urgent.id] * len(between)
    assert len(planned_urgent) == len(chunks_of(inproc, urgent.id)) - 1


def test_the_reconciler_dispatches_what_a_lost_dispatcher_left_waiting(inproc):
    a_worker(inproc, concurrency=2)
    run = submitted(inproc)
    planned(inproc, run)
    with inproc.session() as session:
        # The three chunks out end, and the process that ended them died before dispatching.
        for chunk in session.exec(select(Chunk).where(col(Chunk.sent_at).is_not(None))):
            chunk.state = "done"
            session.add(chunk)
        session.commit()
        done = reconcile(session=session, queue=inproc.queue, settings=inproc.settings)
    assert done.dispatched == 3
    assert inproc.queue.sent(run.id) == [0, 1, 2, 3, 4, 5]


def test_a_bayesian_slot_gives_up_its_process_after_its_turn_and_the_run_still_ends(inproc):
    inproc.settings.task_target_s = 0.001  # every slot's task ends after one proposal
    a_worker(inproc, concurrency=2)
    run = submitted(
        inproc,
        search="bayes",
        n_iter=6,
        random_state=0,
        param_grid={"alpha": {"low": 0.001, "high": 10.0, "log": True}},
    )
    inproc.run_sent()
    with inproc.session() as session:
        done = session.get(TuningRun, run.id)
        n_trials = len(session.exec(select(Trial).where(Trial.run_id == run.id)).all())
    assert done.status is RunStatus.SUCCESS and n_trials == 6
    # Slots went back to wait for their turn: more tasks than slots, and every chunk ended.
    assert len(inproc.queue.sent(run.id)) > len(chunks_of(inproc, run.id))
    assert all(chunk.state == "done" for chunk in chunks_of(inproc, run.id))


def test_a_queued_run_knows_its_place_the_work_ahead_and_when_it_should_start(inproc):
    a_worker(inproc, concurrency=1)  # one process: room for two chunks out
    running = submitted(inproc)
    planned(inproc, running)
    with inproc.session() as session:
        claim_chunk(session=session, run_id=running.id, index=0, worker="w1@test")
        session.get(TuningRun, running.id).status = RunStatus.PROGRESS
        session.commit()
    first, second = submitted(inproc), submitted(inproc)
    with inproc.session() as session:
        places = queue_places(session=session, settings=inproc.settings)
        statuses = [
            get_status(session=session, queue=inproc.queue, run_id=run.id, settings=inproc.settings)
            for run in (running, first, second)
        ]
    # No chunk has ended yet: each lasts TASK_TARGET_S (1 s). The process is busy, and chunk 1
    # of the running run is sent ahead of both: the first starts after two chunks end.
    assert places[first.id] == QueuePlace(position=1, runs_ahead=1, expected_start_s=2.0)
    assert places[second.id] == QueuePlace(position=2, runs_ahead=2, expected_start_s=3.0)
    assert running.id not in places
    assert [status.queue for status in statuses] == [None, places[first.id], places[second.id]]
    spec = {"tuning_run_id", "task_id", "status", "progress", "result", "error"}
    assert set(json.loads(statuses[0].to_json())) == spec
    assert json.loads(statuses[1].to_json())["queue"] == {
        "position": 1,
        "runs_ahead": 1,
        "expected_start_s": 2.0,
    }
