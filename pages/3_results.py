"""Results (`/results?run=<id>`): which parameters mattered, whether the best overfits, what
failed and why, every trial, the best estimator, and a finer grid around the best to relaunch.

The page is split in sections and draws only the chosen one (`?view=`), so its cost is that of
a few charts whatever the run's size; the trials are read once per run and trial count.
"""

import uuid
from typing import Literal

import pandas as pd
import streamlit as st

from dashboard_ui import charts
from dashboard_ui import support as ui
from dashboard_ui.account import signed_in_user
from dashboard_ui.data_section import roles_words
from dashboard_ui.notes import run_notes
from dashboard_ui.refine import lineage, refine_section, run_again
from dashboard_ui.sharing import run_access, share_run_control
from dashboard_ui.text import plain
from dashboard_ui.train_trial import train_trial_button
from tuning.domain import RunStatus
from tuning.errors import TuningError
from tuning.service import (
    MANY_VALUES,
    SCORE,
    Action,
    RunSummary,
    SimplestPick,
    dataset_profile_by_id,
    failure_groups,
    gap_by_value,
    get_run_summary,
    grid_without_failures,
    list_trials,
    nothing_scored,
    param_column,
    parameter_importance,
    reproduce_snippet,
    run_like,
    score_by_bin,
    score_by_value,
    score_table,
    simplest_within_one_se,
    submit_run,
    train_vs_validation,
    trials_csv,
    trials_frame,
)

PANELS_PER_ROW = 2
# How the two-parameter table sums up the candidates of a cell (score_table's `how`).
AGGREGATES: list[Literal["mean", "max"]] = ["mean", "max"]
VIEWS = ["Overview", "Parameters", "Overfitting", "Failures", "Trials", "Refine"]


@st.cache_data(max_entries=6, show_spinner="Reading the trials…")
def load_trials(run_id: str, params: tuple[str, ...], version: tuple) -> pd.DataFrame:
    """The run's trials as a frame, read once per `version` (its status and trial count)."""
    with ui.db() as session:
        trials = list_trials(session=session, run_id=uuid.UUID(run_id))
    return trials_frame(trials, list(params))


# What the sections derive from the whole frame, kept per run and `version` like the frame: a
# new tab on a run opened before draws its first chart without redoing them (about 0.4 s of
# the script at 5,000 trials). The frame is not hashed (`_frame`): the run and version name it.
@st.cache_data(max_entries=12, show_spinner=False)
def importance_of(
    run_id: str, version: tuple, params: tuple[str, ...], _frame: pd.DataFrame
) -> pd.DataFrame:
    return parameter_importance(_frame, list(params))


@st.cache_data(max_entries=12, show_spinner=False)
def simplest_of(
    run_id: str, version: tuple, params: tuple[str, ...], estimator: str, _frame: pd.DataFrame
) -> SimplestPick | None:
    return simplest_within_one_se(_frame, list(params), estimator)


def importance(frame: pd.DataFrame) -> pd.DataFrame:
    """The run's parameter importance (parameter_importance), once per version."""
    return importance_of(str(run.id), version, tuple(params), frame)


def simplest(frame: pd.DataFrame) -> SimplestPick | None:
    """The run's simplest candidate within one standard error, once per version."""
    return simplest_of(str(run.id), version, tuple(params), run.estimator, frame)


def overview(run: RunSummary, frame: pd.DataFrame, scored: pd.DataFrame, best: pd.Series) -> None:
    score_col, trial_col, candidates_col, time_col = st.columns(4)
    score_col.metric(
        f"Best {run.scoring}",
        ui.format_score(best[SCORE]),
        help=f"± {best['std_test_score']:.4f} across folds",
    )
    trial_col.metric("Best trial", f"#{int(best['trial'])}")
    candidates_col.metric("Candidates scored", f"{len(scored):,} / {len(frame):,}")
    time_col.metric("Tuning time", ui.format_duration(run.tuning_time or run.duration_s()))
    if "iter" in best and pd.notna(best["iter"]):
        st.markdown(
            f"The best of the last rung (rung {int(best['iter']) + 1}, on "
            f"{int(best['n_resources']):,} samples), as HalvingGridSearchCV picks it: earlier "
            "rungs scored on fewer samples."
        )
    pick = simplest(frame)
    if pick is not None and not pick.is_best:
        st.info(f"**Simpler choice:** {plain(pick.why)}", icon=":material/lightbulb:")
        if access.allows(Action.TRAIN):
            train_trial_button(run.id, pick.trial, user, key="results.train.simpler")
    importance_col, history_col = st.columns(2)
    with importance_col:
        st.plotly_chart(charts.importance_figure(importance(frame)), key="results.importance")
        st.caption("How much of the spread in scores each parameter explains on its own.")
    with history_col:
        figure = charts.best_so_far_figure({run.estimator: frame}, scoring=run.scoring)
        st.plotly_chart(figure, key="results.history")


