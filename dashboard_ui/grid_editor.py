"""The parameter-grid editor of the New run page, built from the catalog's metadata."""

from typing import Any

import streamlit as st

from dashboard_ui import support as ui
from dashboard_ui.grid_values import parse_values, value_range
from tuning.errors import InvalidInput
from tuning.service import value_label

# The first parameters of each catalog entry are its most influential; start with these.
TUNED_AT_FIRST = 2
LIST, RANGE = "List of values", "Range"


def grid_editor(estimator: str, slots: dict[str, Any]) -> tuple[dict[str, list], dict[str, str]]:
    """A panel per parameter; returns the grid and the problems found while reading it.

    Each panel leaves an empty slot under it in `slots` ("param_grid.<name>") for its error.
    """
    grid: dict[str, list] = {}
    problems: dict[str, str] = {}
    for position, (name, meta) in enumerate(ui.param_meta(estimator).items()):
        key = _key(estimator, name)
        with st.container(border=True):
            left, right = st.columns([1, 3])
            st.session_state.setdefault(f"{key}.on", position < TUNED_AT_FIRST)
            tuned = left.checkbox(f"**{name}**", key=f"{key}.on", help=meta["help"])
            left.caption(meta["allowed"])
            with right:
                if tuned:
                    try:
                        grid[name] = _values(meta, key)
                    except InvalidInput as exc:
                        problems[exc.field] = exc.reason
                else:
                    suggested = ", ".join(map(value_label, meta["suggested"]))
                    st.caption(f"Not tuned (the estimator's default). Suggested: {suggested}")
                slots[f"param_grid.{name}"] = st.empty()
    return grid, problems


def prefill_grid(estimator: str, grid: dict[str, list]) -> None:
    """Set the editor's widgets to `grid`: its parameters ticked with their values listed, the
    others unticked. Call before the editor is drawn."""
    state = st.session_state
    for name, meta in ui.param_meta(estimator).items():
        key = _key(estimator, name)
        state[f"{key}.on"] = name in grid
        if name not in grid:
            continue
        if _is_choice(meta):
            state[f"{key}.choices"] = list(grid[name])
        else:
            state[f"{key}.mode"] = LIST
            state[f"{key}.text"] = ", ".join(map(value_label, grid[name]))


def _key(estimator: str, name: str) -> str:
    """The start of the keys of a parameter's widgets."""
    return f"new.grid.{estimator}.{name}"


def _is_choice(meta: dict[str, Any]) -> bool:
    return meta["kind"] in ("str", "bool")


def _values(meta: dict[str, Any], key: str) -> list:
    state = st.session_state
    if _is_choice(meta):
        options = meta["choices"] or [True, False]
        state.setdefault(f"{key}.choices", [v for v in meta["suggested"] if v in options])
        return st.multiselect(
            "Values",
            options,
            format_func=value_label,
            key=f"{key}.choices",
            label_visibility="collapsed",
        )
    state.setdefault(f"{key}.mode", LIST)
    mode = st.segmented_control(
        "How", [LIST, RANGE], required=True, key=f"{key}.mode", label_visibility="collapsed"
    )
    if mode == RANGE:
        return _range(meta, key)
    state.setdefault(f"{key}.text", ", ".join(map(value_label, meta["suggested"])))
    text = st.text_input(
        "Values",
        key=f"{key}.text",
        help="Comma-separated, e.g. 0.1, 1, 10" + (" or None" if None in meta["choices"] else ""),
        label_visibility="collapsed",
    )
    return parse_values(text)


def _range(meta: dict[str, Any], key: str) -> list:
    numbers = [
        v for v in meta["suggested"] if isinstance(v, int | float) and not isinstance(v, bool)
    ]
    if meta["log"]:  # a log range cannot start at 0
        numbers = [n for n in numbers if n > 0]
    is_int = meta["kind"] == "int"
    low_default = min(numbers, default=meta["low"] or 1)
    high_default = max(numbers, default=low_default * 10)
    cast = int if is_int else float
    state = st.session_state
    state.setdefault(f"{key}.low", cast(low_default))
    state.setdefault(f"{key}.high", cast(high_default))
    state.setdefault(f"{key}.n", 4)
    state.setdefault(f"{key}.spacing", "log" if meta["log"] else "linear")
    step = 1 if is_int else None  # whole numbers for an int parameter, as its values are
    low_col, high_col, count_col, spacing_col = st.columns([2, 2, 1, 2])
    low = low_col.number_input("From", step=step, key=f"{key}.low")
    high = high_col.number_input("To", step=step, key=f"{key}.high")
    count = count_col.number_input("Values", min_value=1, max_value=50, key=f"{key}.n")
    spacing = spacing_col.segmented_control(
        "Spacing", ["linear", "log"], required=True, key=f"{key}.spacing"
    )
    values = value_range(
        param=meta["name"],
        low=low,
        high=high,
        count=count,
        log=spacing == "log",
        kind=meta["kind"],
    )
    st.caption("Values: " + ", ".join(map(value_label, values)))
    return values
