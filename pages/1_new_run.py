"""New run (`/new_run`): data, estimator, grid, search; the cost before launch, errors in place."""

from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from dashboard_ui import support as ui
from dashboard_ui.account import signed_in_user
from dashboard_ui.grid_editor import grid_editor
from dashboard_ui.text import plain
from tuning.errors import InvalidInput, TuningError
from tuning.schemas import SearchKind, TuningRunCreate
from tuning.service import (
    DEFAULT_SCORING,
    CsvPreview,
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
SEARCHES: dict[SearchKind, str] = {  # TuningRunCreate.search: its label
    "grid": "Every combination",
    "random": "Random sample",
}

user = signed_in_user()
settings = ui.runtime().settings
slots: dict[str, Any] = {}  # field -> the empty spot under its widget, for its error

st.title("New run")


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
    target = st.selectbox(
        "Target column (what to predict)", columns, index=len(columns) - 1, key="new.target"
    )
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
    st.text_input("Save as", value=Path(file.name).stem, key="new.name")
    slots["name"] = st.empty()
    st.button(
        "Save dataset and use it", type="primary", on_click=save_upload, args=(content, target)
    )
    if error := st.session_state.get("new.upload_error"):
        slots.get(error[0], slots["name"]).error(plain(error[1]))


# --- 1. Data -------------------------------------------------------------------------------
st.subheader("1. Data")
source = st.segmented_control(
    "Source", [SAVED, UPLOAD], default=SAVED, required=True, key="new.source"
)
if source == UPLOAD:
    upload_section()
    st.stop()

with ui.db() as session:
    choices = {choice.name: choice for choice in dataset_choices(session=session, viewer=user)}
names = list(choices)
dataset = st.selectbox(
    "Dataset",
    names,
    index=names.index(PREFERRED_DATASET) if PREFERRED_DATASET in names else 0,
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
estimator = st.selectbox(
    f"Estimator (for {task.value})",
    estimators,
    index=estimators.index(preferred),
    key=f"new.estimator.{task.value}",
)
slots["estimator"] = st.empty()
st.caption("Tick the parameters to tune and give their values; unticked ones keep their defaults.")
slots["param_grid"] = st.empty()
grid, problems = grid_editor(estimator, slots)

# --- 3. Search ----------------------------------------------------------------------------
st.subheader("3. Search")
search_col, n_iter_col, seed_col, cv_col, scoring_col = st.columns([3, 1.2, 1.2, 1.2, 2])
with search_col:
    search = st.segmented_control(
        "Search",
        list(SEARCHES),
        default="grid",
        required=True,
        key="new.search",
        format_func=SEARCHES.__getitem__,
    )
n_iter = None
if search == "random":
    with n_iter_col:
        n_iter = st.number_input("Candidates (n_iter)", min_value=1, value=10, key="new.n_iter")
        slots["n_iter"] = st.empty()
with seed_col:
    seed = st.number_input(
        "Seed",
        min_value=0,
        value=None,
        step=1,
        placeholder="none",
        key="new.seed",
        help="random_state: fixes the sample and the estimator's own randomness",
    )
with cv_col:
    cv = st.number_input(
        "CV folds", min_value=2, max_value=settings.max_cv_folds, value=5, key="new.cv"
    )
    slots["cv"] = st.empty()
with scoring_col:
    scorers = scorers_for(task)
    scoring = st.selectbox(
        "Scoring",
        scorers,
        index=scorers.index(DEFAULT_SCORING[task]),
        key=f"new.scoring.{task.value}",
    )
    slots["scoring"] = st.empty()

# --- 4. Launch ----------------------------------------------------------------------------
st.subheader("4. Launch")
run_in = TuningRunCreate(
    dataset=dataset,
    estimator=estimator,
    param_grid=grid,
    search=search,
    n_iter=n_iter,
    cv=cv,
    scoring=scoring,
    random_state=seed,
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
        st.switch_page(ui.RUN_PAGE, query_params={"run": str(run.id)})
