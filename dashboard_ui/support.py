"""What every page shares: the pages, the runtime, database sessions, formatting, run pickers.

Pages reach the database only through `db()`, a session of `tuning.db.session_scope`, and pass it
to `tuning.service` functions; nothing here or in a page imports SQL, Celery or Redis.
"""

from collections.abc import Iterable
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any, Literal, NoReturn
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pandas as pd
import streamlit as st

from dashboard_ui.text import plain
from tuning.config import Settings, get_settings
from tuning.db import session_scope
from tuning.domain import RunStatus
from tuning.errors import Forbidden, NotFound, TuningError
from tuning.models import User
from tuning.runtime import Runtime, create_runtime
from tuning.schemas import QueuePlace
from tuning.service import SCORE, RunSummary, catalog_as_dict, list_runs, param_column, value_label

# Background and text colour of each status in tables: a badge without relying on emoji fonts.
# Keyed by str, which RunStatus is, since a table cell holds the status's plain value.
STATUS_CELL_STYLES: dict[str, str] = {
    RunStatus.PENDING: "background-color: #eceff3; color: #4b5563",
    RunStatus.PROGRESS: "background-color: #e3ecfd; color: #1d4ed8",
    RunStatus.SUCCESS: "background-color: #e3f5ea; color: #15803d",
    RunStatus.FAILURE: "background-color: #fde8e8; color: #b91c1c",
    RunStatus.REVOKED: "background-color: #fdf0e1; color: #b45309",
}
# st.badge's colours, as its signature spells them.
BadgeColor = Literal[
    "red", "orange", "yellow", "blue", "green", "violet", "gray", "grey", "primary"
]
STATUS_COLORS: dict[RunStatus, BadgeColor] = {
    RunStatus.PENDING: "gray",
    RunStatus.PROGRESS: "blue",
    RunStatus.SUCCESS: "green",
    RunStatus.FAILURE: "red",
    RunStatus.REVOKED: "orange",
}
STATUS_WORDS = {
    RunStatus.PENDING: "queued",
    RunStatus.PROGRESS: "running",
    RunStatus.SUCCESS: "finished",
    RunStatus.FAILURE: "failed",
    RunStatus.REVOKED: "cancelled",
}

# The pages, in the menu's order: dashboard.py hands them to st.navigation, and st.switch_page
# and st.page_link name them by these paths. A page's URL is its file name without the number,
# which Streamlit infers the same way when its classic discovery of pages/ serves a script run
# (see account.signed_in_user): `pages/2_run.py` is `/run`. The first page is the home page, `/`.
RUNS_PAGE = "pages/0_runs.py"
NEW_RUN_PAGE = "pages/1_new_run.py"
RUN_PAGE = "pages/2_run.py"
RESULTS_PAGE = "pages/3_results.py"
COMPARE_PAGE = "pages/4_compare.py"
MODELS_PAGE = "pages/5_models.py"
WORKERS_PAGE = "pages/6_workers.py"
MENU = {  # page: its title (in the menu and the browser tab) and icon
    RUNS_PAGE: ("Runs", ":material/list:"),
    NEW_RUN_PAGE: ("New run", ":material/add_circle:"),
    RUN_PAGE: ("Run monitor", ":material/monitoring:"),
    RESULTS_PAGE: ("Results", ":material/insights:"),
    COMPARE_PAGE: ("Compare", ":material/compare:"),
    MODELS_PAGE: ("Models", ":material/model_training:"),
    WORKERS_PAGE: ("Workers", ":material/dns:"),
}


def pages() -> list[st.Page]:
    """The menu's pages for st.navigation: new objects each run, since st.navigation marks them."""
    return [
        st.Page(page, title=title, icon=icon, default=page == RUNS_PAGE)
        for page, (title, icon) in MENU.items()
    ]


@st.cache_resource(show_spinner=False, hash_funcs={Settings: lambda s: s.model_dump_json()})
def _runtime_for(settings: Settings) -> Runtime:
    return create_runtime(settings)


