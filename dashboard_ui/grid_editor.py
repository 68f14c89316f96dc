"""The parameter-grid editor of the New run page, built from the catalog's metadata."""

from collections.abc import Mapping
from typing import Any

import streamlit as st

from dashboard_ui import support as ui
from dashboard_ui.grid_values import parse_values, value_range
from tuning.errors import InvalidInput
from tuning.service import value_label

# The first parameters of each catalog entry are its most influential; start with these.
TUNED_AT_FIRST = 2
LIST, RANGE = "List of values", "Range"
# How a range is searched: its evenly spaced values, or (a sampling search) the whole span.
SPACED, CONTINUOUS = "Evenly spaced values", "Sample continuously"


def grid_editor(
    estimator: str, slots: dict[str, Any], *, sampled: bool = False
) -> tuple[dict[str, list | dict], dict[str, str]]:
    """A panel per parameter; returns the grid and the problems found while reading it.

    Each panel leaves an empty slot under it in `slots` ("param_grid.<name>") for its error.
    When the search samples its candidates (`sampled`), a numeric range may be sampled
    continuously: `{"low", "high", "log"}` instead of a list.
    """
    grid: dict[str, list | dict] = {}
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
                        grid[name] = _values(meta, key, sampled=sampled)
                    except InvalidInput as exc:
                        problems[exc.field] = exc.reason
                else:
                    suggested = ", ".join(map(value_label, meta["suggested"]))
                    st.caption(f"Not tuned (the estimator's default). Suggested: {suggested}")
                slots[f"param_grid.{name}"] = st.empty()
    return grid, problems


def prefill_grid(estimator: str, grid: Mapping[str, list | dict]) -> None:
    """Set the editor's widgets to `grid`: its parameters ticked with their values listed (or
    their range), the others unticked. Call before the editor is drawn."""
    state = st.session_state
    for name, meta in ui.param_meta(estimator).items():
        key = _key(estimator, name)
        state[f"{key}.on"] = name in grid
        if name not in grid:
            continue
        values = grid[name]
        if isinstance(values, dict):  # a range, sampled continuously
            state[f"{key}.mode"], state[f"{key}.how"] = RANGE, CONTINUOUS
            state[f"{key}.low"], state[f"{key}.high"] = values["low"], values["high"]
            state[f"{key}.spacing"] = "log" if values.get("log") else "linear"
        elif _is_choice(meta):
            state[f"{key}.choices"] = list(values)
        else:
            state[f"{key}.mode"] = LIST
            state[f"{key}.text"] = ", ".join(map(value_label, values))


def _key(estimator: str, name: str) -> str:
    """The start of the keys of a parameter's widgets."""
    return f"new.grid.{estimator}.{name}"


def _is_choice(meta: dict[str, Any]) -> bool:
    return meta["kind"] in ("str", "bool")


def _values(meta: dict[str, Any], key: str, *, sampled: bool) -> list | dict:
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
        return _range(meta, key, sampled=sampled)
    state.setdefault(f"{key}.text", ", ".join(map(value_label, meta["suggested"])))
    text = st.text_input(
        "Values",
        key=f"{key}.text",
        help="Comma-separated, e.g. 0.1, 1, 10" + (" or None" if None in meta["choices"] else ""),
        label_visibility="collapsed",
    )
    return parse_values(text)


def _range(meta: dict[str, Any], key: str, *, sampled: bool) -> list | dict:
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
    state.setdefault(f"{key}.how", SPACED)
    continuous = sampled and (
        st.segmented_control(
            "Range as",
            [SPACED, CONTINUOUS],
            required=True,
            key=f"{key}.how",
            label_visibility="collapsed",
        )
        == CONTINUOUS
    )
    step = 1 if is_int else None  # whole numbers for an int parameter, as its values are
    low_col, high_col, count_col, spacing_col = st.columns([2, 2, 1, 2])
    low = low_col.number_input("From", step=step, key=f"{key}.low")
    high = high_col.number_input("To", step=step, key=f"{key}.high")
    spacing = spacing_col.segmented_control(
        "Spacing", ["linear", "log"], required=True, key=f"{key}.spacing"
    )
    if continuous:
        scale = "on a log scale" if spacing == "log" else "uniformly"
        what = "whole number" if is_int else "number"
        st.caption(f"Sampled {scale}: any {what} from {value_label(low)} to {value_label(high)}")
        return {"low": cast(low), "high": cast(high), "log": spacing == "log"}
    count = count_col.number_input("Values", min_value=1, max_value=50, key=f"{key}.n")
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
