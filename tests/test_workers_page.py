"""The Workers page and what it reads: live workers by host, what each runs, utilisation over
the last hour, and the queue by user, as an analyst (their own runs) and an admin (everyone's)."""

import uuid
from datetime import timedelta

import pytest
from sqlmodel import Session
from test_dashboard import account, dashboard, open_app, texts  # noqa: F401 - fixtures

from dashboard_ui.support import RUN_PAGE, RUNS_PAGE, WORKERS_PAGE
from tuning.domain import RunStatus, utcnow
from tuning.models import Chunk
from tuning.service import beat, create_user, workers_overview

from factories import make_run


@pytest.fixture
def analyst(request: pytest.FixtureRequest):
    """test_dashboard's `account`: a user and their token (named apart from the import)."""
    return request.getfixturevalue("account")


@pytest.fixture
def busy_worker(session: Session, settings, analyst):
    """A worker of two processes on its own host, started 30 minutes ago, running a chunk of
    the analyst's run and one of another user's; it ended 15 minutes of chunks in the hour."""
    analyst, _ = analyst
    stranger, _ = create_user(session=session, name=f"other-{uuid.uuid4().hex[:8]}")
    host = f"host-{uuid.uuid4().hex[:6]}"
    hostname = f"celery@{host}"
    now = utcnow()
    beat(
        session=session,
        hostname=hostname,
        pid=1,
        concurrency=2,
        started_at=now - timedelta(minutes=30),
    )
    mine = make_run(session, analyst, status=RunStatus.PROGRESS, n_trials=0, name="mine")
    theirs = make_run(session, stranger, status=RunStatus.PROGRESS, n_trials=0, name="secret")
    running = now - timedelta(minutes=5)

    def chunk(run, index: int, state: str, **moments) -> Chunk:
        worker = hostname if state != "queued" else None
        return Chunk(
            run_id=run.id,
            index=index,
            start=0,
            stop=1,
            state=state,
            task_id=f"{run.id}-{index}",
            worker=worker,
            **moments,
        )

    session.add_all(
        [
            chunk(mine, 1, "running", sent_at=running, started_at=running),
            chunk(theirs, 1, "running", sent_at=running, started_at=running),
            chunk(mine, 2, "queued"),
            chunk(
                mine,
                3,
                "done",
                started_at=now - timedelta(minutes=20),
                finished_at=now - timedelta(minutes=5),
            ),
        ]
    )
    session.commit()
    return hostname, mine, theirs, stranger


def test_an_analyst_sees_their_own_runs_by_name_and_others_only_as_others(
    session, settings, analyst, busy_worker
):
    analyst, _ = analyst
    hostname, mine, _, _ = busy_worker
    overview = workers_overview(session=session, settings=settings, viewer=analyst)
    [worker] = [w for w in overview.workers if w.hostname == hostname]
    assert worker.host == hostname.split("@")[1] and worker.processes == 2
    assert sorted(work.label for work in worker.running) == ["another user's run", "mine"]
    assert {work.run_id for work in worker.running} == {mine.id, None}
    # 5 + 5 minutes running and 15 ended, over two processes for 30 minutes: 25/60.
    assert worker.utilisation == pytest.approx(25 / 60, abs=0.01)
    shares = {share.user: share for share in overview.shares}
    assert shares[analyst.name].active_runs == 1
    assert (shares[analyst.name].running, shares[analyst.name].waiting) == (1, 1)
    assert set(shares) == {analyst.name, "other users"}


def test_an_admin_sees_every_run_and_user(session, settings, busy_worker):
    hostname, _, theirs, stranger = busy_worker
    admin, _ = create_user(session=session, name=f"admin-{uuid.uuid4().hex[:8]}", is_admin=True)
    overview = workers_overview(session=session, settings=settings, viewer=admin)
    [worker] = [w for w in overview.workers if w.hostname == hostname]
    assert "secret" in [work.label for work in worker.running]
    assert theirs.id in [work.run_id for work in worker.running]
    assert stranger.name in [share.user for share in overview.shares]


def test_the_workers_page_shows_hosts_and_the_queue(analyst, busy_worker):
    _, token = analyst
    hostname, *_ = busy_worker
    app = open_app(token, WORKERS_PAGE)
    assert not app.exception
    assert texts(app, "title") == ["Workers"]
    hosts, shares = app.dataframe
    assert hostname in hosts.value["worker"].tolist()
    assert "other users" in shares.value["user"].tolist()
    assert "secret" not in str(hosts.value)


def test_a_queued_run_shows_its_place_on_the_monitor_and_in_runs(analyst, session):
    user, token = analyst
    run = make_run(session, user, status=RunStatus.PENDING, n_trials=0, name="waiting")
    monitor = open_app(token, RUN_PAGE, run=str(run.id))
    assert not monitor.exception
    [place] = [text for text in texts(monitor, "info") if text.startswith("Queued:")]
    assert "in line" in place or "as soon as a worker process is free" in place
    runs = open_app(token, RUNS_PAGE)
    table = runs.dataframe[0].value
    [cell] = table.loc[table["id"] == str(run.id), "queue"]
    assert cell.startswith("#") and "in line" in cell
