"""New run's list of the user's own uploads: archive one (hidden from the lists, restorable),
restore it, or delete one that no run uses."""

from typing import Any

import streamlit as st

from dashboard_ui import support as ui
from dashboard_ui.text import plain
from tuning.errors import TuningError
from tuning.models import User
from tuning.service import archive_dataset, delete_dataset, list_datasets

# The most uploads listed, newest first; the API lists every one.
SHOWN = 50


def uploads_manager(user: User) -> None:
    """An expander with the viewer's uploads, the archived ones after the others."""
    with ui.db() as session:
        listed = [
            (dataset, archived)
            for archived in (False, True)
            for dataset in list_datasets(session=session, viewer=user, archived=archived)
            if dataset.owner_id is not None
        ]
    if not listed:
        return
    listed.sort(key=lambda pair: (pair[1], -pair[0].created_at.timestamp()))
    with st.expander(f"Your uploads ({len(listed)})"):
        for dataset, archived in listed[:SHOWN]:
            name_col, archive_col, delete_col = st.columns([4, 1, 1])
            state = " · archived" if archived else ""
            name_col.markdown(
                f"**{plain(dataset.name)}** · {dataset.n_rows:,} rows · "
                f"{dataset.created_at:%Y-%m-%d}{state}"
            )
            key = str(dataset.id)
            if archive_col.button("Restore" if archived else "Archive", key=f"archive.{key}"):
                _change(archive_dataset, dataset_id=dataset.id, viewer=user, archived=not archived)
            confirm = f"delete.confirm.{key}"
            if st.session_state.get(confirm):  # a second click deletes: nothing is undone
                if delete_col.button("Sure?", key=f"delete.sure.{key}", type="primary"):
                    st.session_state.pop(confirm)
                    _change(delete_dataset, dataset_id=dataset.id, viewer=user)
            elif delete_col.button("Delete", key=f"delete.{key}"):
                st.session_state[confirm] = True
                st.rerun()


def _change(action: Any, **kwargs: Any) -> None:
    """Apply the change and draw the list again, or say why it was refused (a dataset in use)."""
    try:
        with ui.db() as session:
            action(session=session, **kwargs)
    except TuningError as exc:
        st.error(plain(exc), icon=":material/error:")
        return
    st.rerun()
