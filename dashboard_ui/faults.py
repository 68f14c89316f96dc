"""What a page shows for an error no page caught: words, never a traceback.

A full or read-only database, disk or Redis is said as such (`tuning.storage`); anything else
gets an error id, and its traceback goes to the dashboard's log under that id. The frame
(dashboard.py) runs every page inside `in_words()`, and so does every page's `fragment()`.
"""

import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import streamlit as st

from dashboard_ui.text import plain
from tuning.errors import TuningError
from tuning.storage import storage_error

log = logging.getLogger(__name__)


@contextmanager
def in_words(*, then_stop: bool = False) -> Iterator[None]:
    """Run a page (or a fragment) inside this block: an error it raises is shown in words,
    and with `then_stop` the script run ends there. Streamlit's own st.stop and st.rerun are
    no Exception, and pass."""
    try:
        yield
    except Exception as exc:  # noqa: BLE001 - the page's last resort: every error is said
        show(exc)
        if then_stop:
            st.stop()


def show(exc: Exception) -> None:
    """`exc` as a page's st.error."""
    unwritable = storage_error(exc)
    if unwritable is not None:
        st.error(plain(unwritable), icon=":material/storage:")
        return
    if isinstance(exc, TuningError):
        st.error(plain(exc), icon=":material/error:")
        return
    error_id = uuid.uuid4().hex[:12]
    log.error("error %s on a dashboard page", error_id, exc_info=exc)
    st.error(
        f"Something went wrong ({plain(type(exc).__name__)}, error id {error_id}). The "
        "dashboard's log has the details under that id; reloading the page tries again.",
        icon=":material/error:",
    )
