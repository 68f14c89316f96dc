"""Workers (`/workers`): the live workers by host, what each runs, how busy each was over the
last hour, and the pool's share by user (an analyst sees their own runs; admins everyone's).
Refreshes itself every few seconds."""

from typing import Any

import pandas as pd
import streamlit as st

from dashboard_ui import support as ui
from dashboard_ui.account import fragment, signed_in_user
from tuning.service import WorkersOverview, workers_overview

REFRESH_S = 5.0

user = signed_in_user()
st.title("Workers")
st.caption(
    "Runs take fair turns: each free worker process takes the next chunk (about a second of "
    "work) of the user with the least work running, then of that user's run with the least; "
    "an admin's higher priority goes first."
)


def workers_table(overview: WorkersOverview) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "host": [worker.host for worker in overview.workers],
            "worker": [worker.hostname for worker in overview.workers],
            "processes": [worker.processes for worker in overview.workers],
            "busy": [len(worker.running) for worker in overview.workers],
            "utilisation": [100 * worker.utilisation for worker in overview.workers],
            "running": [
                [f"{work.label} · chunk {work.chunk}" for work in worker.running]
                for worker in overview.workers
            ],
            "last heartbeat": [ui.local_time(worker.last_seen) for worker in overview.workers],
        }
    )


def shares_table(overview: WorkersOverview) -> pd.DataFrame:
    processes = max(overview.processes, 1)
    return pd.DataFrame(
        {
            "user": [share.user for share in overview.shares],
            "active runs": [share.active_runs for share in overview.shares],
            "chunks running": [share.running for share in overview.shares],
            "share of processes": [100 * share.running / processes for share in overview.shares],
            "chunks waiting": [share.waiting for share in overview.shares],
        }
    )


def percent_column(label: str) -> Any:
    return st.column_config.ProgressColumn(label, min_value=0, max_value=100, format="%.0f%%")


def live() -> None:
    with ui.db() as session:
        overview = workers_overview(session=session, settings=ui.runtime().settings, viewer=user)
    busy = sum(len(worker.running) for worker in overview.workers)
    left, middle, right = st.columns(3)
    left.metric("Live workers", len(overview.workers))
    middle.metric("Processes", overview.processes)
    right.metric("Busy now", f"{busy} / {overview.processes}")
    if not overview.workers:
        st.warning(
            "No worker has sent a heartbeat lately: runs wait until one starts "
            "(`python -m tuning worker`).",
            icon=":material/warning:",
        )
    else:
        st.subheader("By host")
        st.dataframe(
            workers_table(overview),
            hide_index=True,
            column_config={
                "utilisation": percent_column("Utilisation (last hour)"),
                "running": st.column_config.ListColumn("Running"),
                "last heartbeat": st.column_config.DatetimeColumn(format="HH:mm:ss"),
            },
            key="workers.hosts",
        )
    st.subheader("Queue by user")
    if not overview.shares:
        st.info("No run is active.")
        return
    st.dataframe(
        shares_table(overview),
        hide_index=True,
        column_config={"share of processes": percent_column("Share of processes")},
        key="workers.shares",
    )


fragment(live, run_every=REFRESH_S)()