def runtime() -> Runtime:
    """The process's engine and task queue, built once per distinct settings and never mutated.

    Settings come from the environment like every transport's (`get_settings`), which is also
    how a test points the dashboard at its own database and Redis.
    """
    return _runtime_for(get_settings())


def db() -> AbstractContextManager[Any]:
    """A database session for one page step; the page passes it to tuning.service calls."""
    return session_scope(runtime().engine)


# --- Formatting ---------------------------------------------------------------------------


def status_cell_style(value: object) -> str:
    """Pandas Styler CSS for a status cell (its value is the status name)."""
    return STATUS_CELL_STYLES.get(value, "") if isinstance(value, str) else ""


def status_badge(status: RunStatus) -> None:
    st.badge(f"{status.value} · {STATUS_WORDS[status]}", color=STATUS_COLORS[status])


def queue_line(place: QueuePlace) -> str:
    """A queued run's place in words, for the monitor and Runs."""
    if place.expected_start_s <= 0:
        return "Queued: starts as soon as a worker process is free"
    ahead = f"{place.runs_ahead} run{'s' if place.runs_ahead != 1 else ''}"
    return (
        f"Queued: {place.position} in line, behind work of {ahead}; expected to start in "
        f"about {format_duration(place.expected_start_s)}"
    )


def format_duration(seconds: float | None) -> str:
    """3.2s, 4m 05s, 2h 10m."""
    if seconds is None:
        return "—"
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"


def params_words(params: dict[str, Any]) -> str:
    """`C=1.0, kernel='rbf'`: parameters as a run's settings read."""
    return ", ".join(f"{k}={v!r}" for k, v in params.items())


def format_score(score: float | None) -> str:
    return "—" if score is None or pd.isna(score) else f"{score:.4f}"


def local_time(moment: datetime | None) -> datetime | None:
    """`moment` in the browser's time zone when it is known, else UTC, without tzinfo."""
    if moment is None:
        return None
    try:
        zone = ZoneInfo(st.context.timezone) if st.context.timezone else None
    except (ZoneInfoNotFoundError, ValueError):
        zone = None
    return moment.astimezone(zone).replace(tzinfo=None) if zone else moment.replace(tzinfo=None)


def format_time(moment: datetime | None) -> str:
    shown = local_time(moment)
    return shown.strftime("%Y-%m-%d %H:%M:%S") if shown else "—"


def short_id(run_id: Any) -> str:
    return str(run_id)[:8]


# --- Catalog ------------------------------------------------------------------------------


@st.cache_resource(show_spinner=False)
def _catalog() -> dict[str, dict[str, Any]]:
    return {entry["name"]: entry for entry in catalog_as_dict()}


def estimators() -> dict[str, dict[str, Any]]:
    """The catalog by estimator name, as plain dicts (parameters with kind, range, log, ...)."""
    return _catalog()


def param_meta(estimator: str) -> dict[str, dict[str, Any]]:
    return {param["name"]: param for param in _catalog()[estimator]["params"]}


def log_params(estimator: str, params: Iterable[str]) -> set[str]:
    """The parameters the catalog says to explore on a log scale."""
    meta = param_meta(estimator)
    return {param for param in params if meta.get(param, {}).get("log")}


def run_query_param() -> str | None:
    """The run named by `?run=<id>`, if any."""
    value = st.query_params.get("run")
    return value or None


# --- Shared pieces of the run pages ---------------------------------------------------------


def choose_run(user: User, *, statuses: Iterable[RunStatus] = ()) -> str:
    """When a page has no `?run=`: pick one of the user's recent runs (and put it in the URL)."""
    with db() as session:
        page = list_runs(session=session, viewer=user, statuses=list(statuses), limit=200)
    if not page.items:
        st.info("No runs to show yet. Launch one from **New run**.")
        st.page_link(NEW_RUN_PAGE, label="New run", icon=":material/add_circle:")
        st.stop()
    labels = {str(run.id): run_label(run) for run in page.items}
    chosen = st.selectbox(
        "Run", list(labels), format_func=labels.__getitem__, index=None, placeholder="Choose a run"
    )
    if chosen is None:
        st.stop()
    st.query_params["run"] = chosen
    return chosen


