"""Sign-ins in a real browser (headless Chromium, as tests/test_dashboard_browser.py drives it):
the cookie, the address bar, and an open tab whose sign-in ends elsewhere.
"""

import subprocess
import sys
import uuid
from datetime import timedelta

import pytest
import test_dashboard_browser
from sqlmodel import Session, select
from test_dashboard_browser import WAIT_MS, idle, menu, open_link, sync_api

from dashboard_ui.sign_in import COOKIE, ENDED
from tuning.config import PROJECT_ROOT
from tuning.domain import RunStatus, utcnow
from tuning.models import BrowserSession, User
from tuning.service import create_user

from factories import make_run
from stack import stack_env

pytestmark = test_dashboard_browser.pytestmark  # skipped without Chromium
# Fixtures: `streamlit run dashboard.py` on the test stack, and a tab of a new Chromium.
dashboard_url = test_dashboard_browser.dashboard_url
browser_page = test_dashboard_browser.browser_page
expect = sync_api.expect


def sign_in_by_link(page, url: str, token: str, path: str = "/") -> None:
    """Open a sign-in link and wait until the browser has loaded the address without it."""
    open_link(page, f"{url}{path}{'&' if '?' in path else '?'}token={token}")
    expect(page.get_by_role("button", name="Sign out")).to_be_visible(timeout=WAIT_MS)


def cookie_of(page) -> str | None:
    return next((c["value"] for c in page.context.cookies() if c["name"] == COOKIE), None)


def users_command(settings, *args: str) -> str:
    """`python -m tuning users ...`, as an admin would type it: its last line."""
    result = subprocess.run(
        [sys.executable, "-m", "tuning", "users", *args],
        cwd=PROJECT_ROOT,
        env=stack_env(settings),
        check=True,
        timeout=120,
        capture_output=True,
        text=True,
    )
    return result.stdout.strip().splitlines()[-1]


def new_token(settings, name: str) -> str:
    return users_command(settings, "token", name)


def sign_out_in_another_tab(page, url: str) -> None:
    other = page.context.new_page()  # the same browser: the cookie signs it in
    other.goto(url)
    other.get_by_role("button", name="Sign out").click()
    expect(other.get_by_label("API token")).to_be_visible(timeout=WAIT_MS)
    other.close()


def expire(session: Session, user: User) -> None:
    for row in session.exec(select(BrowserSession).where(BrowserSession.user_id == user.id)):
        row.expires_at = utcnow() - timedelta(seconds=1)
        session.add(row)
    session.commit()


def shows_the_form_because_it_ended(page) -> None:
    expect(page.get_by_label("API token")).to_be_visible(timeout=WAIT_MS)
    expect(page.get_by_text(ENDED)).to_be_visible()
    expect(page.get_by_role("button", name="Sign out")).to_have_count(0)


def test_an_open_tab_shows_the_form_at_its_next_click_once_its_sign_in_ends_anywhere(
    dashboard_url, browser_page, session, settings
):
    name = f"ends-{uuid.uuid4().hex[:8]}"
    user, token = create_user(session=session, name=name)
    page, url = browser_page, dashboard_url
    ends = {
        "users revoke": lambda: users_command(settings, "revoke", name),
        "users token": lambda: new_token(settings, name),
        "Sign out in another tab": lambda: sign_out_in_another_tab(page, url),
        "expiry": lambda: expire(session, user),
    }
    for how, end in ends.items():
        sign_in_by_link(page, url, token)
        idle(page)
        end()
        menu(page, "New run").click()  # the tab's next click
        shows_the_form_because_it_ended(page)
        assert cookie_of(page) is None, how  # the ended sign-in's cookie is cleared
        token = new_token(settings, name)  # for the next round (revoke left none)


def test_an_open_runs_page_shows_the_form_at_its_next_refresh_once_revoked(
    dashboard_url, browser_page, session, settings
):
    # Runs refreshes its table on a timer while a run is active: that rerun of the table alone
    # checks the sign-in too.
    name = f"ticks-{uuid.uuid4().hex[:8]}"
    user, token = create_user(session=session, name=name)
    make_run(session, user, status=RunStatus.PROGRESS, n_trials=2)
    sign_in_by_link(browser_page, dashboard_url, token)
    expect(browser_page.get_by_text("Refreshing while runs are active.")).to_be_visible()
    users_command(settings, "revoke", name)
    shows_the_form_because_it_ended(browser_page)  # no click: the next tick


