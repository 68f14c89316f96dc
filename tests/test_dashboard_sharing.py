"""Sharing on the dashboard, through AppTest on the real database: the monitor and Results
as the owner, a reader, a contributor, a stranger and an admin; sharing from the monitor;
Runs' "Shared with me"; a shared upload in New run's picker and uploads."""

import uuid

import pytest
from sqlmodel import Session
from streamlit.testing.v1 import AppTest
from test_dashboard import dashboard, open_app, texts  # noqa: F401 (a fixture)

from dashboard_ui.support import NEW_RUN_PAGE, RESULTS_PAGE, RUN_PAGE, RUNS_PAGE
from tuning.domain import RunStatus
from tuning.models import User
from tuning.service import create_user, run_shares, share_dataset, share_run

from factories import make_run, upload_rare_yes

pytestmark = pytest.mark.database

ROLES = ("owner", "reader", "contributor", "stranger", "admin")


@pytest.fixture
def cast(session: Session, dashboard) -> dict[str, tuple[User, str]]:  # noqa: F811
    """A user and a token per role."""
    return {
        role: create_user(
            session=session, name=f"{role}-{uuid.uuid4().hex[:8]}", is_admin=role == "admin"
        )
        for role in ROLES
    }


def _shared(session: Session, cast, **fields):
    owner = cast["owner"][0]
    run = make_run(session, owner, **fields)
    for role, level in (("reader", "read"), ("contributor", "contribute")):
        share_run(session=session, run_id=run.id, user=cast[role][0].name, level=level, by=owner)
    return run


def _expanders(app: AppTest) -> list[str]:
    return [e.label for e in app.expander]


def _buttons(app: AppTest) -> set[str]:
    return {b.label for b in app.button}


# What each role finds on a running run's monitor: the run, a cancel button, the management
# and share expanders, the note form, and the line that says it is shared.
MONITOR = {
    "owner": (True, True, True, True, False),
    "reader": (True, False, False, False, True),
    "contributor": (True, False, False, True, True),
    "stranger": (False, False, False, False, False),
    "admin": (True, True, True, True, False),
}


@pytest.mark.parametrize("role", ROLES)
def test_the_monitor_is_read_only_for_a_reader(session, cast, role):
    run = _shared(session, cast, status=RunStatus.PROGRESS, n_trials=2)
    app = open_app(cast[role][1], RUN_PAGE, run=str(run.id))
    opened, cancel, manage, note, line = MONITOR[role]
    errors = texts(app, "error")
    assert (not errors) == opened, errors
    if not opened:
        assert "belongs to another user" in errors[0]
        return
    assert ("Cancel run" in _buttons(app)) == cancel
    assert ("Name, tags, archive, delete" in _expanders(app)) == manage
    assert ("Share" in _expanders(app)) == manage
    assert ("Add note" in _buttons(app)) == note
    shared = [c for c in texts(app, "caption") if "Shared by" in c]
    assert bool(shared) == line
    if line:
        owner = cast["owner"][0].name
        expected = "read-only" if role == "reader" else "add notes and train"
        assert owner in shared[0] and expected in shared[0]


@pytest.mark.parametrize("role", ROLES)
def test_results_offer_training_and_notes_only_where_the_share_allows(session, cast, role):
    run = _shared(session, cast)
    app = open_app(cast[role][1], RESULTS_PAGE, run=str(run.id))
    if role == "stranger":
        assert "belongs to another user" in texts(app, "error")[0]
        return
    assert not texts(app, "error")
    may_train = role != "reader"
    app.segmented_control(key="results.view").set_value("Trials").run()
    train_hint = any("select a row to train" in c for c in texts(app, "caption"))
    assert train_hint == may_train
    assert ("Add note" in _buttons(app)) == may_train  # contribute: note and train alike
    assert ("Share" in _expanders(app)) == (role in ("owner", "admin"))


def test_the_owner_shares_from_the_monitor_and_withdraws(session, cast):
    owner, token = cast["owner"]
    reader = cast["reader"][0]
    run = make_run(session, owner)
    app = open_app(token, RUN_PAGE, run=str(run.id))
    app.multiselect(key=f"share.run.{run.id}.users").set_value([reader.name, "everyone"])
    app.radio(key=f"share.run.{run.id}.level").set_value("contribute")
    next(b for b in app.button if b.label == "Share").click().run()
    shares = run_shares(session=session, run_id=run.id, viewer=owner)
    assert {(s.user, s.level) for s in shares} == {
        (reader.name, "contribute"),
        ("everyone", "contribute"),
    }

    app.button(key=f"share.run.{run.id}.withdraw.everyone").click().run()
    assert [s.user for s in run_shares(session=session, run_id=run.id, viewer=owner)] == [
        reader.name
    ]


def test_runs_lists_what_is_shared_with_me_apart(session, cast):
    run = _shared(session, cast)
    reader = open_app(cast["reader"][1], RUNS_PAGE)
    assert "Shared with me" in texts(reader, "subheader")
    assert reader.dataframe(key="runs.shared").value["id"].tolist() == [str(run.id)]
    assert any("runs shared with you" in c for c in texts(reader, "caption"))
    stranger = open_app(cast["stranger"][1], RUNS_PAGE)
    assert "Shared with me" not in texts(stranger, "subheader")


def test_a_shared_upload_is_picked_in_new_run_and_downloaded_only_if_allowed(session, cast):
    owner = cast["owner"][0]
    upload = upload_rare_yes(session, owner)
    for role, level in (("reader", "use"), ("contributor", "download")):
        share_dataset(
            session=session, dataset_id=upload.id, user=cast[role][0].name, level=level, by=owner
        )
    for role in ("reader", "contributor", "stranger"):
        app = open_app(cast[role][1], NEW_RUN_PAGE)
        options = app.selectbox(key="new.dataset").options
        picked = [o for o in options if o.startswith(upload.name)]
        if role == "stranger":
            assert not picked
            continue
        assert picked and f"shared by {owner.name}" in picked[0]
        app.segmented_control(key="new.source").set_value("Upload a CSV").run()
        shared = next(e for e in app.expander if e.label.startswith("Uploads shared with you"))
        words = " ".join(m.value for m in shared.markdown)
        assert upload.name in words and owner.name in words
        downloads = [b for b in shared.button if b.label == "Download"]
        assert bool(downloads) == (role == "contributor")