def run_label(run: RunSummary) -> str:
    """A run in a selectbox or multiselect, whose options show as typed (markdown elsewhere)."""
    named = f"{run.name} · " if run.name else ""
    return (
        f"{run.status.value} · {named}{run.estimator} on {run.dataset} · "
        f"best {format_score(run.best_score)} · {format_time(run.created_at)} · {short_id(run.id)}"
    )


def run_title(run: RunSummary) -> str:
    """A run in a title (markdown): its name, else its estimator on its dataset, as typed."""
    return plain(run.name) if run.name else f"{run.estimator} on {plain(run.dataset)}"


def scoring_words(run: RunSummary) -> str:
    """A run's scorer (markdown), with the positive class it names, if any."""
    positive = f" (positive class {plain(run.pos_label)})" if run.pos_label is not None else ""
    return f"scoring **{run.scoring}**{positive}"


def failure_text(
    error_type: str | None, message: str | None, nothing_scored: str | None = None
) -> str:
    """A failure for st.error: its type and message, which may quote what users typed; first,
    when no candidate scored, that nothing did and how far the run got (`nothing_scored`)."""
    failure = f"**{plain(error_type)}**: {plain(message)}"
    if nothing_scored is None:
        return failure
    return f"**Nothing scored**: {plain(nothing_scored)}.\n\n{failure}"


def load_error(exc: TuningError) -> NoReturn:
    """Why a run cannot be shown, in the user's words; the page stops here."""
    if isinstance(exc, Forbidden):
        st.error(
            "This run belongs to another user: you can open your own runs and those shared "
            "with you."
        )
    elif isinstance(exc, NotFound):
        st.error("There is no run with that id.")
    else:
        st.error(plain(exc))  # it may quote what the address said
    st.page_link(RUNS_PAGE, label="Back to your runs", icon=":material/list:")
    st.stop()


def trial_table(
    frame: pd.DataFrame,
    params: list[str],
    *,
    splits: bool = False,
    key: str | None = None,
    selectable: bool = False,
) -> int | None:
    """Trials as a sortable table: parameters, scores and times (and each fold's score); with
    `selectable`, a row can be selected and its trial index is returned."""
    columns = [
        "trial",
        "rank_test_score",
        *(param_column(p) for p in params),
        SCORE,
        "std_test_score",
    ]
    if splits:
        columns += [c for c in frame.columns if c.startswith("split")]
    columns += ["mean_fit_time", "mean_score_time", "error"]
    shown = frame[columns].copy()
    if "iter" in frame:  # successive halving: the rung (from 1) and its samples
        shown.insert(1, "rung", frame["iter"] + 1)
        shown.insert(2, "samples", frame["n_resources"])
    for param in params:  # None and words next to numbers: show every value as typed
        shown[param_column(param)] = shown[param_column(param)].map(value_label)
    config: dict[str, Any] = {
        "trial": st.column_config.NumberColumn("trial", format="%d"),
        "rank_test_score": st.column_config.NumberColumn("rank", format="%d"),
        "rung": st.column_config.NumberColumn("rung", format="%d"),
        "samples": st.column_config.NumberColumn("samples", format="%d"),
        "mean_fit_time": st.column_config.NumberColumn("fit time (s)", format="%.3f"),
        "mean_score_time": st.column_config.NumberColumn("score time (s)", format="%.3f"),
    }
    for param in params:
        config[param_column(param)] = st.column_config.TextColumn(param)
    for column in columns:
        if column.endswith("test_score") and column != "rank_test_score":
            config[column] = st.column_config.NumberColumn(
                column.replace("_test_score", ""), format="%.4f"
            )
    if not selectable:
        st.dataframe(shown, column_config=config, hide_index=True, key=key)
        return None
    event = st.dataframe(
        shown,
        column_config=config,
        hide_index=True,
        key=key,
        on_select="rerun",
        selection_mode="single-row",
    )
    rows = event.selection.rows if event is not None else []
    return int(frame["trial"].iloc[rows[0]]) if rows else None