def parameters(run: RunSummary, frame: pd.DataFrame) -> None:
    st.caption(
        "Mean test score of the candidates with each value; the bar is its spread across "
        "folds, the star the best candidate. A number tried at many values is shown in bins, "
        "over a dot per candidate."
    )
    ordered = list(importance(frame)["parameter"])
    for start in range(0, len(ordered), PANELS_PER_ROW):
        row = ordered[start : start + PANELS_PER_ROW]
        for column, param in zip(st.columns(PANELS_PER_ROW), row, strict=False):
            column.plotly_chart(param_figure(run, frame, param), key=f"results.param.{param}")
    if len(params) >= 2:
        st.subheader("Two parameters together")
        rows_col, columns_col, how_col = st.columns([2, 2, 1])
        rows = rows_col.selectbox("Rows", ordered, index=0, key="results.rows")
        others = [p for p in ordered if p != rows]
        columns = columns_col.selectbox("Columns", others, index=0, key="results.columns")
        how = how_col.segmented_control(
            "Score", AGGREGATES, default="mean", required=True, key="results.how"
        )
        table = score_table(frame, rows, columns, how=how)
        figure = charts.heatmap_figure(table, rows, columns, how=how)
        st.plotly_chart(figure, key="results.heatmap")
    st.subheader("Every candidate across all parameters")
    # Parallel coordinates draw with WebGL, about 1.7 s in a browser without a GPU even for a
    # few lines: drawn when asked for.
    if st.toggle("Show the parallel coordinates", key="results.parallel.on"):
        st.plotly_chart(
            charts.parallel_figure(frame, params, log=log, scoring=run.scoring),
            key="results.parallel",
        )
    st.plotly_chart(
        charts.fit_time_figure(frame, params, scoring=run.scoring), key="results.fit_time"
    )


def param_figure(run: RunSummary, frame: pd.DataFrame, param: str) -> object:
    values = run.param_grid[param]
    if isinstance(values, dict) or (len(values) > MANY_VALUES and charts.is_numeric(values)):
        table = score_by_bin(frame, param, log=param in log)
        return charts.score_by_param_figure(
            table, param, log=param in log, scoring=run.scoring, points=frame
        )
    table = score_by_value(frame, param, tried_values(run, frame, param))
    return charts.score_by_param_figure(table, param, log=param in log, scoring=run.scoring)


def tried_values(run: RunSummary, frame: pd.DataFrame, param: str) -> list:
    """A parameter's values as in the grid; for a range sampled continuously, those tried."""
    values = run.param_grid[param]
    if isinstance(values, dict):
        return sorted(frame[param_column(param)].dropna().unique())
    return values


def overfitting(run: RunSummary, frame: pd.DataFrame) -> None:
    gaps = train_vs_validation(frame)
    if gaps.empty:
        st.info("This run stored no train scores (runs before train scores were kept).")
        return
    st.caption(
        "Train against validation score per candidate: far below the diagonal, a candidate "
        "learned its training folds more than the pattern. The gap is train minus validation."
    )
    left, right = st.columns(2)
    with left:
        figure = charts.train_vs_validation_figure(gaps, scoring=run.scoring)
        st.plotly_chart(figure, key="results.overfit")
    with right:
        ordered = list(importance(frame)["parameter"])
        param = st.selectbox("Gap by", ordered, key="results.gap_param")
        values = tried_values(run, frame, param)
        table = gap_by_value(frame, param, values)
        figure = charts.gap_by_value_figure(table, param, log=param in log, scoring=run.scoring)
        st.plotly_chart(figure, key="results.gap")
    pick = simplest(frame)
    if pick is not None:
        st.info(f"**Simplest within one standard error:** {plain(pick.why)}")


def failures(run: RunSummary, frame: pd.DataFrame) -> None:
    groups = failure_groups(frame, params)
    if not groups:
        st.success("No candidate failed.", icon=":material/check_circle:")
        return
    n_failed = sum(group.n_candidates for group in groups)
    in_groups = "in 1 group" if len(groups) == 1 else f"in {len(groups)} groups"
    st.caption(f"{n_failed:,} of {len(frame):,} candidates failed, {in_groups}.")
    for group in groups:
        with st.container(border=True):
            failure = ui.failure_text(group.error_type, group.message)
            st.markdown(f"**{group.n_candidates:,} candidates** · {failure}")
            for value in group.shared:
                where = "fails every time" if not value.also_scores else "scores elsewhere"
                st.caption(f"{plain(value.param)} = {plain(repr(value.value))}: {where}")
    if scored.empty:  # a value that failed is not to blame where every one did
        st.caption("No candidate scored, so no value can be blamed on its own: nothing to drop.")
        return
    grid, removed = grid_without_failures(run.param_grid, groups)
    if not removed:
        st.caption("Every value that failed also scored in another combination: nothing to drop.")
        return
    dropped = ", ".join(f"{p}={v!r}" for p, v in removed)
    st.write(f"Relaunch without the values that never scored: {plain(dropped)}")
    if st.button("Relaunch without them", icon=":material/replay:", key="results.relaunch"):
        relaunch(run, grid)


