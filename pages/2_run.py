"""Run monitor (`/run?run=<id>`): progress, ETA, best so far and trials, live; cancel; rename,
tag, archive, share or delete (a run shared with the viewer: read-only, unless its share lets
them contribute notes).

The live part is a fragment on the spec's polling schedule. Each tick reads the status (one
primary-key read, plus the queue's live state) and the trials from the first one it has not
seen (one indexed read: the new ones and the few still in flight), and draws a bounded window
(the newest 500 candidates, the best-so-far line as its steps, the newest 100 rows), so a tick
costs about the same at trial 100 and 5,000.
"""

import math

import streamlit as st

from dashboard_ui import charts
from dashboard_ui import support as ui
from dashboard_ui.account import fragment, signed_in_only, signed_in_user
from dashboard_ui.data_section import roles_words
from dashboard_ui.notes import run_notes
from dashboard_ui.refine import lineage, run_again
from dashboard_ui.run_labels import manage_run, tags_words
from dashboard_ui.rungs import current_rung, schedule_table, stored_per_rung
from dashboard_ui.schedule import poll_interval
from dashboard_ui.search_form import search_words
from dashboard_ui.sharing import run_access, share_run_control
from dashboard_ui.text import plain
from tuning.domain import ACTIVE, RunStatus, utcnow
from tuning.errors import TuningError
from tuning.schemas import TuningStatus
from tuning.service import (
    Action,
    best_so_far_steps,
    cancel_run,
    eta_seconds,
    get_run_summary,
    get_status,
    list_trials,
    nothing_scored,
    trial_ranks,
    trials_frame,
)

# The monitor's table shows the newest trials; all of them are on the Results page.
TABLE_ROWS = 100
# The chart's dots are the newest candidates; its best-so-far line covers them all.
CHART_POINTS = 500

user = signed_in_user()
run_id = ui.run_query_param() or ui.choose_run(user)
try:
    with ui.db() as session:
        run = get_run_summary(session=session, run_id=run_id, viewer=user)
except TuningError as exc:
    ui.load_error(exc)

trials_key, status_key, confirm_key = (
    f"monitor.{name}.{run.id}" for name in ("trials", "status", "confirm")
)
for key in list(st.session_state):  # keep the trials of the run on screen only
    name = str(key)
    if name.startswith(("monitor.trials.", "monitor.status.")) and str(run.id) not in name:
        del st.session_state[key]
params = list(run.param_grid)

st.title(ui.run_title(run))
search = search_words(run.search, run.n_iter, run.halving)
named = f"{run.estimator} on {plain(run.dataset)} · " if run.name else ""
st.caption(
    f"{named}Run `{run.id}` · {search} · {run.cv}-fold CV · {ui.scoring_words(run)} · "
    f"by {plain(run.owner)} · created {ui.format_time(run.created_at)}"
)
access = run_access(run, user)
if labels := tags_words(run):
    st.caption(f"Tags: {labels}" if run.tags else labels.capitalize())
st.caption(f"Columns: {roles_words(run.column_roles, run.test_size)}")
lineage(run, user, page=ui.RUN_PAGE)
run_again(run)
with st.expander("Parameter grid"):
    st.json(run.param_grid)
if access.allows(Action.CHANGE):
    manage_run(run, user)
if access.allows(Action.SHARE):
    share_run_control(run, user)


def ask_to_cancel() -> None:
    st.session_state[confirm_key] = True


def keep_running() -> None:
    st.session_state.pop(confirm_key, None)


@signed_in_only
def cancel() -> None:
    st.session_state.pop(confirm_key, None)
    with ui.db() as session:
        cancel_run(session=session, queue=ui.runtime().queue, run_id=run.id, viewer=user)


seen = st.session_state.get(status_key, run.status)  # the last status the live part saw
if seen in ACTIVE and access.allows(Action.CANCEL):
    if st.session_state.get(confirm_key):
        st.warning(
            "Cancel this run? The candidate being fitted finishes first; "
            "every finished candidate is kept."
        )
        yes_col, no_col, _ = st.columns([1, 1, 3])
        yes_col.button("Yes, cancel the run", type="primary", on_click=cancel, key="monitor.yes")
        no_col.button("Keep it running", on_click=keep_running, key="monitor.no")
    else:
        st.button(
            "Cancel run", icon=":material/cancel:", on_click=ask_to_cancel, key="monitor.cancel"
        )


def progress_bar(status: TuningStatus, done: int) -> tuple[float, str]:
    """Percentage and message for the bar, for every status."""
    if status.progress is not None:
        return status.progress.percentage, status.progress.status
    if status.status is RunStatus.SUCCESS and run.stop_reason is not None:  # stopped early
        total = run.total_combinations or 1
        return round(100 * done / total, 2), run.progress_message or run.stop_reason
    if status.status is RunStatus.SUCCESS:
        total = status.result.total_combinations if status.result else done
        return 100.0, f"Completed {total} parameter combinations"
    if status.status is RunStatus.PENDING:
        return 0.0, "Queued: waiting for a worker"
    total = run.total_combinations or 1
    return round(100 * done / total, 2), f"Stopped after {done} of {total} candidates"


