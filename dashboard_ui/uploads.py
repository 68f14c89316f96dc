"""New run's list of the user's own uploads: archive one (hidden from the lists, restorable),
restore it, delete one that no run uses, share it or download it; and the uploads others
shared with the user, to download where their share allows it."""

from typing import Any

import streamlit as st

from dashboard_ui import support as ui
from dashboard_ui.sharing import share_dataset_control
from dashboard_ui.text import plain
from tuning.errors import TuningError
from tuning.models import User
from tuning.service import (
    archive_dataset,
    dataset_file,
    delete_dataset,
    list_datasets,
    shared_datasets,
)

# The most uploads listed, newest first; the API lists every one.
SHOWN = 50


def uploads_manager(user: User) -> None:
    """An expander with the viewer's uploads, the archived ones after the others."""
    with ui.db() as session:
        listed = [
            (dataset, archived)
            for archived in (False, True)
            for dataset in list_datasets(session=session, viewer=user, archived=archived)
            if dataset.owner_id == user.id or (dataset.owner_id is not None and user.is_admin)
        ]
        shared = shared_datasets(session=session, viewer=user)
    if shared:
        _shared_with_me(shared, user)
    if not listed:
        return
    listed.sort(key=lambda pair: (pair[1], -pair[0].created_at.timestamp()))
    with st.expander(f"Your uploads ({len(listed)})"):
        for dataset, archived in listed[:SHOWN]:
            name_col, share_col, download_col, archive_col, delete_col = st.columns([4, 1, 1, 1, 1])
            state = " · archived" if archived else ""
            name_col.markdown(
                f"**{plain(dataset.name)}** · {dataset.n_rows:,} rows · "
                f"{dataset.created_at:%Y-%m-%d}{state}"
            )
            key = str(dataset.id)
            with share_col:
                share_dataset_control(dataset, user, owner=user.name)
            _download(download_col, dataset.id, dataset.name, user)
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


def _shared_with_me(shared: list[Any], user: User) -> None:
    with st.expander(f"Uploads shared with you ({len(shared)})"):
        for dataset in shared[:SHOWN]:
            name_col, download_col = st.columns([4, 1])
            may = "pick it in the form above" + (
                ", download it" if dataset.level == "download" else ""
            )
            name_col.markdown(
                f"**{plain(dataset.name)}** · {dataset.n_rows:,} rows · shared by "
                f"{plain(dataset.owner)}: {may}"
            )
            if dataset.level == "download":
                _download(download_col, dataset.id, dataset.name, user)


def _download(column: Any, dataset_id: Any, name: str, user: User) -> None:
    """A button that reads the upload's file, then the download in its place: the files are
    not read for the list."""
    key = f"uploads.download.{dataset_id}"
    if not st.session_state.get(key):
        if column.button("Download", key=f"{key}.prepare", icon=":material/download:"):
            st.session_state[key] = True
            st.rerun()
        return
    try:
        with ui.db() as session:
            content = dataset_file(session=session, dataset_id=dataset_id, viewer=user)
    except TuningError as exc:
        column.error(plain(exc), icon=":material/error:")
        return
    column.download_button(
        "Save CSV", content, file_name=f"{name}.csv", mime="text/csv", key=f"{key}.file"
    )