@pytest.mark.parametrize("path", ["/", "/new_run", "/run?run={active}", "/results?run={done}"])
def test_a_sign_in_link_on_any_page_sets_the_cookie_and_leaves_the_address(
    dashboard_url, browser_page, session, path
):
    user, token = create_user(session=session, name=f"link-{uuid.uuid4().hex[:8]}")
    active = make_run(session, user, status=RunStatus.PROGRESS, n_trials=2)  # Runs refreshes
    done = make_run(session, user)
    path = path.format(active=active.id, done=done.id)
    page = browser_page

    sign_in_by_link(page, dashboard_url, token, path)
    assert page.url == f"{dashboard_url}{path}"  # the same page, less the token
    secret = cookie_of(page)
    assert secret is not None
    (cookie,) = [c for c in page.context.cookies() if c["name"] == COOKIE]
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert not cookie["secure"]  # plain HTTP here; Secure over HTTPS (tests/test_dashboard_server)
    assert COOKIE not in page.evaluate("document.cookie")  # no script on the page can read it
    page.reload()  # a new session, signed in by the cookie: no new sign-in
    expect(page.get_by_role("button", name="Sign out")).to_be_visible(timeout=WAIT_MS)
    assert cookie_of(page) == secret
    rows = session.exec(select(BrowserSession).where(BrowserSession.user_id == user.id)).all()
    assert len(rows) == 1


def test_a_link_for_another_user_asks_first_and_stay_or_switch_does_what_it_says(
    dashboard_url, browser_page, session
):
    a, a_token = create_user(session=session, name=f"a-{uuid.uuid4().hex[:8]}")
    b, b_token = create_user(session=session, name=f"b-{uuid.uuid4().hex[:8]}")
    page, url = browser_page, dashboard_url
    sign_in_by_link(page, url, a_token)
    a_secret = cookie_of(page)
    question = f"You are signed in as {a.name}. Sign in as {b.name} instead?"

    page.goto(f"{url}/new_run?token={b_token}")
    expect(page.get_by_text(question)).to_be_visible(timeout=WAIT_MS)
    idle(page)
    page.get_by_role("button", name=f"Stay as {a.name}").click()
    page.wait_for_url(f"{url}/new_run", timeout=WAIT_MS)
    expect(page.get_by_text(f"Signed in as {a.name}")).to_be_visible(timeout=WAIT_MS)
    assert cookie_of(page) == a_secret

    page.goto(f"{url}/new_run?token={b_token}")
    expect(page.get_by_text(question)).to_be_visible(timeout=WAIT_MS)
    idle(page)
    page.get_by_role("button", name="Switch").click()
    page.wait_for_url(f"{url}/new_run", timeout=WAIT_MS)
    expect(page.get_by_text(f"Signed in as {b.name}")).to_be_visible(timeout=WAIT_MS)
    assert cookie_of(page) not in (None, a_secret)
    session.expire_all()
    a_rows = session.exec(select(BrowserSession).where(BrowserSession.user_id == a.id)).all()
    assert a_rows == []  # the replaced sign-in ended
    page.reload()
    expect(page.get_by_text(f"Signed in as {b.name}")).to_be_visible(timeout=WAIT_MS)


def test_metrics_and_media_files_answer_only_a_signed_in_browser(
    dashboard_url, browser_page, session
):
    user, token = create_user(session=session, name=f"media-{uuid.uuid4().hex[:8]}")
    done = make_run(session, user)
    page = browser_page
    assert page.request.get(f"{dashboard_url}/_stcore/metrics").status == 401

    sign_in_by_link(page, dashboard_url, token, f"/results?run={done.id}&view=Trials")
    assert page.request.get(f"{dashboard_url}/_stcore/metrics").status == 200
    with page.expect_download(timeout=WAIT_MS) as download:
        page.get_by_role("button", name="Download all trials (CSV)").click()
    media = download.value.url
    assert "/media/" in media
    assert page.request.get(media).status == 200

    stranger = page.context.browser.new_context()  # another browser: no sign-in cookie
    try:
        assert stranger.request.get(media).status == 401
        assert stranger.request.get(f"{dashboard_url}/_stcore/metrics").status == 401
    finally:
        stranger.close()
