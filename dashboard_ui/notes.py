"""A run's notes under its pages: who wrote what and when, and a box to add one."""

import streamlit as st

from dashboard_ui import support as ui
from dashboard_ui.text import plain
from tuning.errors import InvalidInput, QuotaExceeded
from tuning.models import User
from tuning.service import NOTE_LIMIT, RunSummary, add_note, list_notes


def run_notes(run: RunSummary, user: User, *, may_add: bool = True) -> None:
    """The notes of `run`, oldest first, and a form to add one where `user` may."""
    with ui.db() as session:
        notes = list_notes(session=session, run_id=run.id, viewer=user)
    with st.expander(f"Notes ({len(notes)})", icon=":material/sticky_note_2:"):
        for note in notes:
            st.markdown(plain(note.text))
            st.caption(f"{plain(note.author)} · {ui.format_time(note.created_at)}")
        if not may_add:
            return
        with st.form(f"notes.{run.id}", clear_on_submit=True, border=False):
            text = st.text_area(
                "Add a note", max_chars=NOTE_LIMIT, key=f"notes.text.{run.id}", height=80
            )
            if st.form_submit_button("Add note", icon=":material/add:"):
                try:
                    with ui.db() as session:
                        add_note(
                            session=session,
                            settings=ui.runtime().settings,
                            run_id=run.id,
                            author=user,
                            text=text,
                        )
                except InvalidInput as exc:
                    st.error(plain(exc.reason))
                except QuotaExceeded as exc:
                    st.error(plain(exc))
                else:
                    st.rerun()
