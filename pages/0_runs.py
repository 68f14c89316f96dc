"""Runs, the home page (`/`): the signed-in user's runs (an admin's: everyone's), newest first,
then under "Shared with me" the runs other users shared with them.

Filters by status, estimator, dataset and tag, archived runs hidden unless asked; a click on a
row opens the run.
"""

import uuid
from typing import TypedDict

import pandas as pd
import streamlit as st

from dashboard_ui import support as ui
from dashboard_ui.account import fragment, signed_in_user
from tuning.domain import RunStatus
from tuning.schemas import QueuePlace
from tuning.service import (
    PAGE_SIZE,
    Page,
    RunSummary,
    list_runs,
    queue_places,
    run_filter_options,
)

# Seconds between refreshes while a listed run is queued or running.
REFRESH_S = 5.0

user = signed_in_user()
st.title("Runs")

with ui.db() as session:
    options = run_filter_options(session=session, viewer=user)


def first_page() -> None:
    st.session_state.pop("runs.page", None)


status_col, estimator_col, dataset_col, tag_col = st.columns(4)
statuses = status_col.multiselect(
    "Status",
    list(RunStatus),
    format_func=lambda s: s.value,
    key="runs.status",
    on_change=first_page,
)
estimators = estimator_col.multiselect(
    "Estimator", options.estimators, key="runs.estimator", on_change=first_page
)
datasets = dataset_col.multiselect(
    "Dataset", options.datasets, key="runs.dataset", on_change=first_page
)
tags = tag_col.multiselect(
    "Tags", options.tags, key="runs.tags", on_change=first_page, help="Runs with any of these tags"
)
show_archived = st.toggle(
    "Show archived", key="runs.archived", on_change=first_page, help="Archived runs as well"
)


class RunFilters(TypedDict):
    """The filters above, as list_runs takes them."""

    statuses: list[RunStatus]
    estimators: list[str]
    datasets: list[str]
    tags: list[str]
    archived: bool | None  # False: hide the archived runs; None: show them too


filters = RunFilters(
    statuses=statuses,
    estimators=estimators,
    datasets=datasets,
    tags=tags,
    archived=None if show_archived else False,
)


def table_of(page: Page[RunSummary], places: dict[uuid.UUID, QueuePlace]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": [str(run.id) for run in page.items],
            "name": [run.label for run in page.items],
            "tags": [run.tags for run in page.items],
            "archived": [run.archived_at is not None for run in page.items],
            "status": [run.status.value for run in page.items],
            "estimator": [run.estimator for run in page.items],
            "dataset": [run.dataset for run in page.items],
            "owner": [run.owner for run in page.items],
            "best score": [run.best_score for run in page.items],
            "scoring": [run.scoring for run in page.items],
            "progress": [run.percentage for run in page.items],
            "queue": [queue_cell(places.get(run.id)) for run in page.items],
            "started": [ui.local_time(run.started_at or run.created_at) for run in page.items],
            "duration": [ui.format_duration(run.duration_s()) for run in page.items],
        }
    )


def queue_cell(place: QueuePlace | None) -> str | None:
    """A queued run's place: "2nd in line · ~40s"; None for every other run."""
    if place is None:
        return None
    when = (
        "next free process"
        if place.expected_start_s <= 0
        else ui.format_duration(place.expected_start_s)
    )
    return f"#{place.position} in line · starts in ~{when}"


COLUMNS = {
    "id": None,  # kept for the click, not shown
    "name": st.column_config.TextColumn("Name", help="Its estimator on its dataset if unnamed"),
    "tags": st.column_config.ListColumn("Tags"),
    "archived": st.column_config.CheckboxColumn("Archived", width="small"),
    "status": st.column_config.TextColumn("Status", width="small"),
    "estimator": st.column_config.TextColumn("Estimator"),
    "dataset": st.column_config.TextColumn("Dataset"),
    "owner": st.column_config.TextColumn("Owner"),
    "best score": st.column_config.NumberColumn("Best score", format="%.4f"),
    "scoring": st.column_config.TextColumn("Scoring"),
    "progress": st.column_config.ProgressColumn(
        "Progress", min_value=0, max_value=100, format="%.0f%%"
    ),
    "queue": st.column_config.TextColumn(
        "Queue", help="A queued run's place, and when it should start from chunk times"
    ),
    "started": st.column_config.DatetimeColumn("Started", format="YYYY-MM-DD HH:mm:ss"),
    "duration": st.column_config.TextColumn("Duration"),
}


def runs_table(live: bool) -> None:
    """The table; it refreshes on a timer while it lists an active run (`live`)."""
    offset = (st.session_state.get("runs.page", 1) - 1) * PAGE_SIZE
    with ui.db() as session:
        page = list_runs(session=session, viewer=user, offset=offset, **filters)
        if not page.items and offset:  # past the end since the filters changed: the first page
            page = list_runs(session=session, viewer=user, **filters)
        queued = any(run.status is RunStatus.PENDING for run in page.items)
        places = queue_places(session=session, settings=ui.runtime().settings) if queued else {}
    any_active = any(run.is_active for run in page.items)
    if any_active != live:  # start or stop the timer
        st.session_state["runs.live"] = any_active
        st.rerun(scope="app")
    if not page.items:
        st.info("No runs here yet. Launch one from **New run**.")
        st.page_link(ui.NEW_RUN_PAGE, label="New run", icon=":material/add_circle:")
        return
    table = table_of(page, places)
    columns = dict(COLUMNS) if user.is_admin else {**COLUMNS, "owner": None}
    if not places:
        columns["queue"] = None
    if not show_archived:
        columns["archived"] = None
    event = st.dataframe(
        table.style.map(ui.status_cell_style, subset=["status"]),
        column_config=columns,
        hide_index=True,
        on_select="rerun",
        selection_mode="single-row",
        key="runs.table",
    )
    shown = f"{len(page.items)} of {page.total:,} runs"
    st.caption(
        f"{shown}. Select a row to open the run."
        + (" Refreshing while runs are active." if live else "")
    )
    if page.total > PAGE_SIZE:
        st.pagination(-(-page.total // PAGE_SIZE), key="runs.page")
    if event.selection.rows:
        run_id = table["id"].iloc[event.selection.rows[0]]
        st.switch_page(ui.RUN_PAGE, query_params={"run": run_id})


def shared_table() -> None:
    """Other users' runs shared with the viewer, under the filters; nothing when there are none."""
    with ui.db() as session:
        page = list_runs(session=session, viewer=user, shared_with_me=True, **filters)
    if not page.items:
        return
    st.subheader("Shared with me")
    table = table_of(page, {})
    event = st.dataframe(
        table.style.map(ui.status_cell_style, subset=["status"]),
        column_config={**COLUMNS, "archived": None, "queue": None},
        hide_index=True,
        on_select="rerun",
        selection_mode="single-row",
        key="runs.shared",
    )
    st.caption(
        f"The newest {len(page.items)} of {page.total:,} runs shared with you: read-only, unless "
        "their owner let you add notes and train."
    )
    if event.selection.rows:
        st.switch_page(ui.RUN_PAGE, query_params={"run": table["id"].iloc[event.selection.rows[0]]})


live = bool(st.session_state.get("runs.live"))
fragment(runs_table, run_every=REFRESH_S if live else None)(live)
shared_table()
