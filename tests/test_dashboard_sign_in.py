"""Sign-ins that end when they should, through AppTest against the real database.

An open tab checks its sign-in at every script run: a revoke, a new token, Sign out in another
tab and the sign-in's expiry each show the form at the tab's next interaction. A `?token=` link
asks before it switches accounts. (AppTest has no cookies: each AppTest is a tab signed in by
its own state; tests/test_dashboard_browser.py follows the cookie in Chromium.)
"""

from datetime import timedelta

import pytest
import test_dashboard
from sqlmodel import Session, select
from streamlit.testing.v1 import AppTest
from test_dashboard import (  # noqa: F401 (dashboard: a fixture)
    SIGN_IN_TITLE,
    dashboard,
    new_session,
    open_app,
    recorded_queries,
    scripts,
    texts,
)

from dashboard_ui.sign_in import ENDED
from dashboard_ui.support import NEW_RUN_PAGE, RUN_PAGE
from dashboard_ui.text import plain
from tuning.domain import RunStatus, utcnow
from tuning.models import BrowserSession, TuningRun, User
from tuning.service import (
    browser_session_user,
    create_user,
    end_browser_session,
    rotate_token,
)
from tuning.service.accounts.users import hash_token

from factories import make_run
from helpers import cookie_secret

pytestmark = pytest.mark.database

account = test_dashboard.account  # a fixture: a user and their API token

SWITCH_TITLE = "Switch account?"


def secret_of(app: AppTest) -> str:
    return app.session_state["sign_in.secret"]


def revoke(session: Session, user: User, app: AppTest) -> None:
    rotate_token(session=session, user=user)  # `users revoke` and `users token` both do this


def sign_out_elsewhere(session: Session, user: User, app: AppTest) -> None:
    # Another tab of the same browser holds the same secret (the cookie's) and ends it.
    end_browser_session(session=session, secret=secret_of(app))


def expire(session: Session, user: User, app: AppTest) -> None:
    row = session.get(BrowserSession, hash_token(secret_of(app)))
    assert row is not None
    row.expires_at = utcnow() - timedelta(seconds=1)
    session.add(row)
    session.commit()


def shows_the_form_because_it_ended(app: AppTest) -> bool:
    return (
        texts(app, "title") == [SIGN_IN_TITLE]
        and ENDED in texts(app, "info")
        and "user" not in app.session_state
        and not app.sidebar.button  # no Sign out, no menu's page
    )


@pytest.mark.parametrize("end", [revoke, sign_out_elsewhere, expire])
def test_an_open_tab_shows_the_form_at_its_next_click_once_its_sign_in_ends(account, session, end):
    user, token = account
    app = open_app(token)
    assert texts(app, "title") == ["Runs"]

    end(session, user, app)
    app.switch_page(NEW_RUN_PAGE).run()  # the next click: another page
    assert shows_the_form_because_it_ended(app)
    assert not app.exception

    app.run()  # the notice is said once; the form stays
    assert texts(app, "title") == [SIGN_IN_TITLE] and not app.info


def test_a_button_that_writes_does_nothing_once_the_sign_in_has_ended(account, session):
    # The monitor's "Yes, cancel the run" writes in its callback, which Streamlit runs before
    # the script (and the frame's check): it checks the sign-in itself.
    user, token = account
    run = make_run(session, user, status=RunStatus.PROGRESS, n_trials=2)
    app = open_app(token, RUN_PAGE, run=str(run.id))
    app.button(key="monitor.cancel").click().run()

    rotate_token(session=session, user=user)
    app.button(key="monitor.yes").click().run()
    assert shows_the_form_because_it_ended(app)
    session.expire_all()
    assert session.get(TuningRun, run.id).status is RunStatus.PROGRESS  # not cancelled


def test_each_script_run_checks_the_sign_in_with_one_primary_key_read(account, session):
    _, token = account
    app = open_app(token, NEW_RUN_PAGE)
    with recorded_queries() as queries:
        app.run()
    checks = [query for query, _ in queries if "browser_session" in query]
    assert len(checks) == 1, checks
    assert "WHERE browser_session.secret_hash = " in checks[0]


