"""Models (`/models?model=<id>`): train a run's best (or any scored trial's) parameters, follow
it, see a model's evaluation on the test rows, move its threshold, predict a new file, and
download it."""

import streamlit as st

from dashboard_ui import support as ui
from dashboard_ui.account import fragment, signed_in_user
from dashboard_ui.model_view import evaluation_section, predictions_section
from dashboard_ui.text import plain
from tuning.domain import ACTIVE, RunStatus
from tuning.errors import TuningError
from tuning.schemas import TrainingRunCreate
from tuning.service import (
    archive_model,
    get_model,
    list_runs,
    list_training_runs,
    model_bytes,
    read_model,
    status_of_training,
    submit_training,
)

REFRESH_SECONDS = 2.0

user = signed_in_user()
st.title("Models")
st.caption(
    "A model is fitted on the training rows with the parameters of a run's best trial (or the "
    "trial you pick on Results) and evaluated on the test rows: the run's test set, kept out "
    "of tuning, or for a run without one a seeded 20 % its cross-validation also saw. The "
    "file is that model: load it with `skops.io.load(path, trusted=skops.io."
    "get_untrusted_types(file=path))` and give it the columns of your CSV as `pandas.read_csv` "
    "reads them."
)

st.subheader("Train a model")
with ui.db() as session:
    finished = list_runs(
        session=session, viewer=user, statuses=[RunStatus.SUCCESS], limit=200
    ).items
if not finished:
    st.info("No finished run yet: a model is trained from a run's best parameters.")
else:
    labels = {str(run.id): ui.run_label(run) for run in finished}
    preselected = ui.run_query_param()
    options = list(labels)
    chosen = st.selectbox(
        "Tuning run",
        options,
        format_func=labels.__getitem__,
        index=options.index(preselected) if preselected in labels else 0,
    )
    run = next(run for run in finished if str(run.id) == chosen)
    st.write(f"Best parameters (trial #{run.best_trial_index}):")
    st.json(run.best_params or {})
    st.caption("Any other scored trial: select its row in Results' Trials and press Train this.")
    if st.button("Train with these parameters", type="primary", icon=":material/play_arrow:"):
        try:
            with ui.db() as session:
                training = submit_training(
                    session=session,
                    queue=ui.runtime().queue,
                    owner=user,
                    request=TrainingRunCreate(tuning_run_id=chosen),
                )
        except TuningError as exc:
            st.error(plain(exc))
        else:
            st.toast(f"Training {training.estimator}…", icon=":material/model_training:")

show_archived = st.toggle("Show archived models", key="models.archived")
with ui.db() as session:
    trainings = list_training_runs(session=session, viewer=user, limit=50, archived=show_archived)
active = any(training.status in ACTIVE for training in trainings)


def trial_words(training) -> str:
    if training.tuning_run_id is None:
        return "chosen parameters"
    if training.trial_index is None:
        return "the run's best trial"
    return f"trial #{training.trial_index} of run `{ui.short_id(training.tuning_run_id)}`"


def training_list() -> None:
    """The training runs; refreshes itself while one is queued or fitting."""
    st.subheader("Training runs")
    with ui.db() as session:  # one read a tick; Redis only for the active ones
        trainings = list_training_runs(
            session=session, viewer=user, limit=50, archived=show_archived
        )
    if not trainings:
        st.caption("No archived models." if show_archived else "None yet.")
        return
    for training in trainings:
        status = status_of_training(run=training, queue=ui.runtime().queue)
        with st.container(border=True):
            left, right = st.columns([3, 1])
            left.markdown(
                f"**{training.estimator}** · {trial_words(training)} · "
                f"{ui.format_time(training.created_at)} · `{ui.short_id(training.id)}`"
            )
            left.caption(f"parameters: {plain(training.params)}")
            ui.status_badge(status.status)
            if status.status is RunStatus.SUCCESS and status.result:
                metrics = " · ".join(f"{k} {v:.4f}" for k, v in status.result.metrics.items())
                left.write(f"test rows: {metrics} · trained in {status.result.training_time:.1f}s")
                model_id = status.result.model_id
                if right.button("Open", key=f"models.open.{model_id}", icon=":material/insights:"):
                    st.query_params["model"] = model_id
                    st.rerun()
                download_button(right, model_id, training.estimator)
                archive_button(right, model_id)
            elif status.status is RunStatus.FAILURE and status.error:
                left.error(ui.failure_text(status.error.type, status.error.message))
            elif status.progress:
                left.progress(0.0, text=status.progress.status)
    if not any(t.status in ACTIVE for t in trainings) and active:
        st.rerun()  # the last one finished: redraw once without the timer


def archive_button(column, model_id: str) -> None:
    """Archive a model (hidden from this list, its file kept), or restore an archived one."""
    label, icon = "Archive", ":material/archive:"
    if show_archived:
        label, icon = "Restore", ":material/unarchive:"
    if column.button(label, key=f"models.archive.{model_id}", icon=icon):
        with ui.db() as session:
            archive_model(
                session=session, model_id=model_id, viewer=user, archived=not show_archived
            )
        st.rerun(scope="app")


def download_button(column, model_id: str, estimator: str) -> None:
    key = f"models.file.{model_id}"
    slot = column.empty()  # the button, then the download in its place
    # The file is read from the database only when asked for, not at every refresh.
    if key not in st.session_state:
        if not slot.button("Prepare download", key=f"{key}.prepare", icon=":material/download:"):
            return
        with ui.db() as session:
            model = get_model(session=session, model_id=model_id, viewer=user)
            st.session_state[key] = model_bytes(session=session, model_id=model.id)
    slot.download_button(
        "Download .skops",
        st.session_state[key],
        file_name=f"{estimator}-{model_id}.skops",
        mime="application/octet-stream",
        key=f"{key}.download",
    )


def chosen_model_id() -> str | None:
    """The model named in the address, else the newest one trained."""
    asked = st.query_params.get("model")
    if asked:
        return asked
    done = [t for t in trainings if t.status is RunStatus.SUCCESS and t.model_id is not None]
    return str(done[0].model_id) if done else None


fragment(training_list, run_every=REFRESH_SECONDS if active else None)()
model_id = chosen_model_id()
if model_id is not None:
    try:
        with ui.db() as session:
            model = read_model(session=session, model_id=model_id, viewer=user)
    except TuningError as exc:
        st.error(plain(exc))
    else:
        came_from = "chosen parameters"
        if model.tuning_run_id is not None:
            came_from = f"trial #{model.trial_index} of run `{ui.short_id(model.tuning_run_id)}`"
        st.header(f"{model.estimator} · {came_from}")
        st.caption(f"Model `{model.id}` · parameters: {plain(model.params)}")
        evaluation_tab, predict_tab = st.tabs(["Evaluation on the test rows", "Predict a file"])
        with evaluation_tab:
            evaluation_section(model, user)
        with predict_tab:
            if model.evaluation and "columns" in model.evaluation:
                predictions_section(model, user)
            else:
                st.info("This model was trained before predictions were offered: train it again.")
