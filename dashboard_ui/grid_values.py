"""What the grid editor's text and range widgets mean, as lists of values: no Streamlit here."""

from typing import Any

import numpy as np

from tuning.errors import InvalidInput


def parse_values(text: str) -> list[Any]:
    """Comma-separated grid values as JSON would give them: 3, 0.1, None, True, sqrt, 'a b'."""
    values: list[Any] = []
    for token in (part.strip() for part in text.split(",")):
        if not token:
            continue
        values.append(_parse_value(token))
    return values


_WORDS = {"none": None, "null": None, "true": True, "false": False}


def _parse_value(token: str) -> Any:
    if token.lower() in _WORDS:
        return _WORDS[token.lower()]
    try:
        return int(token)
    except ValueError:
        pass
    try:
        return float(token)
    except ValueError:
        return token.strip("'\"")


def value_range(
    *, param: str, low: float, high: float, count: int, log: bool, kind: str
) -> list[Any]:
    """`count` values from low to high, evenly or log-spaced; integers for an int parameter."""
    field = f"param_grid.{param}"
    if count < 1:
        raise InvalidInput(field, "a range needs at least one value")
    if high < low:
        raise InvalidInput(field, f"the range ends ({high:g}) below its start ({low:g})")
    if log and low <= 0:
        raise InvalidInput(field, "a log-spaced range needs a start above 0")
    points = np.geomspace(low, high, count) if log else np.linspace(low, high, count)
    if kind == "int":
        return list(dict.fromkeys(int(np.rint(point)) for point in points))
    return list(dict.fromkeys(float(f"{point:.6g}") for point in points))
