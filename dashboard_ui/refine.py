"""Refine and relaunch on the dashboard: the grid around a run's best candidates with its cost,
handed to New run, and the links between a run, the run it refines and the runs refining it."""

import pandas as pd
import streamlit as st

from dashboard_ui import support as ui
from dashboard_ui.text import plain
from tuning.errors import InvalidInput, TuningError
from tuning.models import User
from tuning.service import (
    REFINED_CANDIDATES,
    SCORE,
    RefinedGrid,
    RunPlan,
    RunSummary,
    get_run_summary,
    plan_run,
    refine_trials,
    run_children,
    run_like,
    run_parent,
    value_label,
)

# Session state read by New run: the submission to start from (a refined grid, or a run to run
# again; taken once), and the run the new one refines (kept until it is launched or the link is
# dropped).
START_FROM = "new.refine"
PARENT = "new.parent"
TOP_K = 5


def refine_section(run: RunSummary, frame: pd.DataFrame, user: User) -> None:
    """The grid around the run's best candidates, what it costs, and a button to New run."""
    n_scored = int(frame[SCORE].notna().sum())
    st.caption(
        "A grid search around the best candidates: what they had, and finer values between "
        "their neighbours in this run's grid (spaced on a log scale where the parameter is)."
    )
    key = f"results.refine.top_k.{run.id}"
    st.session_state.setdefault(key, min(TOP_K, max(n_scored, 1)))
    top_k = st.number_input(
        "Around the best candidates", min_value=1, max_value=max(n_scored, 1), key=key, width=240
    )
    settings = ui.runtime().settings
    limit = min(REFINED_CANDIDATES, settings.max_candidates)
    try:
        refined = refine_trials(run, frame, top_k=int(top_k), max_candidates=limit)
    except InvalidInput as exc:
        st.info(plain(exc.reason), icon=":material/info:")
        return
    trials = ", ".join(f"#{trial}" for trial in refined.top_trials)
    st.caption(f"Around trials {trials}, at most {limit:,} candidates.")
    st.dataframe(grid_table(run, refined), hide_index=True, key="results.refine.grid")
    try:
        with ui.db() as session:
            plan = plan_run(
                session=session, settings=settings, run_in=refined.run_in(), viewer=user
            )
    except TuningError as exc:
        st.error(plain(exc), icon=":material/error:")
    else:
        plan_metrics(plan, estimator=run.estimator, dataset=run.dataset)
    if st.button("Open in New run", type="primary", icon=":material/tune:", key="results.refine"):
        st.session_state[START_FROM] = refined.run_in()
        st.switch_page(ui.NEW_RUN_PAGE)


def grid_table(run: RunSummary, refined: RefinedGrid) -> pd.DataFrame:
    """Each parameter's refined values next to the run's own."""
    params = list(refined.param_grid)
    return pd.DataFrame(
        {
            "parameter": params,
            "refined values": [_values(refined.param_grid[p]) for p in params],
            "in this run": [_values(run.param_grid[p]) for p in params],
        }
    )


def _values(values: list | dict) -> str:
    """A grid entry as typed: its values, or a range's ends."""
    if isinstance(values, dict):
        scale = " (log)" if values.get("log") else ""
        return f"{value_label(values.get('low'))} to {value_label(values.get('high'))}{scale}"
    return ", ".join(map(value_label, values))


def plan_metrics(plan: RunPlan, *, estimator: str, dataset: str) -> None:
    """What a submission costs: candidates, fits and (after a similar run) a duration."""
    candidates_col, fits_col, duration_col = st.columns(3)
    candidates_col.metric("Candidates", f"{plan.n_candidates:,}")
    fits_col.metric(
        "Fits", f"{plan.n_fits:,}", help=f"{plan.n_candidates:,} candidates x {plan.n_splits} folds"
    )
    if plan.estimate is not None:
        duration_col.metric(
            "Estimated duration",
            ui.format_duration(plan.estimate.seconds),
            help=f"From {plan.estimate.n_similar} finished run(s) of {estimator} "
            f"on {plain(dataset)}",
        )
    else:
        duration_col.metric("Estimated duration", "—", help="Shown once a similar run has finished")


def refines_line(user: User) -> str | None:
    """New run's "Refines run …" line, with a button to drop the link; the run's id, if any."""
    parent_id = st.session_state.get(PARENT)
    if not parent_id:
        return None
    try:
        with ui.db() as session:
            parent = get_run_summary(session=session, run_id=parent_id, viewer=user)
    except TuningError:  # gone, or no longer the user's to see: no link
        st.session_state.pop(PARENT, None)
        return None
    with st.container(horizontal=True, vertical_alignment="center", key="refine.line"):
        st.markdown(
            f"Refines run `{ui.short_id(parent.id)}`: {ui.run_title(parent)}, "
            f"best {ui.format_score(parent.best_score)}"
        )
        st.button(
            "Drop the link", icon=":material/link_off:", on_click=_unlink, key="refine.unlink"
        )
    return str(parent.id)


def _unlink() -> None:
    st.session_state.pop(PARENT, None)


def run_again(run: RunSummary) -> None:
    """A button that opens New run filled with this run's settings, to change and launch."""
    if st.button("Run again…", icon=":material/replay:", key="run.again"):
        st.session_state[START_FROM] = run_like(run)
        st.session_state.pop(PARENT, None)
        st.switch_page(ui.NEW_RUN_PAGE)


def lineage(run: RunSummary, user: User, *, page: str) -> None:
    """Links to the run this one refines and to the runs refining it, on `page`.

    Runs are refined from their results once finished: while a run goes, its children are not
    read, which keeps the monitor's page load to its own reads.
    """
    with ui.db() as session:
        parent = run_parent(session=session, run=run, viewer=user)
        children = (
            run_children(session=session, run_id=run.id, viewer=user)
            if run.status.is_finished
            else []
        )
    if parent is not None:
        with st.container(horizontal=True, vertical_alignment="center"):
            st.markdown("Refined from")
            _link(parent, page)
    if children:
        with st.container(horizontal=True, vertical_alignment="center"):
            st.markdown("Refined by:")
            for child in children:
                _link(child, page)


def _link(run: RunSummary, page: str) -> None:
    st.page_link(
        page,
        label=f"run {ui.short_id(run.id)} ({_described(run)})",
        icon=":material/link:",
        query_params={"run": str(run.id)},
    )


def _described(run: RunSummary) -> str:
    """A linked run in a few words (markdown): its status and best score."""
    return f"{ui.STATUS_WORDS[run.status]}, best {ui.format_score(run.best_score)}"
