"""New run (`/new_run`): data, estimator, grid, search; the cost before launch, errors in place."""

from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from dashboard_ui import support as ui
from dashboard_ui.account import signed_in_user
from dashboard_ui.grid_editor import grid_editor, prefill_grid
from dashboard_ui.refine import PARENT, START_FROM, plan_metrics, refines_line
from dashboard_ui.rungs import schedule_table
from dashboard_ui.search_form import (
    asks_n_iter,
    early_stopping,
    halving_options,
    n_iter_input,
    samples_candidates,
    search_control,
)
from dashboard_ui.text import plain
from tuning.errors import InvalidInput, TuningError
from tuning.schemas import HalvingOptions, TuningRunCreate
from tuning.service import (
    DEFAULT_SCORING,
    CsvPreview,
    RefinedGrid,
    RunPlan,
    check_submission,
    csv_columns,
    dataset_choices,
    plan_run,
    preview_csv,
    scorers_for,
    submit_run,
    upload_dataset,
)

SAVED, UPLOAD = "Saved dataset", "Upload a CSV"
PREFERRED_ESTIMATORS = ("RandomForestClassifier", "RandomForestRegressor")
PREFERRED_DATASET = "breast_cancer"

user = signed_in_user()
settings = ui.runtime().settings
slots: dict[str, Any] = {}  # field -> the empty spot under its widget, for its error

st.title("New run")


def start_from(refined: RefinedGrid) -> None:
    """Fill the form with a refined grid of a run (from its Results) and link the run."""
    run, state = refined.run, st.session_state
    state["new.source"] = SAVED
    state["new.dataset"] = run.dataset
    state[f"new.estimator.{run.task.value}"] = run.estimator
    prefill_grid(run.estimator, refined.param_grid)
    state["new.search"] = "grid"
    state["new.seed"] = run.random_state
    state["new.cv"] = run.cv
    state[f"new.scoring.{run.task.value}"] = run.scoring
    state[PARENT] = str(run.id)


# Widgets take their first value from session state (setdefault below), never from a default
# argument as well: a refined run fills the form through the same keys.
if (refined := st.session_state.pop(START_FROM, None)) is not None:
    start_from(refined)
parent_run_id = refines_line(user)


@st.cache_data(max_entries=4, show_spinner=False)
def preview(content: bytes, target: str, max_bytes: int) -> CsvPreview:
    return preview_csv(content=content, target=target, max_bytes=max_bytes)


def save_upload(content: bytes, target: str) -> None:
    """Store the uploaded file, then select it as the run's dataset."""
    name = st.session_state.get("new.name", "")
    try:
        with ui.db() as session:
            dataset = upload_dataset(
                session=session,
                owner=user,
                name=name,
                content=content,
                target=target,
                max_bytes=settings.max_upload_bytes,
            )
    except InvalidInput as exc:
        st.session_state["new.upload_error"] = (exc.field, exc.reason)
        return
    st.session_state.pop("new.upload_error", None)
    st.session_state["new.source"] = SAVED
    st.session_state["new.dataset"] = dataset.name


def upload_section() -> None:
    file = st.file_uploader("CSV file with a header row", type=["csv"], key="new.file")
    slots["file"] = st.empty()
    if file is None:
        st.caption(
            "Choose a target column after the upload; the preview shows how each column is read."
        )
        return
    content = file.getvalue()
    try:
        columns = csv_columns(content)
    except InvalidInput as exc:
        slots["file"].error(plain(exc.reason))
        return
    if st.session_state.get("new.target") not in columns:  # the last column to start with
        st.session_state["new.target"] = columns[-1]
    target = st.selectbox("Target column (what to predict)", columns, key="new.target")
    slots["target"] = st.empty()
    try:
        shown = preview(content, target, settings.max_upload_bytes)
    except InvalidInput as exc:
        slots.get(exc.field, slots["file"]).error(plain(exc.reason))
        return
    st.write(
        f"{shown.n_rows:,} rows; the target **{plain(target)}** makes this a "
        f"**{shown.task.value}** task."
    )
    head_col, types_col = st.columns([3, 1])
    head_col.dataframe(shown.head, hide_index=True)
    types = pd.DataFrame(
        {"column": list(shown.column_types), "read as": list(shown.column_types.values())}
    )
    types_col.dataframe(types, hide_index=True)
    st.session_state.setdefault("new.name", Path(file.name).stem)
    st.text_input("Save as", key="new.name")
    slots["name"] = st.empty()
    st.button(
        "Save dataset and use it", type="primary", on_click=save_upload, args=(content, target)
    )
    if error := st.session_state.get("new.upload_error"):
        slots.get(error[0], slots["name"]).error(plain(error[1]))