def relaunch(run: RunSummary, grid: dict) -> None:
    run_in = run_like(run, param_grid=grid)
    try:
        with ui.db() as session:
            new = submit_run(
                session=session,
                queue=ui.runtime().queue,
                settings=ui.runtime().settings,
                owner=user,
                run_in=run_in,
            )
    except TuningError as exc:
        st.error(plain(exc))
        return
    st.switch_page(ui.RUN_PAGE, query_params={"run": str(new.id)})


def trials(run: RunSummary, frame: pd.DataFrame, best_params: dict) -> None:
    may_train = access.allows(Action.TRAIN)
    if may_train:
        st.caption("Click a column header to sort; select a row to train its trial as a model.")
    picked = ui.trial_table(frame, params, splits=True, key="results.trials", selectable=may_train)
    if picked is not None and pd.notna(frame.loc[frame["trial"] == picked, SCORE]).all():
        train_trial_button(run.id, picked, user, key="results.train.trial")
    elif picked is not None:
        st.caption(f"Trial #{picked} did not score: there is nothing to train.")
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
    with ui.db() as session:
        profile = dataset_profile_by_id(session=session, dataset_id=run.dataset_id)
    snippet = reproduce_snippet(
        run.estimator,
        best_params,
        random_state=run.random_state,
        profile=profile,
        roles=run.column_roles,
    )
    st.code(snippet, language="python")


user = signed_in_user()
run_id = ui.run_query_param() or ui.choose_run(
    user, statuses=(RunStatus.SUCCESS, RunStatus.REVOKED, RunStatus.FAILURE)
)
try:
    with ui.db() as session:
        run = get_run_summary(session=session, run_id=run_id, viewer=user)
except TuningError as exc:
    ui.load_error(exc)

params = list(run.param_grid)
version = (run.status.value, run.progress_current, str(run.finished_at))
frame = load_trials(str(run.id), tuple(params), version)
log = ui.log_params(run.estimator, params)
scored = frame[frame[SCORE].notna()]

st.title(f"Results: {ui.run_title(run)}")
ui.status_badge(run.status)
st.caption(
    f"Run `{run.id}` · {len(frame):,} of {run.total_combinations:,} candidates · "
    f"{run.cv}-fold CV · {ui.scoring_words(run)} · by {plain(run.owner)}"
)
st.caption(f"Columns: {roles_words(run.column_roles, run.test_size)}")
access = run_access(run, user)
if access.allows(Action.SHARE):
    share_run_control(run, user)
if run.is_active:
    st.info("This run is still going: these are the results so far.")
    st.page_link(
        ui.RUN_PAGE,
        label="Watch it live",
        icon=":material/monitoring:",
        query_params={"run": str(run.id)},
    )
if run.status is RunStatus.FAILURE:  # its error says why it stopped, if it did
    why = nothing_scored(frame, n_candidates=run.total_combinations)
    st.error(ui.failure_text(run.error_type, run.error_message, why), icon=":material/error:")
elif run.stop_reason:
    st.info(f"Stopped early: {plain(run.stop_reason)}.", icon=":material/timer_off:")
if run.status is RunStatus.REVOKED:
    st.warning("This run was cancelled: the results cover the candidates it finished.")
lineage(run, user, page=ui.RESULTS_PAGE)
run_again(run)
if scored.empty:
    yet = "has a score yet" if run.is_active else "scored"
    st.info(f"No candidate {yet}, so there is nothing to chart.")
    failures(run, frame)
    st.stop()

n_failed = int(frame["error"].notna().sum())
labels = {view: view for view in VIEWS}
if n_failed:
    labels["Failures"] = f"Failures ({n_failed:,})"
asked = st.query_params.get("view")
view = st.segmented_control(
    "Show",
    VIEWS,
    default=asked if asked in VIEWS else VIEWS[0],
    required=True,
    format_func=labels.__getitem__,
    key="results.view",
    label_visibility="collapsed",
)
if view != VIEWS[0] or "view" in st.query_params:
    st.query_params["view"] = view  # a link to this page opens this section

# The run's own best (a halving run's: the best of its last rung, as scikit-learn picks it);
# while it has none yet, the best scored so far.
recorded = frame[frame["trial"] == run.best_trial_index]
best = recorded.iloc[0] if len(recorded) else scored.iloc[scored[SCORE].argmax()]
if view == "Overview":
    overview(run, frame, scored, best)
elif view == "Parameters":
    parameters(run, frame)
elif view == "Overfitting":
    overfitting(run, frame)
elif view == "Failures":
    failures(run, frame)
elif view == "Refine":
    refine_section(run, frame, user)
else:
    trials(run, frame, {p: best[param_column(p)] for p in params})
run_notes(run, user, may_add=access.allows(Action.NOTE))