def signed_in_by_form(token: str) -> AppTest:
    app = new_session().run()
    app.text_input(key="sign_in.token").set_value(token)
    app.button[0].click().run()
    assert texts(app, "title") == ["Runs"]
    return app


def follow(app: AppTest, token: str) -> AppTest:
    """The tab's address gains `?token=`, as a link opened in a signed-in browser has."""
    app.query_params["token"] = token
    return app.run()


def n_sign_ins(session: Session, user: User) -> int:
    return len(session.exec(select(BrowserSession).where(BrowserSession.user_id == user.id)).all())


def drops_the_token(app: AppTest) -> bool:
    return any("searchParams.delete('token')" in script for script in scripts(app))


def test_a_link_for_another_user_asks_and_switch_ends_the_replaced_sign_in(account, session):
    user, token = account
    other, other_token = create_user(session=session, name="b-<i>someone</i>")
    app = signed_in_by_form(token)
    first = secret_of(app)

    follow(app, other_token)
    assert texts(app, "title") == [SWITCH_TITLE]  # instead of the page
    assert f"You are signed in as **{user.name}**" in texts(app, "markdown")[0]
    assert f"Sign in as **{plain(other.name)}** instead?" in texts(app, "markdown")[0]  # as typed
    assert not drops_the_token(app)  # kept until answered
    app.switch_page(NEW_RUN_PAGE).run()
    assert texts(app, "title") == [SWITCH_TITLE]  # on any page, until answered

    app.button(key="sign_in.switch").click().run()
    assert texts(app, "title") == ["New run"]
    assert app.session_state["user"].id == other.id
    assert browser_session_user(session=session, secret=first) is None  # its row ended
    (script,) = scripts(app)
    assert cookie_secret(script) == secret_of(app) and drops_the_token(app)
    assert browser_session_user(session=session, secret=secret_of(app)).id == other.id


def test_a_link_for_another_user_can_be_declined(account, session):
    user, token = account
    _, other_token = create_user(session=session, name="someone-else")
    app = signed_in_by_form(token)
    first = secret_of(app)

    follow(app, other_token)
    app.button(key="sign_in.stay").click().run()
    assert texts(app, "title") == ["Runs"]
    assert secret_of(app) == first and app.session_state["user"].id == user.id
    assert browser_session_user(session=session, secret=first).id == user.id
    assert drops_the_token(app)  # the link leaves the address, history and all


def test_a_switch_whose_link_stopped_working_keeps_the_present_sign_in(account, session):
    user, token = account
    other, other_token = create_user(session=session, name="rotated-meanwhile")
    app = signed_in_by_form(token)
    follow(app, other_token)
    rotate_token(session=session, user=other)

    app.button(key="sign_in.switch").click().run()
    assert texts(app, "title") == ["Runs"]
    assert app.session_state["user"].id == user.id
    assert any("no longer works" in error for error in texts(app, "error"))


@pytest.mark.parametrize("link", ["own", "wrong"])
def test_a_link_in_a_signed_in_tab_that_needs_no_switch_only_leaves_the_address(
    account, session, link
):
    user, token = account
    app = signed_in_by_form(token)
    first = secret_of(app)
    rows = n_sign_ins(session, user)

    follow(app, token if link == "own" else "not-a-token")
    assert texts(app, "title") == ["Runs"] and secret_of(app) == first
    assert n_sign_ins(session, user) == rows  # no new row
    assert drops_the_token(app)


def test_a_link_on_runs_with_an_active_run_still_tells_the_browser(account, session):
    # Runs starts its timer with st.rerun(scope="app"), which drops what the first run had not
    # yet sent: the script is sent again at every run until the browser loads the new address.
    user, token = account
    make_run(session, user, status=RunStatus.PROGRESS, n_trials=2)
    app = open_app(token)
    assert app.session_state["runs.live"]
    (script,) = scripts(app)
    assert cookie_secret(script) == secret_of(app)
    assert drops_the_token(app)
    app.run()  # that run ended whole, so the browser has had the script: not sent again
    assert not scripts(app)
