"""The dashboard (`streamlit run dashboard.py`, started by `make run`): the frame around every page.

Every script run starts here: the sign-in is checked against the database, st.navigation
picks the page the URL names (the files in pages/, listed in `dashboard_ui.support.MENU`);
signed out, the sign-in form takes its place and the menu stays hidden; signed in, the sidebar
shows the menu, the account and Sign out, and the page runs (or, after another user's sign-in
link, the question whether to switch). Signing in keeps the URL, so a deep link opens its page,
query parameters and all. See docs/dashboard.md.
"""

import sys

import streamlit as st

if "dashboard_ui.support" not in sys.modules:
    # This server's first page: importing scikit-learn, pandas and plotly takes seconds, once
    # per server. Show the frame and a spinner meanwhile rather than a blank page.
    starting = st.empty()
    with starting.container(), st.spinner("Starting the dashboard…"):
        st.title("Hyperparameter tuning")
        import dashboard_ui.support  # noqa: F401
    starting.empty()

from dashboard_ui import account, faults
from dashboard_ui import support as ui
from dashboard_ui.form_state import keep_form_state

with faults.in_words(then_stop=True):  # the sign-in reads the database: say why it cannot
    user = account.session_user()
page = st.navigation(ui.pages(), position="sidebar" if user else "hidden")
st.set_page_config(page_title=f"{page.title} · Tuning", page_icon=":material/tune:", layout="wide")
if user is None:
    account.sign_in_form()
    st.stop()
account.sidebar(user)
keep_form_state()
if account.switch_prompt(user):
    st.stop()
with account.as_user(user), faults.in_words():
    page.run()
account.page_done()
