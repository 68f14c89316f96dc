"""New run's Data section: an upload with its profile before it is saved, and each dataset's
columns with their kinds, gaps, levels and roles (feature, left out, groups, time order)."""

from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from dashboard_ui import support as ui
from dashboard_ui.account import signed_in_only
from dashboard_ui.quotas import upload_quota
from dashboard_ui.text import plain
from tuning.domain import TaskType
from tuning.errors import InvalidInput, QuotaExceeded
from tuning.models import User
from tuning.schemas import ColumnRoles
from tuning.service import CsvPreview, DatasetSummary, csv_columns, preview_csv, upload_dataset

SAVED, UPLOAD = "Saved dataset", "Upload a CSV"
FILE_KEY = "upload.file"  # a file uploader's value cannot be kept (see form_state)
READ_AS: dict[str, TaskType | None] = {
    "As its values suggest": None,
    "Classes": TaskType.CLASSIFICATION,
    "Numbers": TaskType.REGRESSION,
}
ROLES = {
    "feature": "feature",
    "ignored": "left out",
    "group": "groups rows",
    "time": "orders rows",
}
NONE = "(none)"


@st.cache_data(max_entries=4, show_spinner=False)
def _preview(content: bytes, target: str, max_bytes: int, task: TaskType | None) -> CsvPreview:
    return preview_csv(content=content, target=target, max_bytes=max_bytes, task=task)


def upload_section(user: User, slots: dict[str, Any]) -> None:
    """The file, its target, how the target is read, the profile, and Save."""
    file = st.file_uploader("CSV file with a header row", type=["csv"], key=FILE_KEY)
    slots["file"] = st.empty()
    if file is None:
        st.caption("Choose the target column after the upload; the profile shows each column.")
        return
    content = file.getvalue()
    try:
        columns = csv_columns(content)
    except InvalidInput as exc:
        slots["file"].error(plain(exc.reason))
        return
    state = st.session_state
    if state.get("new.target") not in columns:  # the last column to start with
        state["new.target"] = columns[-1]
    target_col, read_col = st.columns([2, 1])
    target = target_col.selectbox("Target column (what to predict)", columns, key="new.target")
    state.setdefault("new.read_as", next(iter(READ_AS)))
    read_as = read_col.selectbox("Read the target as", list(READ_AS), key="new.read_as")
    slots["target"] = slots["task"] = st.empty()
    settings = ui.runtime().settings
    try:
        shown = _preview(content, target, settings.max_upload_bytes, READ_AS[read_as])
    except InvalidInput as exc:
        slots.get(exc.field, slots["file"]).error(plain(exc.reason))
        return
    st.write(
        f"{shown.n_rows:,} rows; the target **{plain(target)}** makes this a "
        f"**{shown.task.value}** task."
    )
    st.dataframe(shown.head, hide_index=True, key="upload.head")
    profile_view(shown.profile, key="upload.profile")
    state.setdefault("new.name", Path(file.name).stem)
    st.text_input("Save as", key="new.name")
    slots["name"] = st.empty()
    fits = upload_quota(user, len(content))
    st.button(
        "Save dataset and use it",
        type="primary",
        on_click=_save,
        args=(user, content, target, READ_AS[read_as]),
        disabled=not fits,
    )
    if error := state.get("new.upload_error"):
        slots.get(error[0], slots["name"]).error(plain(error[1]))


@signed_in_only
def _save(user: User, content: bytes, target: str, task: TaskType | None) -> None:
    """Store the uploaded file, then select it as the run's dataset."""
    state = st.session_state
    try:
        with ui.db() as session:
            dataset = upload_dataset(
                session=session,
                owner=user,
                name=state.get("new.name", ""),
                content=content,
                target=target,
                settings=ui.runtime().settings,
                task=task,
            )
    except InvalidInput as exc:
        state["new.upload_error"] = (exc.field, exc.reason)
        return
    except QuotaExceeded as exc:
        state["new.upload_error"] = ("file", str(exc))
        return
    state.pop("new.upload_error", None)
    state["new.source"] = SAVED
    state["new.dataset"] = dataset.name


def profile_view(profile: dict[str, Any], *, key: str) -> None:
    """The columns as the run will read them, the target's classes, and the warnings."""
    st.dataframe(profile_table(profile), hide_index=True, key=key)
    target = profile["target"]
    if target.get("classes"):
        counts = ", ".join(
            f"{plain(label, 30)} {count:,} ({count / profile['n_rows']:.0%})"
            for label, count in target["classes"][:10]
        )
        more = f" and {len(target['classes']) - 10} more" if len(target["classes"]) > 10 else ""
        st.caption(f"Target **{plain(target['name'])}**: {counts}{more}")
    elif summary := target.get("summary"):
        st.caption(
            f"Target **{plain(target['name'])}**: from {summary['min']:,.4g} to "
            f"{summary['max']:,.4g}, mean {summary['mean']:,.4g}"
        )
    if warnings := profile["warnings"]:
        lines = [f"- **{plain(w['column'], 60)}**: {plain(w['message'])}" for w in warnings]
        st.warning("\n".join(lines), icon=":material/warning:")


