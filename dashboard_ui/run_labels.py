"""A run's name and tags on the dashboard: typed in New run, changed, archived, restored or
deleted from the monitor (by whoever may see it: its owner, or an admin)."""

import streamlit as st

from dashboard_ui import support as ui
from dashboard_ui.text import plain
from tuning.errors import TuningError
from tuning.models import User
from tuning.schemas import RUN_PRIORITIES, RunChange
from tuning.service import RUN_NAME_LIMIT, TAGS_PER_RUN, RunSummary, change_run, delete_run

TAGS_HELP = f"Separated by commas, at most {TAGS_PER_RUN}; kept lower-case. Runs filters by them."


def split_tags(text: str | None) -> list[str]:
    """Tags typed in one box, separated by commas (which no tag holds)."""
    return [tag for tag in (text or "").split(",") if tag.strip()]


def tags_words(run: RunSummary) -> str:
    """A run's tags and archive for a caption (markdown); "" when it has neither."""
    words = [f"**{plain(tag)}**" for tag in run.tags]
    if run.archived_at is not None:
        words.append(f"archived {ui.format_time(run.archived_at)}")
    return " · ".join(words)


def manage_run(run: RunSummary, user: User) -> None:
    """Rename and retag the run, archive or restore it, delete it after a confirmation."""
    with st.expander("Name, tags, archive, delete", icon=":material/label:"):
        with st.form(f"run.labels.{run.id}", border=False):
            name = st.text_input(
                "Name", value=run.name or "", max_chars=RUN_NAME_LIMIT, placeholder=run.label
            )
            tags = st.text_input("Tags", value=", ".join(run.tags), help=TAGS_HELP)
            priority = run.priority
            if user.is_admin:  # fair turns: a higher priority's chunks go first
                priority = st.number_input(
                    "Priority (admins)",
                    min_value=RUN_PRIORITIES.start,
                    max_value=RUN_PRIORITIES.stop - 1,
                    value=run.priority,
                    help="A higher priority's work goes to the workers first; 0 for every run "
                    "by default. Runs of equal priority take fair turns.",
                )
            if st.form_submit_button("Save", icon=":material/save:"):
                change = RunChange(name=name, tags=split_tags(tags))
                if priority != run.priority:  # sent only when moved: analysts may not send it
                    change = RunChange(name=name, tags=split_tags(tags), priority=int(priority))
                _change(run, user, change)
        archive_col, delete_col = st.columns(2)
        archived = run.archived_at is not None
        if archive_col.button(
            "Restore" if archived else "Archive",
            icon=":material/unarchive:" if archived else ":material/archive:",
            help="Archived runs are hidden from Runs unless it shows them",
            key="run.archive",
        ):
            _change(run, user, RunChange(archived=not archived))
        _delete(run, user, delete_col)


def _change(run: RunSummary, user: User, change: RunChange) -> None:
    try:
        with ui.db() as session:
            change_run(session=session, run_id=run.id, viewer=user, change=change)
    except TuningError as exc:
        st.error(plain(exc), icon=":material/error:")
    else:
        st.rerun()


def _delete(run: RunSummary, user: User, column) -> None:
    confirm_key = f"run.delete.confirm.{run.id}"
    if not st.session_state.get(confirm_key):
        if column.button("Delete…", icon=":material/delete:", key="run.delete"):
            st.session_state[confirm_key] = True
            st.rerun()
        return
    column.warning(
        "Delete this run with its trials, notes and trained models? This cannot be undone; "
        "runs that refine it stay."
    )
    yes_col, no_col = column.columns(2)
    if no_col.button("Keep it", key="run.delete.no"):
        st.session_state.pop(confirm_key, None)
        st.rerun()
    if yes_col.button("Yes, delete", type="primary", key="run.delete.yes"):
        st.session_state.pop(confirm_key, None)
        try:
            with ui.db() as session:
                delete_run(session=session, run_id=run.id, viewer=user)
        except TuningError as exc:
            column.error(plain(exc), icon=":material/error:")
        else:
            st.toast("Run deleted", icon=":material/delete:")
            st.switch_page(ui.RUNS_PAGE)
