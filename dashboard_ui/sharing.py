"""Sharing on the dashboard: the line that says whose a shared run is and what the viewer may
do with it, and the controls with which an owner (or an admin) shares a run or an upload with
named users or everyone, and withdraws a share."""

from collections.abc import Callable
from functools import partial
from typing import Any

import streamlit as st

from dashboard_ui import support as ui
from dashboard_ui.text import plain
from tuning.errors import TuningError
from tuning.models import User
from tuning.service import (
    EVERYONE,
    Access,
    DatasetSummary,
    RunSummary,
    Share,
    dataset_shares,
    run_shares,
    run_viewer_access,
    share_dataset,
    share_run,
    unshare_dataset,
    unshare_run,
    user_names,
)

EVERYONE_LABEL = "Everyone signed in"
RUN_LEVEL_WORDS = {"read": "Read only", "contribute": "Read, add notes and train models"}
DATASET_LEVEL_WORDS = {"use": "Tune and train on it", "download": "Tune on it and download it"}


def run_access(run: RunSummary, user: User) -> Access:
    """What `user` may do with `run`; a line under its title when it is shared with them."""
    with ui.db() as session:
        access = run_viewer_access(session=session, run=run, viewer=user)
    if access.is_shared:
        what = "read-only" if access.role == "read" else "you may read it, add notes and train"
        st.caption(f":material/share: Shared by {plain(run.owner)}, {what}.")
    return access


def share_run_control(run: RunSummary, user: User) -> None:
    """An expander: whom the run is shared with, withdraw a share, share it with more."""
    with st.expander("Share", icon=":material/share:"):
        _control(
            key=f"share.run.{run.id}",
            owner=run.owner,
            levels=RUN_LEVEL_WORDS,
            listed=lambda session: run_shares(session=session, run_id=run.id, viewer=user),
            share=lambda session, name, level: share_run(
                session=session, run_id=run.id, user=name, level=level, by=user
            ),
            unshare=lambda session, *, name: unshare_run(
                session=session, run_id=run.id, user=name, by=user
            ),
        )
        st.caption(
            "Those you share it with find it under **Shared with me** on Runs. Only you and "
            "admins cancel, change, share or delete it."
        )


def share_dataset_control(dataset: DatasetSummary, user: User, *, owner: str) -> None:
    """A popover beside an upload: share it, or withdraw a share."""
    with st.popover("Share", icon=":material/share:"):
        _control(
            key=f"share.dataset.{dataset.id}",
            owner=owner,
            levels=DATASET_LEVEL_WORDS,
            listed=lambda session: dataset_shares(
                session=session, dataset_id=dataset.id, viewer=user
            ),
            share=lambda session, name, level: share_dataset(
                session=session, dataset_id=dataset.id, user=name, level=level, by=user
            ),
            unshare=lambda session, *, name: unshare_dataset(
                session=session, dataset_id=dataset.id, user=name, by=user
            ),
        )
        st.caption("They may pick it in New run; only a download share lets them download it.")


def _control(
    *,
    key: str,
    owner: str,
    levels: dict[str, str],
    listed: Callable[[Any], list[Share]],
    share: Callable[[Any, str, str], Share],
    unshare: Callable[..., None],
) -> None:
    with ui.db() as session:
        shares = listed(session)
        names = [name for name in user_names(session=session) if name != owner]
    for found in shares:
        who_col, withdraw_col = st.columns([3, 1])
        who = EVERYONE_LABEL if found.user == EVERYONE else plain(found.user)
        who_col.markdown(f"**{who}** · {levels[found.level]}")
        if withdraw_col.button("Withdraw", key=f"{key}.withdraw.{found.user}"):
            _apply(partial(unshare, name=found.user))
    if not shares:
        st.caption("Not shared: only you and admins see it.")
    with st.form(f"{key}.form", border=False):
        chosen = st.multiselect(
            "Share with",
            [EVERYONE, *names],
            format_func=lambda name: EVERYONE_LABEL if name == EVERYONE else name,
            key=f"{key}.users",
        )
        level = st.radio(
            "They may", list(levels), format_func=levels.__getitem__, key=f"{key}.level"
        )
        if st.form_submit_button("Share", icon=":material/share:") and chosen:
            _apply(lambda session: [share(session, name, level) for name in chosen])


def _apply(change: Callable[[Any], object]) -> None:
    try:
        with ui.db() as session:
            change(session)
    except TuningError as exc:
        st.error(plain(exc), icon=":material/error:")
    else:
        st.rerun()
