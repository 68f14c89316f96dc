"""New run (`/new_run`): data, estimator, grid, search; the cost before launch, errors in place."""

from typing import Any

import streamlit as st

from dashboard_ui import support as ui
from dashboard_ui.account import signed_in_user
from dashboard_ui.data_section import (
    SAVED,
    UPLOAD,
    roles_section,
    test_set_input,
    upload_section,
)
from dashboard_ui.grid_editor import grid_editor
from dashboard_ui.new_run_form import fill_form, what_will_run
from dashboard_ui.quotas import run_quota_line
from dashboard_ui.refine import PARENT, START_FROM, plan_metrics, refines_line
from dashboard_ui.run_labels import TAGS_HELP, split_tags
from dashboard_ui.rungs import schedule_table
from dashboard_ui.scoring_form import scoring_input
from dashboard_ui.search_form import (
    asks_n_iter,
    early_stopping,
    halving_options,
    n_iter_input,
    samples_candidates,
    search_control,
    takes_halving_options,
)
from dashboard_ui.text import plain
from dashboard_ui.uploads import uploads_manager
from tuning.errors import TuningError
from tuning.schemas import HalvingOptions, TuningRunCreate
from tuning.service import (
    RUN_NAME_LIMIT,
    TAGS_PER_RUN,
    RunPlan,
    check_submission,
    dataset_profile,
    get_dataset,
    list_datasets,
    plan_run,
    submit_run,
    user_quotas,
)

PREFERRED_ESTIMATORS = ("RandomForestClassifier", "RandomForestRegressor")
PREFERRED_DATASET = "breast_cancer"

user = signed_in_user()
settings = ui.runtime().settings
slots: dict[str, Any] = {}  # field -> the empty spot under its widget, for its error

st.title("New run")

# Widgets take their first value from session state (setdefault below), never from a default
# argument as well: a run to start from (Results' "Refine", "Run again") fills the form
# through the same keys, before any widget is drawn.
if (start := st.session_state.pop(START_FROM, None)) is not None:
    with ui.db() as session:
        fill_form(start, list_datasets(session=session, viewer=user))
parent_run_id = refines_line(user)


# --- 1. Data -------------------------------------------------------------------------------
st.subheader("1. Data")
st.session_state.setdefault("new.source", SAVED)
source = st.segmented_control("Source", [SAVED, UPLOAD], required=True, key="new.source")
if source == UPLOAD:
    upload_section(user, slots)
    uploads_manager(user)
    st.stop()

with ui.db() as session:
    choices = {choice.name: choice for choice in list_datasets(session=session, viewer=user)}
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
try:
    with ui.db() as session:
        profile = dataset_profile(
            session=session, dataset=get_dataset(session=session, name=dataset, viewer=user)
        )
except TuningError as exc:
    slots["dataset"].error(plain(exc))
    st.stop()
roles = roles_section(dataset, profile, slots)
test_size = test_set_input(choices[dataset], roles, slots)

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
halving: HalvingOptions | None = halving_options(slots) if takes_halving_options(search) else None
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
    scoring, pos_label = scoring_input(dataset=dataset, estimator=estimator, user=user, slots=slots)
stopping = early_stopping(search, slots)

# --- 4. Launch ----------------------------------------------------------------------------
st.subheader("4. Launch")
name_col, tags_col = st.columns([1, 2])
st.session_state.setdefault("new.run_name", "")
name = name_col.text_input(
    "Name",
    key="new.run_name",
    max_chars=RUN_NAME_LIMIT,
    placeholder=f"{estimator} on {dataset}",
    help="Optional; Runs and Compare show it",
)
slots["name"] = name_col.empty()
st.session_state.setdefault("new.tags", "")
tags_text = tags_col.text_input("Tags", key="new.tags", max_chars=1000, help=TAGS_HELP)
slots["tags"] = tags_col.empty()
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
    pos_label=pos_label,
    random_state=seed,
    parent_run_id=parent_run_id,
    columns=roles,
    name=name or None,
    tags=split_tags(tags_text)[: TAGS_PER_RUN + 1],  # one past the limit: refused, named
    test_size=test_size,
)
plan: RunPlan | None = None
with ui.db() as session:
    errors = {
        **check_submission(session=session, settings=settings, run_in=run_in, viewer=user),
        **problems,
    }
    if not errors:
        plan = plan_run(session=session, settings=settings, run_in=run_in, viewer=user)
    quotas = user_quotas(session=session, settings=settings, user=user)
slots["general"] = st.empty()
for usage in (quotas.active_runs, quotas.fits_per_run):  # check_submission's keys for them
    slots[usage.setting] = st.empty()
for field, reason in errors.items():
    slots.get(field, slots["general"]).error(plain(reason), icon=":material/error:")
st.caption(run_quota_line(quotas, plan))

st.markdown(what_will_run(run_in, dataset, task))
if plan is not None:
    plan_metrics(plan, estimator=estimator, dataset=dataset)
if plan is not None and plan.halving is not None:  # as the service resolves and stores it
    st.caption(
        "Successive halving's schedule: each rung keeps the best candidates of the one "
        "before, on more samples."
    )
    st.dataframe(schedule_table(plan.halving), hide_index=True, key="schedule.new")

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
