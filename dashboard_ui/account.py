"""Signing in, the account in the sidebar, and the signed-in user as a page reads it.

dashboard.py is the frame around every page: it finds the session's user (`session_user()`:
a `?token=` link or an earlier sign-in, checked against the database at every script run),
shows `sign_in_form()` instead of any page while there is none (`switch_prompt()` while a link
for another user waits for an answer), draws `sidebar()` and runs the page `as_user()`; the
page reads `signed_in_user()`. What runs without the frame checks the sign-in itself: a page's
`fragment()` (its timer or a widget inside it reruns it alone) and a callback that writes
(`signed_in_only`, since callbacks run before the script).
"""

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import ParamSpec

import streamlit as st

from dashboard_ui import faults, sign_in
from dashboard_ui.sign_in_link import follow_link, switch_error, switch_prompt, token_done
from dashboard_ui.text import plain
from tuning.config import PROJECT_ROOT
from tuning.models import User

__all__ = [
    "as_user",
    "fragment",
    "page_done",
    "session_user",
    "sidebar",
    "sign_in_form",
    "signed_in_only",
    "signed_in_user",
    "switch_prompt",
]

FRAME = PROJECT_ROOT / "dashboard.py"
P = ParamSpec("P")

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
    """The browser session's user: its sign-in (from this tab, or the cookie this browser
    keeps) if the database still has it, or a `?token=` link's; the cookie and the address
    bar are brought in line (`sign_in.tell_the_browser`)."""
    user = follow_link(sign_in.current_user())
    sign_in.tell_the_browser(drop_token=token_done())
    return user


def page_done() -> None:
    """The page ran to its end: what it sent reached the browser (`sign_in.script_done`)."""
    sign_in.script_done()


def fragment(body: Callable[P, None], *, run_every: float | None = None) -> Callable[P, None]:
    """`st.fragment` for the pages: a rerun of the fragment alone (its timer, or a widget in
    it) checks the sign-in first, and once it has ended reruns the app, which shows the form."""

    @functools.wraps(body)
    def checked(*args: P.args, **kwargs: P.kwargs) -> None:
        if _page_user.get(None) is not None:  # in the frame's run, which checked it
            body(*args, **kwargs)  # and says what it raises
            return
        with faults.in_words():  # a rerun of the fragment alone: said here
            user = sign_in.current_user()
            if user is None:
                st.rerun(scope="app")
            with as_user(user):
                body(*args, **kwargs)

    return st.fragment(checked, run_every=run_every)


def signed_in_only(callback: Callable[P, None]) -> Callable[P, None]:
    """For a widget's callback that writes: callbacks run before the script (and its check),
    so this one checks first and does nothing once the sign-in has ended."""

    @functools.wraps(callback)
    def checked(*args: P.args, **kwargs: P.kwargs) -> None:
        if sign_in.current_user() is not None:
            callback(*args, **kwargs)

    return checked


def sign_in_form() -> None:
    st.title("Hyperparameter tuning")
    st.write("Sign in with your API token to see and launch your tuning runs.")
    if notice := st.session_state.pop(sign_in.NOTICE_KEY, None):
        st.info(notice)
    with st.form("sign_in"):
        token = st.text_input("API token", type="password", key="sign_in.token")
        submitted = st.form_submit_button("Sign in", type="primary")
    if submitted and sign_in.sign_in(token):
        st.rerun()  # the same page, its query parameters kept
    if error := st.session_state.get(sign_in.SIGN_IN_ERROR_KEY):
        st.error(error)
    st.caption(
        "No token yet? `make run` prints a sign-in link for the local admin; "
        "`python -m tuning users add NAME` creates a user and prints their token."
    )


def sidebar(user: User) -> None:
    """Under the menu: who is signed in, and Sign out."""
    switch_error()
    with st.sidebar:
        role = "admin: sees every user's runs" if user.is_admin else "sees own runs"
        st.caption(f"Signed in as **{plain(user.name)}** ({role})")
        if st.button("Sign out", icon=":material/logout:", key="sign_out"):
            sign_in.sign_out()
            st.rerun()