def profile_table(profile: dict[str, Any]) -> pd.DataFrame:
    """A row per column: its kind, gaps, distinct values, examples and default role."""
    return pd.DataFrame(
        {
            "column": [c["name"] for c in profile["columns"]],
            "kind": [c["kind"] for c in profile["columns"]],
            "missing": [f"{c['missing']:.1%}" for c in profile["columns"]],
            "distinct": [c["distinct"] for c in profile["columns"]],
            "examples": [", ".join(map(str, c["examples"])) for c in profile["columns"]],
            "role": [ROLES[c["role"]] for c in profile["columns"]],
            "why": [c["reason"] or "" for c in profile["columns"]],
        }
    )


def roles_section(dataset: str, profile: dict[str, Any], slots: dict[str, Any]) -> ColumnRoles:
    """What each column is for: left out (the profile's defaults first), the column whose rows
    stay together in a fold, the column that orders rows in time."""
    names = [c["name"] for c in profile["columns"]]
    defaults = [c["name"] for c in profile["columns"] if c["role"] == "ignored"]
    state, key = st.session_state, f"new.columns.{dataset}"
    state.setdefault(f"{key}.ignore", defaults)
    state.setdefault(f"{key}.group", NONE)
    state.setdefault(f"{key}.time", NONE)
    n_left_out = len(state[f"{key}.ignore"])
    with st.expander(
        f"Columns: {len(names) - n_left_out} features, {n_left_out} left out", expanded=True
    ):
        profile_view(profile, key=f"profile.{dataset}")
        ignore = st.multiselect(
            "Leave out of the features",
            names,
            key=f"{key}.ignore",
            help="ID-like, constant and empty columns are left out to start with; each one's "
            "reason is in the table",
        )
        slots["columns.ignore"] = st.empty()
        group_col, time_col = st.columns(2)
        dates = [c["name"] for c in profile["columns"] if c["kind"] in ("datetime", "numeric")]
        group = group_col.selectbox(
            "Keep rows together by",
            [NONE, *names],
            key=f"{key}.group",
            help="Rows with the same value (a customer, a patient) stay in one fold, so "
            "validation never sees a group it trained on (GroupKFold)",
        )
        slots["columns.group"] = group_col.empty()
        time = time_col.selectbox(
            "Order rows in time by",
            [NONE, *dates],
            key=f"{key}.time",
            help="Each fold trains on earlier rows and validates on later ones (TimeSeriesSplit)",
        )
        slots["columns.time"] = time_col.empty()
    return ColumnRoles(
        ignore=list(ignore),
        group=None if group == NONE else group,
        time=None if time == NONE else time,
    )


def fill_roles(dataset: str, roles: dict[str, Any] | None) -> None:
    """Set the roles widgets of `dataset` to a run's roles (before they are drawn)."""
    if roles is None:
        return
    state, key = st.session_state, f"new.columns.{dataset}"
    state[f"{key}.ignore"] = list(roles.get("ignore") or [])
    state[f"{key}.group"] = roles.get("group") or NONE
    state[f"{key}.time"] = roles.get("time") or NONE


def roles_words(roles: dict[str, Any] | None, test_size: float = 0.0) -> str:
    """A run's column roles and test set in a few words, for the line under its title."""
    parts = [] if roles is not None else ["every column a feature"]
    roles = roles or {}
    if roles.get("ignore"):
        names = ", ".join(plain(name, 40) for name in roles["ignore"][:6])
        more = f" and {len(roles['ignore']) - 6} more" if len(roles["ignore"]) > 6 else ""
        parts.append(f"left out {names}{more}")
    if roles.get("group"):
        parts.append(f"rows kept together by {plain(roles['group'])}")
    if roles.get("time"):
        parts.append(f"folds in time order by {plain(roles['time'])}")
    if test_size:
        parts.append(f"{test_size:.0%} of the rows kept out of tuning as a test set")
    return "; ".join(parts) or "every column a feature"


# New run's test set for an uploaded file: a fifth of its rows, as a careful analyst keeps one.
UPLOADED_TEST_PERCENT = 20


def test_set_key(dataset: str) -> str:
    return f"new.test_percent.{dataset}"


def test_set_input(choice: DatasetSummary, roles: ColumnRoles, slots: dict[str, Any]) -> float:
    """The share of rows kept out of tuning, to test the trained model on: 20 % for an
    uploaded file to start with, none for a bundled set (whose runs compare with older ones)."""
    key = test_set_key(choice.name)
    st.session_state.setdefault(key, UPLOADED_TEST_PERCENT if choice.kind == "csv" else 0)
    how = (
        f"the latest rows by {roles.time}"
        if roles.time
        else f"whole groups of {roles.group}"
        if roles.group
        else "drawn by the seed, stratified by class"
        if choice.task is TaskType.CLASSIFICATION
        else "drawn by the seed"
    )
    percent = st.number_input(
        "Test set kept out of tuning (%)",
        min_value=0,
        max_value=50,
        step=5,
        key=key,
        help="These rows take no part in tuning's cross-validation; a model trained from the "
        f"run is tested on them ({how}). 0: no test set",
    )
    slots["test_size"] = st.empty()
    return percent / 100
