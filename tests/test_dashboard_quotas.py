"""New run says a quota before Launch: the user's use against the limits, and the quota error
under the form at every change, as the dashboard's own settings (from the environment) set."""

import uuid
from collections.abc import Iterator

import pytest
from sqlmodel import Session
from streamlit.testing.v1 import AppTest
from test_dashboard import dashboard, open_app, texts  # noqa: F401 (dashboard: a fixture)

from dashboard_ui.support import NEW_RUN_PAGE
from tuning.config import get_settings
from tuning.domain import RunStatus
from tuning.models import User
from tuning.service import create_user

from factories import make_run, rare_yes_csv

pytestmark = pytest.mark.database


@pytest.fixture
def limits(dashboard, monkeypatch) -> Iterator[None]:  # noqa: F811 (dashboard: a fixture)
    """Two active runs, 20 fits a run and one small upload per user, for the dashboard."""
    monkeypatch.setenv("MAX_ACTIVE_RUNS_PER_USER", "2")
    monkeypatch.setenv("MAX_FITS_PER_RUN", "20")
    monkeypatch.setenv("MAX_UPLOAD_BYTES_PER_USER", str(len(rare_yes_csv()) - 1))
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
def analyst(session: Session, limits) -> tuple[User, str]:
    return create_user(session=session, name=f"quota-{uuid.uuid4().hex[:8]}")


def unescaped(app: AppTest, kind: str) -> list[str]:
    """The elements' texts without the backslashes `plain` escapes markdown with."""
    return [text.replace("\\", "") for text in texts(app, kind)]


def launch_disabled(app: AppTest) -> bool:
    return next(button for button in app.button if button.label == "Launch run").disabled


def test_new_run_shows_the_quotas_and_refuses_before_launch(analyst, session):
    user, token = analyst
    app = open_app(token, NEW_RUN_PAGE)  # 6 candidates x 5 folds: 30 fits
    assert any(
        "this run makes 30 fits (6 candidates x 5 folds), the limit is 20" in error
        for error in unescaped(app, "error")
    )
    assert launch_disabled(app)

    app.number_input(key="new.cv").set_value(3).run()
    assert not app.error and not launch_disabled(app)
    captions = " ".join(unescaped(app, "caption"))
    assert "Quotas: 0 of 2 active runs · this run 18 of 20 fits" in captions

    runs = [make_run(session, user, status=RunStatus.PENDING) for _ in range(2)]
    app.number_input(key="new.seed").set_value(1).run()  # any change checks the form again
    assert [error for error in unescaped(app, "error") if "MAX_ACTIVE_RUNS_PER_USER" in error] == [
        "you have 2 active tuning runs (queued or running), the limit is 2 "
        "(MAX_ACTIVE_RUNS_PER_USER); wait for one to finish or cancel one"
    ]
    assert launch_disabled(app)

    runs[0].status = RunStatus.REVOKED  # it ended: its slot is free again
    session.add(runs[0])
    session.commit()
    app.number_input(key="new.seed").set_value(2).run()
    assert not app.error and not launch_disabled(app)
    assert "Quotas: 1 of 2 active runs" in " ".join(unescaped(app, "caption"))


def test_the_upload_step_shows_the_bytes_stored_and_refuses_a_file_over_them(analyst):
    _, token = analyst
    content = rare_yes_csv()
    app = open_app(token, NEW_RUN_PAGE)
    app.segmented_control(key="new.source").set_value("Upload a CSV").run()
    app.file_uploader(key="upload.file").upload("answers.csv", content, "text/csv").run()

    assert any(
        f"your uploads hold 0 bytes and this file is {len(content):,} bytes" in error
        and "(MAX_UPLOAD_BYTES_PER_USER)" in error
        for error in unescaped(app, "error")
    )
    save = next(b for b in app.button if b.label == "Save dataset and use it")
    assert save.disabled
