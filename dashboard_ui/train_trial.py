""" "Train this": a trial of a run trained as a final model, from Results. Submits through
tuning.service and opens the Models page, where the training is followed."""

import streamlit as st

from dashboard_ui import support as ui
from dashboard_ui.text import plain
from tuning.errors import TuningError
from tuning.models import User
from tuning.schemas import TrainingRunCreate
from tuning.service import submit_training


def train_trial_button(run_id: object, trial: int, user: User, *, key: str) -> None:
    """A button that trains trial `trial` of the run and opens Models."""
    if not st.button(f"Train trial #{trial}", key=key, icon=":material/model_training:"):
        return
    try:
        with ui.db() as session:
            submit_training(
                session=session,
                queue=ui.runtime().queue,
                owner=user,
                request=TrainingRunCreate(tuning_run_id=str(run_id), trial=trial),
            )
    except TuningError as exc:
        st.error(plain(exc))
        return
    st.switch_page(ui.MODELS_PAGE, query_params={"run": str(run_id)})
