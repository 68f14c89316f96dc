"""New run as one submission: filled from a run to start from, and read back in a sentence.

The page builds one `TuningRunCreate` from its widgets; Launch submits that object and
`what_will_run` describes that same object above the button, so what the page says is what
runs. `fill_form` sets every widget from a submission (Results' "Refine", "Run again") before
the widgets are drawn.
"""

import streamlit as st

from dashboard_ui.data_section import SAVED, fill_roles, test_set_key
from dashboard_ui.grid_editor import prefill_grid
from dashboard_ui.refine import PARENT
from dashboard_ui.search_form import HALVING_CANDIDATES_KEY, SEARCH_KEY, SEARCHES
from dashboard_ui.text import plain
from tuning.domain import TaskType
from tuning.schemas import TuningRunCreate
from tuning.service import DatasetSummary


def fill_form(run_in: TuningRunCreate, choices: list[DatasetSummary]) -> None:
    """Every widget of New run set to `run_in` (its dataset named by id or by name)."""
    choice = next((c for c in choices if run_in.dataset in (str(c.id), c.name)), None)
    if choice is None:  # gone, or no longer the user's: keep the form as it is
        return
    state, task = st.session_state, choice.task.value
    state["new.source"] = SAVED
    state["new.dataset"] = choice.name
    state[f"new.estimator.{task}"] = run_in.estimator
    prefill_grid(run_in.estimator, run_in.param_grid)
    state[SEARCH_KEY] = run_in.search
    halving = run_in.halving
    if halving is not None:
        state[HALVING_CANDIDATES_KEY] = halving.candidates
        state["new.halving.factor"] = float(halving.factor)
        min_key = f"new.halving.min_samples.{halving.candidates}"
        if isinstance(halving.min_resources, int):
            state[min_key], state["new.halving.min_number"] = "number", halving.min_resources
        elif halving.min_resources is not None:
            state[min_key] = halving.min_resources
        state["new.halving.aggressive"] = halving.aggressive_elimination
        state["new.halving.n_iter"] = run_in.n_iter
    elif run_in.n_iter is not None:
        state["new.n_iter"] = run_in.n_iter
    state["new.seed"] = run_in.random_state
    state["new.cv"] = run_in.cv
    if run_in.scoring is not None:
        state[f"new.scoring.{choice.name}"] = run_in.scoring
    if run_in.pos_label is not None:
        state[f"new.pos_label.{choice.name}"] = run_in.pos_label
    state["new.stop_after"] = run_in.stop_after_no_improvement
    state["new.time_budget"] = run_in.time_budget_s
    state["new.train_scores"] = run_in.return_train_score
    fill_roles(choice.name, run_in.columns.model_dump() if run_in.columns else None)
    state["new.run_name"] = run_in.name or ""  # a refined or repeated run is named anew
    state["new.tags"] = ", ".join(run_in.tags or [])
    state[test_set_key(choice.name)] = round(run_in.test_size * 100)
    if run_in.parent_run_id:
        state[PARENT] = run_in.parent_run_id
    else:
        state.pop(PARENT, None)


def what_will_run(run_in: TuningRunCreate, dataset: str, task: TaskType) -> str:
    """The submission in one sentence of markdown: the very object Launch submits."""
    search = SEARCHES[run_in.search].lower()
    if run_in.n_iter is not None:
        search += f" of {run_in.n_iter:,}"
    roles = run_in.columns
    folds = f"{run_in.cv}-fold cross-validation"
    if roles is not None and roles.time:
        folds += f" in time order by **{plain(roles.time)}**"
    elif roles is not None and roles.group:
        folds += f", rows kept together by **{plain(roles.group)}**"
    elif task is TaskType.CLASSIFICATION:
        folds += ", stratified"
    parts = [
        f"**{run_in.estimator}** on **{plain(dataset)}**",
        search,
        folds,
        f"scored by **{run_in.scoring}**"
        + (
            f" with **{plain(run_in.pos_label)}** as the positive class" if run_in.pos_label else ""
        ),
    ]
    if roles is not None and roles.ignore:
        left_out = ", ".join(plain(name, 40) for name in roles.ignore[:8])
        more = f" and {len(roles.ignore) - 8} more" if len(roles.ignore) > 8 else ""
        parts.append(f"leaving out {left_out}{more}")
    if run_in.test_size:
        kept = "the latest" if roles is not None and roles.time else "a"
        parts.append(f"{kept} {run_in.test_size:.0%} of the rows kept out as a test set")
    if not run_in.return_train_score:
        parts.append("no train scores")
    if run_in.name:
        parts.append(f"named **{plain(run_in.name)}**")
    if run_in.tags:
        parts.append("tagged " + ", ".join(f"**{plain(tag)}**" for tag in run_in.tags))
    return "Will run: " + " · ".join(parts) + "."
