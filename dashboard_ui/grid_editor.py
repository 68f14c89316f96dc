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
        key = f"new.grid.{estimator}.{name}"
        with st.container(border=True):
            left, right = st.columns([1, 3])
            tuned = left.checkbox(
                f"**{name}**", value=position < TUNED_AT_FIRST, key=f"{key}.on", help=meta["help"]
            )
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


def _values(meta: dict[str, Any], key: str) -> list:
    if meta["kind"] in ("str", "bool"):
        options = meta["choices"] or [True, False]
        return st.multiselect(
            "Values",
            options,
            default=[v for v in meta["suggested"] if v in options],
            format_func=value_label,
            key=f"{key}.choices",
            label_visibility="collapsed",
        )
    mode = st.segmented_control(
        "How",
        [LIST, RANGE],
        default=LIST,
        required=True,
        key=f"{key}.mode",
        label_visibility="collapsed",
    )
    if mode == RANGE:
        return _range(meta, key)
    text = st.text_input(
        "Values",
        value=", ".join(map(value_label, meta["suggested"])),
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
    low_col, high_col, count_col, spacing_col = st.columns([2, 2, 1, 2])
    low = low_col.number_input("From", value=cast(low_default), key=f"{key}.low")
    high = high_col.number_input("To", value=cast(high_default), key=f"{key}.high")
    count = count_col.number_input("Values", min_value=1, max_value=50, value=4, key=f"{key}.n")
    spacing = spacing_col.segmented_control(
        "Spacing",
        ["linear", "log"],
        default="log" if meta["log"] else "linear",
        required=True,
        key=f"{key}.spacing",
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
