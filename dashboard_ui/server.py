"""The dashboard's web server: Streamlit's own (`st.App`, on Starlette) serving dashboard.py,
with what a script cannot do itself. `make run` starts it as `streamlit run
dashboard_ui/server.py`.

- **The sign-in cookie is set by the server**, so that it is HttpOnly (no script on the page
  can read it) and Secure when the dashboard is served over HTTPS: the page's own script
  (`sign_in.tell_the_browser`) posts a live sign-in's secret to `/_tuning/cookie`, which checks
  it against the database and answers with the Set-Cookie; and asks it to clear an ended one.
- **Streamlit's metrics and media files are for signed-in users only**: `/_stcore/metrics` and
  `/media/…` (downloads of models, results and uploads) answer 401 without a live sign-in
  cookie or an API token.
"""

import streamlit as st
from starlette.middleware import Middleware

from dashboard_ui.server_routes import SignedInOnly, cookie_route
from tuning.config import PROJECT_ROOT, get_settings

app = st.App(
    PROJECT_ROOT / "dashboard.py",
    routes=[cookie_route(get_settings())],
    middleware=[Middleware(SignedInOnly, settings=get_settings())],
)
