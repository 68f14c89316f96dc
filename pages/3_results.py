"""Results (`/results?run=<id>`): which parameters mattered, every trial, the best estimator."""

from typing import Literal

import streamlit as st

from dashboard_ui import charts
from dashboard_ui import support as ui
from dashboard_ui.account import signed_in_user
from dashboard_ui.text import plain
from tuning.domain import RunStatus
from tuning.errors import TuningError
from tuning.service import (
    SCORE,
    param_column,
    parameter_importance,
    reproduce_snippet,
    run_trials,
    score_by_value,
    score_table,
    trials_csv,
)

PANELS_PER_ROW = 2
# How the two-parameter table sums up the candidates of a cell (score_table's `how`).
AGGREGATES: list[Literal["mean", "max"]] = ["mean", "max"]

user = signed_in_user()
run_id = ui.run_query_param() or ui.choose_run(
    user, statuses=(RunStatus.SUCCESS, RunStatus.REVOKED, RunStatus.FAILURE)
)
try:
    with ui.db() as session:
        results = run_trials(session=session, run_id=run_id, viewer=user)
except TuningError as exc:
    ui.load_error(exc)

run, frame, params = results.run, results.trials, results.params
log = ui.log_params(run.estimator, params)
scored = frame[frame[SCORE].notna()]

st.title(f"Results: {ui.run_title(run)}")
ui.status_badge(run.status)
st.caption(
    f"Run `{run.id}` · {len(frame):,} of {run.total_combinations:,} candidates · "
    f"{run.cv}-fold CV · scoring **{run.scoring}** · by {plain(run.owner)}"
)
if run.is_active:
    st.info("This run is still going: these are the results so far.")
    st.page_link(
        ui.RUN_PAGE,
        label="Watch it live",
        icon=":material/monitoring:",
        query_params={"run": str(run.id)},
    )
if run.status is RunStatus.FAILURE:
    st.error(ui.failure_text(run.error_type, run.error_message), icon=":material/error:")
if run.status is RunStatus.REVOKED:
    st.warning("This run was cancelled: the results cover the candidates it finished.")
if scored.empty:
    st.info("No candidate has a score yet, so there is nothing to chart.")
    st.stop()

best = scored.iloc[scored[SCORE].argmax()]
best_params = {p: best[param_column(p)] for p in params}
score_col, trial_col, candidates_col, time_col = st.columns(4)
score_col.metric(
    f"Best {run.scoring}",
    ui.format_score(best[SCORE]),
    help=f"± {best['std_test_score']:.4f} across folds",
)
trial_col.metric("Best trial", f"#{int(best['trial'])}")
candidates_col.metric("Candidates scored", f"{len(scored):,} / {len(frame):,}")
time_col.metric("Tuning time", ui.format_duration(run.tuning_time or run.duration_s()))

# --- What mattered ----------------------------------------------------------------------
importance = parameter_importance(frame, params)
importance_col, history_col = st.columns(2)
with importance_col:
    st.plotly_chart(charts.importance_figure(importance), key="results.importance")
    st.caption("How much of the spread in scores each parameter explains on its own.")
with history_col:
    st.plotly_chart(
        charts.best_so_far_figure({run.estimator: frame}, scoring=run.scoring),
        key="results.history",
    )

st.subheader("Score by parameter")
st.caption(
    "Mean test score of the candidates with each value; the bar is its spread across "
    "folds, the star the best candidate."
)
ordered = list(importance["parameter"])
for start in range(0, len(ordered), PANELS_PER_ROW):
    for column, param in zip(
        st.columns(PANELS_PER_ROW), ordered[start : start + PANELS_PER_ROW], strict=False
    ):
        table = score_by_value(frame, param, run.param_grid[param])
        figure = charts.score_by_param_figure(table, param, log=param in log, scoring=run.scoring)
        column.plotly_chart(figure, key=f"results.param.{param}")

if len(params) >= 2:
    st.subheader("Two parameters together")
    rows_col, columns_col, how_col = st.columns([2, 2, 1])
    rows = rows_col.selectbox("Rows", ordered, index=0, key="results.rows")
    columns = columns_col.selectbox(
        "Columns", [p for p in ordered if p != rows], index=0, key="results.columns"
    )
    how = how_col.segmented_control(
        "Score", AGGREGATES, default="mean", required=True, key="results.how"
    )
    table = score_table(frame, rows, columns, how=how)
    st.plotly_chart(charts.heatmap_figure(table, rows, columns, how=how), key="results.heatmap")

st.subheader("All candidates")
st.plotly_chart(
    charts.parallel_figure(frame, params, log=log, scoring=run.scoring), key="results.parallel"
)
st.plotly_chart(charts.fit_time_figure(frame, params, scoring=run.scoring), key="results.fit_time")

# --- Trials and the best estimator ---------------------------------------------------------
st.subheader("Trials")
st.caption("Click a column header to sort.")
ui.trial_table(frame, params, splits=True, key="results.trials")
st.download_button(
    "Download all trials (CSV)",
    lambda: trials_csv(frame),  # built on click only
    file_name=f"trials-{run.id}.csv",
    mime="text/csv",
    icon=":material/download:",
    on_click="ignore",
)

st.subheader("Best estimator in Python")
st.caption(
    "The pipeline the workers fitted, with the best parameters "
    "(the button at its top right copies it)."
)
st.code(
    reproduce_snippet(run.estimator, best_params, random_state=run.random_state), language="python"
)
