"""Signing in, the account in the sidebar, and the signed-in user as a page reads it.

dashboard.py is the frame around every page: it finds the session's user (`session_user()`: a
`?token=` link or an earlier sign-in), shows `sign_in_form()` instead of any page while there is
none, draws `sidebar()` and runs the page `as_user()`; the page reads `signed_in_user()`.
"""

import json
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

import streamlit as st

from dashboard_ui import support as ui
from dashboard_ui.text import plain
from tuning.config import PROJECT_ROOT
from tuning.models import User
from tuning.service import (
    authenticate,
    browser_session_user,
    end_browser_session,
    start_browser_session,
)

FRAME = PROJECT_ROOT / "dashboard.py"
USER_KEY = "user"
SECRET_KEY = "sign_in.secret"  # this browser's sign-in, to end it at sign-out
LINK_USED_KEY = "sign_in.link_used"
SET_COOKIE_KEY = "sign_in.set_cookie"
CLEAR_COOKIE_KEY = "sign_in.clear_cookie"
SIGN_IN_ERROR_KEY = "sign_in_error"
# The cookie that keeps a dashboard sign-in across reloads: a random secret whose SHA-256 the
# database holds (tuning.service.accounts.users). Set by our own script, SameSite=Strict.
COOKIE = "tuning_session"
# Per-session caches that belong to one signed-in user, dropped when they sign out.
USER_STATE_PREFIXES = ("monitor.", "runs.", "new.", "results.", "compare.", "models.")

# The user of the page the frame is running, in this script run's thread; unset outside it.
_page_user: ContextVar[User] = ContextVar("page_user")


def signed_in_user() -> User:
    """The user the frame signed in, for the page it runs: a page's first call.

    Before a server process's first `st.navigation` call, and in every AppTest run, Streamlit
    serves a script run by its classic discovery of pages/, which runs a linked page's file
    alone. The page then runs the frame instead (which signs in, or shows only the form, and
    runs this page inside it) and stops there.
    """
    user = _page_user.get(None)
    if user is None:
        exec(compile(FRAME.read_bytes(), FRAME, "exec"), {"__name__": "__main__"})
        st.stop()
    return user


@contextmanager
def as_user(user: User) -> Iterator[None]:
    """Run a page inside this block: its `signed_in_user()` is `user`."""
    token = _page_user.set(user)
    try:
        yield
    finally:
        _page_user.reset(token)


def session_user() -> User | None:
    """The browser session's user: signed in by a `?token=` link now, by an earlier sign-in in
    this tab, or by the sign-in cookie this browser keeps (so a reload stays signed in)."""
    sign_in_from_link()
    if USER_KEY not in st.session_state:
        sign_in_from_cookie()
    return st.session_state.get(USER_KEY)


def sign_in(token: str) -> User | None:
    """Sign this browser in with an API token; None (and a message) when it is wrong."""
    token = token.strip()
    with ui.db() as session:
        user = authenticate(session=session, token=token) if token else None
        secret = (
            start_browser_session(
                session=session,
                user=user,
                lifetime_s=ui.runtime().settings.browser_session_days * 86400,
            )
            if user is not None
            else None
        )
    if user is None or secret is None:
        st.session_state[SIGN_IN_ERROR_KEY] = (
            "That token is not valid. Check it, or ask for a new one."
        )
        return None
    st.session_state.pop(SIGN_IN_ERROR_KEY, None)
    st.session_state[USER_KEY] = user
    st.session_state[SECRET_KEY] = secret
    return user


def sign_in_from_link() -> None:
    """`?token=...` signs in directly. The browser then keeps the sign-in in a cookie and loads
    the same address without the token, *replacing* the history entry that held it, so Back
    never returns to it. (Taking the token out through `st.query_params` would push a new
    entry and leave the old one, token and all, one Back away.)"""
    token = st.query_params.get("token")
    if token is None or st.session_state.get(LINK_USED_KEY):
        return
    st.session_state[LINK_USED_KEY] = True
    if sign_in(token):
        _browser_script(_set_cookie(st.session_state[SECRET_KEY]) + _REPLACE_URL)
    else:
        _browser_script(_REPLACE_URL)  # a wrong token leaves history too


def sign_in_from_cookie() -> None:
    secret = st.context.cookies.get(COOKIE)
    if not isinstance(secret, str) or not secret:  # AppTest's stand-in client has no cookies
        return
    with ui.db() as session:
        user = browser_session_user(session=session, secret=secret)
    if user is not None:
        st.session_state[USER_KEY] = user
        st.session_state[SECRET_KEY] = secret


def sign_out() -> None:
    secret = st.session_state.get(SECRET_KEY)
    if secret:
        with ui.db() as session:
            end_browser_session(session=session, secret=secret)
    for key in list(st.session_state):
        if key in (USER_KEY, SECRET_KEY) or str(key).startswith(USER_STATE_PREFIXES):
            del st.session_state[key]
    st.session_state[CLEAR_COOKIE_KEY] = True  # done on the next run, which draws the form


def _browser_script(script: str) -> None:
    """Run our own script (never user text) in the page: cookie and history only."""
    st.html(f"<script>{script}</script>", unsafe_allow_javascript=True, width=1)


def _set_cookie(secret: str) -> str:
    max_age = int(ui.runtime().settings.browser_session_days * 86400)
    cookie = f"{COOKIE}={secret}; Path=/; Max-Age={max_age}; SameSite=Strict"
    return f"document.cookie = {json.dumps(cookie)};"


_CLEAR_COOKIE = f'document.cookie = "{COOKIE}=; Path=/; Max-Age=0; SameSite=Strict";'
_REPLACE_URL = (
    "const url = new URL(window.location.href); url.searchParams.delete('token');"
    "window.location.replace(url.pathname + url.search + url.hash);"
)


def sign_in_form() -> None:
    if st.session_state.pop(CLEAR_COOKIE_KEY, None):
        _browser_script(_CLEAR_COOKIE)
    st.title("Hyperparameter tuning")
    st.write("Sign in with your API token to see and launch your tuning runs.")
    with st.form("sign_in"):
        token = st.text_input("API token", type="password", key="sign_in.token")
        submitted = st.form_submit_button("Sign in", type="primary")
    if submitted and sign_in(token):
        st.session_state[SET_COOKIE_KEY] = True
        st.rerun()  # the same page, its query parameters kept
    if error := st.session_state.get(SIGN_IN_ERROR_KEY):
        st.error(error)
    st.caption(
        "No token yet? `make run` prints a sign-in link for the local admin; "
        "`python -m tuning users add NAME` creates a user and prints their token."
    )


def sidebar(user: User) -> None:
    """Under the menu: who is signed in, and Sign out."""
    if st.session_state.pop(SET_COOKIE_KEY, None) and st.session_state.get(SECRET_KEY):
        _browser_script(_set_cookie(st.session_state[SECRET_KEY]))
    with st.sidebar:
        role = "admin: sees every user's runs" if user.is_admin else "sees own runs"
        st.caption(f"Signed in as **{plain(user.name)}** ({role})")
        if st.button("Sign out", icon=":material/logout:", key="sign_out"):
            sign_out()
            st.rerun()