def show(status: TuningStatus, trials: list) -> None:
    ui.status_badge(status.status)
    if status.stalled:
        st.warning(f"Stalled: {plain(status.stalled)}", icon=":material/pause_circle:")
    if status.queue is not None:
        st.info(ui.queue_line(status.queue), icon=":material/hourglass_top:")
    percentage, message = progress_bar(status, len(trials))
    st.progress(min(percentage, 100.0) / 100, text=f"{percentage:.0f}% · {message}")
    # A bounded window: the newest candidates for the dots and the table, and the best-so-far
    # line as its steps only, so that a tick draws as much at trial 5,000 as at trial 100.
    # Ranked among all of them, as on the Results page.
    window = trial_ranks(trials)[-CHART_POINTS:]
    frame = trials_frame(trials[-CHART_POINTS:], params, ranks=window)
    scores = [s for t in trials if (s := t.mean_test_score) is not None and not math.isnan(s)]
    best = max(scores, default=math.nan)
    total = status.progress.total if status.progress else run.total_combinations
    done_col, best_col, eta_col, time_col = st.columns(4)
    done_col.metric("Candidates done", f"{len(trials)} / {total}")
    best_col.metric(f"Best {run.scoring} so far", ui.format_score(best))
    eta = eta_seconds(trials, total, n_splits=run.cv) if status.status in ACTIVE else None
    eta_col.metric(
        "Time left (estimate)", ui.format_duration(eta), help="From the pace of recent candidates"
    )
    if status.result is not None:
        time_col.metric("Tuning time", ui.format_duration(status.result.tuning_time))
    else:
        time_col.metric(
            "Since created", ui.format_duration((utcnow() - run.created_at).total_seconds())
        )

    if status.status is RunStatus.FAILURE and status.error:
        # Over every trial, not the window: it may not hold them all.
        why = None if scores else nothing_scored(trials_frame(trials, params), n_candidates=total)
        failure = ui.failure_text(status.error.type, status.error.message, why)
        st.error(failure, icon=":material/error:")
    elif status.status is RunStatus.REVOKED:
        best_of_them = ""
        if status.result is not None:
            shown = plain(ui.params_words(status.result.best_params))
            best_of_them = (
                f" Best {run.scoring} among them: **{status.result.best_score:.4f}** with {shown}."
            )
        st.warning(
            f"Cancelled after {len(trials)} of {total} candidates.{best_of_them} The finished "
            "candidates are kept: their scores are below and on the Results page."
        )
    elif status.status is RunStatus.SUCCESS and status.result:
        shown = plain(ui.params_words(status.result.best_params))
        st.success(f"Finished. Best {run.scoring}: **{status.result.best_score:.4f}** with {shown}")
    if status.status is RunStatus.SUCCESS and run.stop_reason:  # a failure says it above
        st.info(f"Stopped early: {plain(run.stop_reason)}.", icon=":material/timer_off:")
    if run.halving is not None:
        rungs(status, trials)
    if status.status.is_finished and len(trials):
        st.page_link(
            ui.RESULTS_PAGE,
            label="Open the results",
            icon=":material/insights:",
            query_params={"run": str(run.id)},
        )
    if not len(frame):
        return
    history = best_so_far_steps([(t.index, t.mean_test_score) for t in trials])
    figure = charts.best_so_far_figure({run.estimator: frame}, scoring=run.scoring, history=history)
    st.plotly_chart(figure, key="monitor.chart")
    if len(trials) > CHART_POINTS:
        st.caption(f"Dots: the {CHART_POINTS:,} newest candidates; the line covers them all.")
    newest = frame.iloc[::-1].head(TABLE_ROWS)
    ui.trial_table(newest, params)
    if len(trials) > TABLE_ROWS:
        st.caption(
            f"The newest {TABLE_ROWS} of {len(trials):,} trials; "
            "all of them are on the Results page."
        )


def rungs(status: TuningStatus, trials: list) -> None:
    """Successive halving's rungs: candidates, samples and trials stored so far in each."""
    assert run.halving is not None
    stored = stored_per_rung(run.halving, (trial.rung for trial in trials))
    current = current_rung(run.halving, stored) if status.status in ACTIVE else None
    st.dataframe(schedule_table(run.halving, stored, current), hide_index=True, key="monitor.rungs")


def live(interval: float | None) -> None:
    trials: list = st.session_state.setdefault(trials_key, [])
    # Workers store candidates out of order (trial 5 may land before trial 4), so each tick
    # reads from the first candidate not yet seen: the new ones and the few still in flight.
    seen = next((n for n, trial in enumerate(trials) if trial.index != n), len(trials))
    with ui.db() as session:  # the tick's two reads: status (first), then the unseen trials
        status = get_status(
            session=session,
            queue=ui.runtime().queue,
            run_id=run.id,
            viewer=user,
            settings=ui.runtime().settings,
        )
        fresh = list_trials(session=session, run_id=run.id, after_index=seen - 1)
    known = {trial.index for trial in trials}
    trials.extend(trial for trial in fresh if trial.index not in known)
    trials.sort(key=lambda trial: trial.index)
    st.session_state[status_key] = status.status
    age = (utcnow() - run.created_at).total_seconds()
    if poll_interval(status.status, age) != interval:  # next phase of the schedule, or the end
        st.rerun(scope="app")
    show(status, trials)


interval = poll_interval(seen, (utcnow() - run.created_at).total_seconds())
fragment(live, run_every=interval)(interval)
run_notes(run, user, may_add=access.allows(Action.NOTE))
