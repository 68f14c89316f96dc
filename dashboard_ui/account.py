"""Signing in, and the frame every page starts with: `require_user()` at its top.

Streamlit runs a page file on its own (auto-discovery of pages/, dashboard.py being the home
page): no script runs before it, so each page guards itself by calling `require_user()` first.
"""

import streamlit as st

from dashboard_ui import support as ui
from tuning.models import User
from tuning.service import authenticate

USER_KEY = "user"
SIGN_IN_ERROR_KEY = "sign_in_error"
# Per-session caches that belong to one signed-in user, dropped when they sign out.
USER_STATE_PREFIXES = ("monitor.", "runs.", "new.", "results.", "compare.", "models.")

# The sidebar's menu. Streamlit's own (hidden in .streamlit/config.toml) would name the home
# page after its file, "dashboard", and list every page before sign-in too.
MENU = [
    (ui.RUNS_PAGE, "Runs", ":material/list:"),
    (ui.NEW_RUN_PAGE, "New run", ":material/add_circle:"),
    (ui.RUN_PAGE, "Run monitor", ":material/monitoring:"),
    (ui.RESULTS_PAGE, "Results", ":material/insights:"),
    (ui.COMPARE_PAGE, "Compare", ":material/compare:"),
    (ui.MODELS_PAGE, "Models", ":material/model_training:"),
]


def require_user(title: str) -> User:
    """Start a page: the signed-in user, or the sign-in form and a stop when there is none.

    A `?token=` link signs in on any page; once signed in (by link or form) the page asked
    for runs, with its query parameters (`?run=<id>`). Also sets the browser tab's title and
    draws the sidebar: the menu, the account and Sign out.
    """
    st.set_page_config(page_title=f"{title} · Tuning", page_icon=":material/tune:", layout="wide")
    sign_in_from_link()
    user = current_user()
    if user is None:
        sign_in_form()
        st.stop()
    sidebar(user)
    return user


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


def current_user() -> User | None:
    return st.session_state.get(USER_KEY)


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
    with st.sidebar:
        for page, label, icon in MENU:
            st.page_link(page, label=label, icon=icon)
        st.divider()
        role = "admin: sees every user's runs" if user.is_admin else "sees own runs"
        st.caption(f"Signed in as **{user.name}** ({role})")
        if st.button("Sign out", icon=":material/logout:", key="sign_out"):
            sign_out()
            st.rerun()
