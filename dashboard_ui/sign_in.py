"""This browser session's sign-in: its secret, its user, and the cookie that carries it.

A sign-in is a row in the database (tuning.service: `start_browser_session`); the browser holds
its secret in a cookie and this Streamlit session in its state. `current_user()` looks the row
up at every script run, so a sign-in that ends anywhere (Sign out in another tab, a new token,
`users revoke`, its expiry) ends here at the next click. The browser is told what to do with
the cookie and the address bar by `tell_the_browser()`, a script of our own, at every full run
until it is done (see there why once is not enough).
"""

import json

import streamlit as st

from dashboard_ui import support as ui
from dashboard_ui.session_cookie import COOKIE, COOKIE_ROUTE
from tuning.models import User
from tuning.service import (
    authenticate,
    browser_session_user,
    end_browser_session,
    start_browser_session,
)

USER_KEY = "user"
SECRET_KEY = "sign_in.secret"  # this session's sign-in, as the cookie holds it
COOKIE_READ_KEY = "sign_in.cookie_read"  # the cookie is read once, at the session's first run
ENDED_KEY = "sign_in.ended"  # an ended sign-in's secret: cleared from the cookie if still there
NOTICE_KEY = "sign_in.notice"  # why the form is back
SIGN_IN_ERROR_KEY = "sign_in_error"
SENT_KEY = "sign_in.script_sent"  # the browser script of the last run, and of the last whole one
DONE_KEY = "sign_in.script_done"
# Per-session caches that belong to one signed-in user, dropped when the sign-in ends.
USER_STATE_PREFIXES = (
    "monitor.",
    "runs.",
    "new.",
    "results.",
    "compare.",
    "models.",
    "workers.",
    "share.",
)
ENDED = "Your sign-in has ended: signed out elsewhere, a new token, or it expired. Sign in again."
WRONG_TOKEN = "That token is not valid. Check it, or ask for a new one."


def current_user() -> User | None:
    """The user of this session's sign-in, read from the database (one lookup by the secret's
    hash, the table's primary key); None, and this session signed out, once it has ended."""
    secret = _secret()
    if secret is None:
        return None
    with ui.db() as session:
        user = browser_session_user(session=session, secret=secret)
    if user is None:
        if USER_KEY in st.session_state:
            st.session_state[NOTICE_KEY] = ENDED
        forget()
        return None
    st.session_state[USER_KEY] = user  # fresh: a change of name or role shows at once
    return user


def _secret() -> str | None:
    state = st.session_state
    if SECRET_KEY not in state and not state.get(COOKIE_READ_KEY):
        state[COOKIE_READ_KEY] = True
        cookie = st.context.cookies.get(COOKIE)
        if isinstance(cookie, str) and cookie:  # AppTest's stand-in client has no cookies
            state[SECRET_KEY] = cookie
    secret = state.get(SECRET_KEY)
    return secret if isinstance(secret, str) else None


def sign_in(token: str) -> User | None:
    """Sign this session in with an API token; None (and a message) when it is wrong."""
    with ui.db() as session:
        user = authenticate(session=session, token=token.strip()) if token.strip() else None
    if user is None:
        st.session_state[SIGN_IN_ERROR_KEY] = WRONG_TOKEN
        return None
    return _start(user)


def switch_to(token: str) -> User | None:
    """End this session's sign-in (its row) and sign in with `token` instead; None, and the
    present sign-in kept, when the token no longer works."""
    with ui.db() as session:
        user = authenticate(session=session, token=token)
        if user is None:
            return None
        if secret := st.session_state.get(SECRET_KEY):
            end_browser_session(session=session, secret=secret)
    forget()
    return _start(user)


def _start(user: User) -> User:
    with ui.db() as session:
        lifetime_s = ui.runtime().settings.browser_session_days * 86400
        secret = start_browser_session(session=session, user=user, lifetime_s=lifetime_s)
    for key in (SIGN_IN_ERROR_KEY, NOTICE_KEY, ENDED_KEY):
        st.session_state.pop(key, None)
    st.session_state[USER_KEY] = user
    st.session_state[SECRET_KEY] = secret
    return user


def sign_out() -> None:
    """End this sign-in everywhere (its row), then here."""
    if secret := st.session_state.get(SECRET_KEY):
        with ui.db() as session:
            end_browser_session(session=session, secret=secret)
    forget()


def forget() -> None:
    """Sign this session out here: its user, its secret and the user's page state go; the
    cookie is cleared at the next run if it still holds this secret (not another sign-in's)."""
    state = st.session_state
    if secret := state.get(SECRET_KEY):
        state[ENDED_KEY] = secret
    for key in list(state):
        if key in (USER_KEY, SECRET_KEY) or str(key).startswith(USER_STATE_PREFIXES):
            del state[key]


def tell_the_browser(*, drop_token: bool) -> None:
    """Keep this session's sign-in in the cookie (clear an ended one) and, with `drop_token`,
    load the address without `?token=` in place of the one with it.

    Sent at every full script run until a run that carried it has ended whole (`script_done`):
    a page that reruns at once (Runs starting its timer) makes Streamlit drop the elements its
    run had not yet sent, one-off script and all. A sign-in link's script ends the session
    anyway, by loading the new address."""
    state, calls = st.session_state, []
    secret = state.get(SECRET_KEY)
    if secret and st.context.cookies.get(COOKIE) != secret:
        calls.append(_cookie_call({"secret": secret}))
    elif secret is None and (ended := state.get(ENDED_KEY)):
        calls.append(_cookie_call({"ended": ended}))
    if drop_token:
        calls.append(_REPLACE_URL)
    # In order: the address is replaced only once the server has set the cookie.
    script = f"<script>(async () => {{ {' '.join(calls)} }})();</script>" if calls else None
    state[SENT_KEY] = script
    if script is not None and script != state.get(DONE_KEY):
        # Our own script (never user text) in the page: the cookie route and history only.
        st.html(script, unsafe_allow_javascript=True, width=1)


def script_done() -> None:
    """This script run ended whole: the browser has had its script (the frame's last call)."""
    st.session_state[DONE_KEY] = st.session_state.get(SENT_KEY)


def _cookie_call(body: dict[str, str]) -> str:
    """Ask the dashboard's server to set (or clear) the cookie: only a response can make it
    HttpOnly (`dashboard_ui.server`); a failure leaves the cookie as it was."""
    return (
        f"try {{ await fetch({json.dumps(COOKIE_ROUTE)}, {{method: 'POST', "
        "credentials: 'same-origin', headers: {'Content-Type': 'application/json'}, "
        f"body: {json.dumps(json.dumps(body))}}}); }} catch (e) {{}}"
    )


# The same address without the token, *replacing* the history entry that held it, so Back never
# returns to it. (Taking the token out through `st.query_params` would push a new entry and
# leave the old one, token and all, one Back away.)
_REPLACE_URL = (
    "const url = new URL(window.location.href); url.searchParams.delete('token');"
    "window.location.replace(url.pathname + url.search + url.hash);"
)
