"""The dashboard says faults in words: a run whose workers cannot store their work shows
"Stalled: why" on the monitor, and an error no page caught is a message with an error id,
never a traceback."""

import time
import uuid

import pytest
from sqlmodel import Session
from test_dashboard import account, dashboard, new_session, open_app  # noqa: F401 (fixtures)

from dashboard_ui.support import RUN_PAGE
from tuning.config import get_settings
from tuning.domain import RunStatus
from tuning.errors import StorageUnwritable
from tuning.service import report_stalled
from tuning.service.operations.storage import CACHE_S

from factories import make_run

pytestmark = pytest.mark.database

PG_FULL = StorageUnwritable(
    "The database postgresql://app@db:5432/tuning",
    "the database server's disk is full",
    "Free some space on the database server",
)


def unescaped(texts: list[str]) -> list[str]:
    return [text.replace("\\", "").replace("\u2060", "") for text in texts]


def test_the_monitor_says_a_run_is_stalled_and_why(account, session: Session, runtime):  # noqa: F811
    user, token = account
    run = make_run(session, user, status=RunStatus.PROGRESS, n_trials=2)
    # What a worker says when its database takes no writes (a full PostgreSQL server, say),
    # through the real queue into the test's Redis.
    report_stalled(settings=runtime.settings, queue=runtime.queue, error=PG_FULL)
    try:
        app = open_app(token, RUN_PAGE, run=str(run.id))
        deadline = time.monotonic() + 10  # a status read may hold "nothing" for CACHE_S
        while not app.warning and time.monotonic() < deadline:
            time.sleep(0.5)
            app.run()

        assert unescaped([w.value for w in app.warning]) == [f"Stalled: {PG_FULL}"]
    finally:
        runtime.queue.report_stalled("", ttl_s=0.001)  # the stall ends for the next tests
        time.sleep(CACHE_S)


def test_an_error_no_page_caught_is_said_with_an_id_and_no_traceback(
    account,  # noqa: F811
    monkeypatch,
    tmp_path,
):
    _, token = account
    # The sign-in's lookup fails: a database in a folder that does not exist.
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'gone' / f'{uuid.uuid4()}.db'}")
    get_settings.cache_clear()
    app = new_session()
    app.query_params["token"] = token
    app.run()

    assert not app.exception, app.exception
    [error] = [e.value for e in app.error]
    assert error.startswith("Something went wrong (OperationalError, error id ")
    assert "log has the details under that id" in error and "Traceback" not in error