# --- 1. Data -------------------------------------------------------------------------------
st.subheader("1. Data")
st.session_state.setdefault("new.source", SAVED)
source = st.segmented_control("Source", [SAVED, UPLOAD], required=True, key="new.source")
if source == UPLOAD:
    upload_section()
    st.stop()

with ui.db() as session:
    choices = {choice.name: choice for choice in dataset_choices(session=session, viewer=user)}
names = list(choices)
if st.session_state.get("new.dataset") not in choices:  # first visit, or a dataset now gone
    st.session_state["new.dataset"] = PREFERRED_DATASET if PREFERRED_DATASET in names else names[0]
dataset = st.selectbox(
    "Dataset",
    names,
    format_func=lambda n: (
        f"{n} — {choices[n].description} ({choices[n].task.value}, {choices[n].n_rows:,} rows)"
    ),
    key="new.dataset",
)
slots["dataset"] = st.empty()
task = choices[dataset].task

# --- 2. Estimator and grid ---------------------------------------------------------------
st.subheader("2. Estimator and parameter grid")
estimators = [name for name, entry in ui.estimators().items() if entry["task"] == task.value]
preferred = next((e for e in PREFERRED_ESTIMATORS if e in estimators), estimators[0])
st.session_state.setdefault(f"new.estimator.{task.value}", preferred)
estimator = st.selectbox(
    f"Estimator (for {task.value})", estimators, key=f"new.estimator.{task.value}"
)
slots["estimator"] = st.empty()
st.caption("Tick the parameters to tune and give their values; unticked ones keep their defaults.")
slots["param_grid"] = st.empty()
# The search is chosen below; a sampling one lets a numeric range stay continuous.
grid, problems = grid_editor(estimator, slots, sampled=samples_candidates())

# --- 3. Search ----------------------------------------------------------------------------
st.subheader("3. Search")
search = search_control(slots)
halving: HalvingOptions | None = halving_options(slots) if search == "halving" else None
n_iter = None
if asks_n_iter(search, halving):
    n_iter_col, seed_col, cv_col, scoring_col = st.columns([1.2, 1.2, 1.2, 2])
    with n_iter_col:
        n_iter = n_iter_input(search, halving, slots)
else:
    seed_col, cv_col, scoring_col = st.columns([1.2, 1.2, 2])
with seed_col:
    st.session_state.setdefault("new.seed", None)  # no seed: the field starts empty
    seed = st.number_input(
        "Seed",
        min_value=0,
        step=1,
        placeholder="none",
        key="new.seed",
        help="random_state: fixes the sample and the estimator's own randomness",
    )
st.session_state.setdefault("new.cv", 5)
with cv_col:
    cv = st.number_input("CV folds", min_value=2, max_value=settings.max_cv_folds, key="new.cv")
    slots["cv"] = st.empty()
with scoring_col:
    scorers = scorers_for(task)
    st.session_state.setdefault(f"new.scoring.{task.value}", DEFAULT_SCORING[task])
    scoring = st.selectbox("Scoring", scorers, key=f"new.scoring.{task.value}")
    slots["scoring"] = st.empty()
stopping = early_stopping(search, slots)

# --- 4. Launch ----------------------------------------------------------------------------
st.subheader("4. Launch")
run_in = TuningRunCreate(
    dataset=dataset,
    estimator=estimator,
    param_grid=grid,
    search=search,
    n_iter=n_iter,
    halving=halving,
    **stopping,
    cv=cv,
    scoring=scoring,
    random_state=seed,
    parent_run_id=parent_run_id,
)
plan: RunPlan | None = None
with ui.db() as session:
    errors = {
        **check_submission(session=session, settings=settings, run_in=run_in, viewer=user),
        **problems,
    }
    if not errors:
        plan = plan_run(session=session, settings=settings, run_in=run_in, viewer=user)
slots["general"] = st.empty()
for field, reason in errors.items():
    slots.get(field, slots["general"]).error(plain(reason), icon=":material/error:")

if plan is not None:
    plan_metrics(plan, estimator=estimator, dataset=dataset)
if plan is not None and plan.halving is not None:  # as the service resolves and stores it
    st.caption(
        "Successive halving's schedule: each rung keeps the best candidates of the one "
        "before, on more samples."
    )
    st.dataframe(schedule_table(plan.halving), hide_index=True, key="new.schedule")

if st.button("Launch run", type="primary", disabled=bool(errors), icon=":material/rocket_launch:"):
    try:
        with ui.db() as session:
            run = submit_run(
                session=session,
                queue=ui.runtime().queue,
                settings=settings,
                owner=user,
                run_in=run_in,
            )
    except TuningError as exc:
        slots["general"].error(plain(exc))
    else:
        st.session_state.pop(PARENT, None)  # the next run refines nothing unless asked
        st.switch_page(ui.RUN_PAGE, query_params={"run": str(run.id)})
