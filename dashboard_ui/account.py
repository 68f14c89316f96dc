"""Signing in, the account in the sidebar, and the signed-in user as a page reads it.

dashboard.py is the frame around every page: it finds the session's user (`session_user()`: a
`?token=` link or an earlier sign-in), shows `sign_in_form()` instead of any page while there is
none, draws `sidebar()` and runs the page `as_user()`; the page reads `signed_in_user()`.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

import streamlit as st

from dashboard_ui import support as ui
from dashboard_ui.text import plain
from tuning.config import PROJECT_ROOT
from tuning.models import User
from tuning.service import authenticate

FRAME = PROJECT_ROOT / "dashboard.py"
USER_KEY = "user"
SIGN_IN_ERROR_KEY = "sign_in_error"
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
    """The browser session's user: signed in by a `?token=` link now, or earlier; else None."""
    sign_in_from_link()
    return st.session_state.get(USER_KEY)


def sign_in(token: str) -> User | None:
    """Sign this browser session in with an API token; None (and a message) when it is wrong."""
    token = token.strip()
    with ui.db() as session:
        user = authenticate(session=session, token=token) if token else None
    if user is None:
        st.session_state[SIGN_IN_ERROR_KEY] = (
            "That token is not valid. Check it, or ask for a new one."
        )
        return None
    st.session_state.pop(SIGN_IN_ERROR_KEY, None)
    st.session_state[USER_KEY] = user
    return user


def sign_in_from_link() -> None:
    """`?token=...` signs in directly; the token is then taken out of the address bar."""
    token = st.query_params.get("token")
    if token is not None:
        del st.query_params["token"]
        sign_in(token)


def sign_out() -> None:
    for key in list(st.session_state):
        if key == USER_KEY or str(key).startswith(USER_STATE_PREFIXES):
            del st.session_state[key]


def sign_in_form() -> None:
    st.title("Hyperparameter tuning")
    st.write("Sign in with your API token to see and launch your tuning runs.")
    with st.form("sign_in"):
        token = st.text_input("API token", type="password", key="sign_in.token")
        submitted = st.form_submit_button("Sign in", type="primary")
    if submitted and sign_in(token):
        st.rerun()  # the same page, its query parameters kept
    if error := st.session_state.get(SIGN_IN_ERROR_KEY):
        st.error(error)
    st.caption(
        "No token yet? `make run` prints a sign-in link for the local admin; "
        "`python -m tuning users add NAME` creates a user and prints their token."
    )


def sidebar(user: User) -> None:
    """Under the menu: who is signed in, and Sign out."""
    with st.sidebar:
        role = "admin: sees every user's runs" if user.is_admin else "sees own runs"
        st.caption(f"Signed in as **{plain(user.name)}** ({role})")
        if st.button("Sign out", icon=":material/logout:", key="sign_out"):
            sign_out()
            st.rerun()
