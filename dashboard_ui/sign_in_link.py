"""A `?token=` sign-in link, on any page: it signs a signed-out browser in, is dropped when it is
the signed-in user's own, and asks first when it is another user's.

Asking stops a link from quietly moving a browser to another account (whoever sent it would
then see what its owner uploads there): "You are signed in as A. Sign in as B instead?"
Switch ends A's sign-in (its row) and signs in as B; Stay keeps A. Either way, and once any
link is followed, the address loses its token (`sign_in.tell_the_browser`).
"""

import streamlit as st

from dashboard_ui import sign_in
from dashboard_ui import support as ui
from dashboard_ui.text import plain
from tuning.models import User
from tuning.service import authenticate

LINK_KEY = "sign_in.link"  # the `?token=` this session has followed
SWITCH_KEY = "sign_in.switch_to"  # (token, name): another user's link, waiting for an answer
SWITCH_ERROR_KEY = "sign_in.switch_error"


def follow_link(user: User | None) -> User | None:
    """The session's user after the address's `?token=` link, if any, is followed (once)."""
    token = st.query_params.get("token")
    if token is None or st.session_state.get(LINK_KEY) == token:
        return user
    st.session_state[LINK_KEY] = token
    if user is None:
        return sign_in.sign_in(token)
    with ui.db() as session:
        linked = authenticate(session=session, token=token.strip())
    if linked is not None and linked.id != user.id:
        st.session_state[SWITCH_KEY] = (token.strip(), linked.name)
    return user  # their own link, or a wrong one: stay signed in, drop it from the address


def token_done() -> bool:
    """Whether the address still holds a link this session has followed and answered."""
    token = st.query_params.get("token")
    return (
        token is not None
        and st.session_state.get(LINK_KEY) == token
        and SWITCH_KEY not in st.session_state
    )


def switch_prompt(user: User) -> bool:
    """Ask before another user's link switches accounts: True while asking (instead of the
    page); an answer reruns the app."""
    pending = st.session_state.get(SWITCH_KEY)
    if pending is None:
        return False
    token, name = pending
    st.title("Switch account?")
    st.write(f"You are signed in as **{plain(user.name)}**. Sign in as **{plain(name)}** instead?")
    switch_col, stay_col, _ = st.columns([1, 1, 3])
    if switch_col.button("Switch", type="primary", key="sign_in.switch"):
        del st.session_state[SWITCH_KEY]
        if sign_in.switch_to(token) is None:
            st.session_state[SWITCH_ERROR_KEY] = f"The link for {name} no longer works."
        st.rerun()
    if stay_col.button(f"Stay as {plain(user.name)}", key="sign_in.stay"):
        del st.session_state[SWITCH_KEY]
        st.rerun()
    return True


def switch_error() -> None:
    """Why a Switch did not happen, once, above the page."""
    if error := st.session_state.pop(SWITCH_ERROR_KEY, None):
        st.error(plain(error))
