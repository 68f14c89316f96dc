"""New run's entries, kept for the browser session: across pages, and through the upload step.

Streamlit forgets a widget's value at the end of a script run that did not draw it: a visit to
another page, or New run's upload step (which draws only the upload), emptied every entry, and
the widgets then came back showing defaults that differed from what the page later submitted.
Writing each `new.*` value back at the start of every script run makes it the user's own value,
which Streamlit keeps and sends to the browser when the widget is drawn again (its documented
way to keep widget values across pages). Widgets whose value cannot be set (file uploaders,
buttons, dataframes) take keys outside `new.`.
"""

import streamlit as st

PREFIX = "new."


def keep_form_state() -> None:
    """Keep New run's entries through this script run, whatever it draws."""
    state = st.session_state
    for key in list(state.keys()):
        if isinstance(key, str) and key.startswith(PREFIX):
            state[key] = state[key]
