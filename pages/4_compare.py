"""Compare (`/compare?runs=<id>,<id>`): best scores, best parameters and histories side by side,
each run by its name, with the run it refines."""

import pandas as pd
import streamlit as st

from dashboard_ui import charts
from dashboard_ui import support as ui
from dashboard_ui.account import signed_in_user
from tuning.domain import RunStatus
from tuning.errors import TuningError
from tuning.service import (
    SCORE,
    list_runs,
    param_column,
    run_parent,
    run_trials,
    score_by_value,
    shared_params,
)

CHOICES = 200
PANELS_PER_ROW = 2

user = signed_in_user()
st.title("Compare runs")

with ui.db() as session:
    page = list_runs(
        session=session,
        viewer=user,
        statuses=[RunStatus.SUCCESS, RunStatus.REVOKED, RunStatus.PROGRESS],
        limit=CHOICES,
    )
labels = {str(run.id): ui.run_label(run) for run in page.items}
if "compare.runs" not in st.session_state:  # a shared link preselects its runs
    linked = st.query_params.get("runs", "")
    st.session_state["compare.runs"] = [i for i in linked.split(",") if i in labels]
chosen = st.multiselect(
    "Runs to compare",
    list(labels),
    format_func=labels.__getitem__,
    key="compare.runs",
    placeholder="Choose two or more runs",
)
st.query_params["runs"] = ",".join(chosen)
if len(chosen) < 2:
    st.info("Choose two or more runs to compare them.")
    st.stop()

try:
    with ui.db() as session:
        compared = [run_trials(session=session, run_id=i, viewer=user) for i in chosen]
except TuningError as exc:
    ui.load_error(exc)


def name_of(position: int) -> str:
    """The run's name (else its estimator on its dataset), numbered and with its short id, so
    that two runs called alike stay apart."""
    run = compared[position].run
    return f"{position + 1}. {run.label} ({ui.short_id(run.id)})"


names = [name_of(i) for i in range(len(compared))]


def parent_of(position: int) -> str | None:
    """The run this one refines: its number here if compared, else its label."""
    run = compared[position].run
    if run.parent_id is None:
        return None
    here = [i for i, other in enumerate(compared) if other.run.id == run.parent_id]
    if here:
        return names[here[0]]
    with ui.db() as session:
        parent = run_parent(session=session, run=run, viewer=user)
    if parent is None:  # deleted, or not the viewer's to see
        return f"run {ui.short_id(run.parent_id)}"
    return f"{parent.label} ({ui.short_id(parent.id)})"


rows = []
for position, (name, result) in enumerate(zip(names, compared, strict=True)):
    scored = result.trials[result.trials[SCORE].notna()]
    best = scored.iloc[scored[SCORE].argmax()] if len(scored) else None
    best_params = {p: best[param_column(p)] for p in result.params} if best is not None else {}
    rows.append(
        {
            "run": name,
            "refines": parent_of(position),
            "tags": result.run.tags,
            "status": result.run.status.value,
            "scoring": result.run.scoring,
            "best score": best[SCORE] if best is not None else None,
            "candidates": f"{len(result.trials):,} / {result.run.total_combinations:,}",
            "best parameters": ui.params_words(best_params),
        }
    )
st.dataframe(
    pd.DataFrame(rows).style.map(ui.status_cell_style, subset=["status"]),
    hide_index=True,
    column_config={
        "best score": st.column_config.NumberColumn(format="%.4f"),
        "refines": st.column_config.TextColumn("refines", help="The run this one refines"),
        "tags": st.column_config.ListColumn("tags"),
    },
)
scorings = {result.run.scoring for result in compared}
if len(scorings) > 1:
    st.warning(
        f"These runs are scored differently ({', '.join(sorted(scorings))}): "
        "compare their scores with care."
    )
scoring = " / ".join(sorted(scorings))

frames = {name: result.trials for name, result in zip(names, compared, strict=True)}
st.plotly_chart(charts.best_so_far_figure(frames, scoring=scoring), key="compare.history")

shared = shared_params([result.run for result in compared])
st.subheader("Shared parameters")
if not shared:
    st.info("These runs searched no parameter in common.")
    st.stop()
st.caption("Mean test score by value, one line per run; the bars are the spread across folds.")
estimators = {result.run.estimator for result in compared}
log = set.intersection(*(ui.log_params(e, shared) for e in estimators))
for start in range(0, len(shared), PANELS_PER_ROW):
    row = shared[start : start + PANELS_PER_ROW]
    for column, param in zip(st.columns(PANELS_PER_ROW), row, strict=False):
        tables = {
            name: score_by_value(result.trials, param, result.run.param_grid[param])
            for name, result in zip(names, compared, strict=True)
        }
        figure = charts.shared_param_figure(tables, param, log=param in log, scoring=scoring)
        column.plotly_chart(figure, key=f"compare.param.{param}")
