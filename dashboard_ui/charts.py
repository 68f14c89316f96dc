"""Plotly figures of a run's scores. Pure: frames in, figures out, nothing read or stored.

Run labels (they name datasets) go through `chart_text`: Plotly reads HTML tags in trace names.
"""

from collections.abc import Mapping, Sequence
from numbers import Real
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from dashboard_ui.text import chart_text
from tuning.service import SCORE, best_so_far_steps, param_column, value_label

HEIGHT = 320
MAX_TICKS = 12
# The theme's categorical colours (.streamlit/config.toml), for traces that must match.
PALETTE = ["#2f5bd3", "#e4572e", "#17a398", "#f3a712", "#8e44ad", "#6c757d"]
_MARGIN = {"l": 10, "r": 10, "t": 40, "b": 10}


def _layout(figure: go.Figure, title: str, *, height: int = HEIGHT) -> go.Figure:
    figure.update_layout(
        title={"text": title, "font": {"size": 15}},
        height=height,
        margin=_MARGIN,
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.0, "xanchor": "right", "x": 1},
    )
    return figure


def is_numeric(values: Sequence[Any]) -> bool:
    """Whether a parameter's values sit on a number line (no None, words or booleans)."""
    return bool(values) and all(_is_number(v) and not np.isnan(v) for v in values)


def _is_number(value: Any) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool)


def category_order(values: Sequence[Any]) -> list[str]:
    """Labels of mixed values in reading order: None, then numbers ascending, then words."""

    def rank(value: Any) -> tuple:
        if value is None:
            return (0, 0.0, "")
        return (1, float(value), "") if _is_number(value) else (2, 0.0, str(value))

    return [value_label(v) for v in sorted(dict.fromkeys(values), key=rank)]


# Past this many points a trace is drawn with WebGL (Scattergl): one canvas, not an SVG node
# per point, so 20,000 candidates draw as fast as 200.
GL_POINTS = 1_000


def _scatter(n_points: int) -> type[go.Scatter] | type[go.Scattergl]:
    return go.Scattergl if n_points > GL_POINTS else go.Scatter


def _compact(values: pd.Series) -> np.ndarray:
    """Scores or times for a dot per candidate as float32: half the bytes on the wire (Plotly
    sends a number array as base64), and 7 digits where a chart shows 4."""
    return values.to_numpy(dtype=np.float32, na_value=np.nan)


def score_by_param_figure(
    table: pd.DataFrame,
    param: str,
    *,
    log: bool,
    scoring: str,
    points: pd.DataFrame | None = None,
) -> go.Figure:
    """Mean test score per value (or per bin) with its spread across folds, and the best
    candidate's score; with `points` (the trials), a faint dot per candidate beneath."""
    numeric = is_numeric(list(table["value"]))
    x = table["value"].astype(float) if numeric else table["label"]
    figure = go.Figure()
    if points is not None:
        scored = points[points[SCORE].notna()]
        figure.add_trace(
            _scatter(len(scored))(
                x=_compact(scored[param_column(param)].astype(float)),
                y=_compact(scored[SCORE]),
                mode="markers",
                marker={"size": 4, "opacity": 0.25, "color": "#8a94a6"},
                name="each candidate",
                hoverinfo="skip",
            )
        )
    figure.add_scatter(
        x=x,
        y=table["mean_score"],
        error_y={"type": "data", "array": table["fold_std"], "visible": True},
        mode="lines+markers",
        name="mean ± fold std",
        customdata=table["n_candidates"],
        hovertemplate="%{x}: mean %{y:.4f} over %{customdata} candidates<extra></extra>",
    )
    figure.add_scatter(
        x=x,
        y=table["best_score"],
        mode="markers",
        marker={"symbol": "star", "size": 10},
        name="best candidate",
        hovertemplate="%{x}: best %{y:.4f}<extra></extra>",
    )
    if numeric:
        figure.update_xaxes(type="log" if log else "linear")
        if len(table) <= MAX_TICKS:  # ticks at the values tried
            figure.update_xaxes(tickvals=list(x), ticktext=list(table["label"]))
    else:
        figure.update_xaxes(type="category")
    figure.update_xaxes(title=param + (" (log scale)" if numeric and log else ""))
    figure.update_yaxes(title=scoring)
    return _layout(figure, param)


def best_so_far_figure(
    frames: Mapping[str, pd.DataFrame], *, scoring: str, history: pd.Series | None = None
) -> go.Figure:
    """Per run, the best score after each trial as a line over each trial's own score as dots.

    The line is drawn through the trials where the best changed (and the last), the same steps
    in a few points rather than one per trial. `history` (one run): those steps, when the frame
    holds only some of its trials."""
    single = len(frames) == 1
    figure = go.Figure()
    for position, (label, frame) in enumerate(frames.items()):
        color = PALETTE[position % len(PALETTE)]
        scores = list(zip(frame["trial"], frame[SCORE], strict=True))
        line = history if history is not None and single else best_so_far_steps(scores)
        name = chart_text(label)
        figure.add_trace(
            _scatter(len(frame))(
                x=frame["trial"],
                y=_compact(frame[SCORE]),
                mode="markers",
                marker={"size": 5, "opacity": 0.35, "color": "#8a94a6" if single else color},
                name="each candidate" if single else f"{name}: candidates",
                legendgroup=label,
                showlegend=single,
                hovertemplate="trial %{x}: %{y:.4f}<extra></extra>",
            )
        )
        figure.add_scatter(
            x=line.index,
            y=line.to_numpy(),
            mode="lines",
            line={"shape": "hv", "width": 2.5, "color": color},
            name="best so far" if single else name,
            legendgroup=label,
            hovertemplate="after trial %{x}: best %{y:.4f}<extra></extra>",
        )
    figure.update_xaxes(title="trial")
    figure.update_yaxes(title=scoring)
    return _layout(figure, "Best score so far")


def importance_figure(importance: pd.DataFrame) -> go.Figure:
    ordered = importance.iloc[::-1]
    figure = go.Figure(
        go.Bar(
            x=ordered["importance"],
            y=ordered["parameter"],
            orientation="h",
            text=[f"{share:.0%}" for share in ordered["importance"]],
            textposition="auto",
            hovertemplate="%{y}: %{x:.1%} of the score's variance<extra></extra>",
        )
    )
    figure.update_xaxes(title="share of score variance explained", tickformat=".0%")
    height = max(HEIGHT, 60 + 36 * len(importance))
    return _layout(figure, "Parameter importance", height=height)


def heatmap_figure(table: pd.DataFrame, rows: str, columns: str, *, how: str) -> go.Figure:
    values = table.to_numpy(dtype=float)
    text = [["" if np.isnan(v) else f"{v:.3f}" for v in row] for row in values]
    figure = go.Figure(
        go.Heatmap(
            z=values,
            x=[str(c) for c in table.columns],
            y=[str(i) for i in table.index],
            text=text,
            texttemplate="%{text}",
            colorscale="Viridis",
            hovertemplate=f"{rows}=%{{y}}, {columns}=%{{x}}: %{{z:.4f}}<extra></extra>",
            colorbar={"title": {"text": how}},
        )
    )
    figure.update_xaxes(title=columns, type="category")
    figure.update_yaxes(title=rows, type="category")
    return _layout(figure, f"{how.capitalize()} score by {rows} and {columns}", height=420)


def _dimension(frame: pd.DataFrame, param: str, *, log: bool) -> dict[str, Any]:
    values = list(frame[param_column(param)])
    if is_numeric(values):
        numbers = np.asarray(values, dtype=float)
        if log and (numbers > 0).all():
            ticks = np.unique(numbers)
            return {
                "label": f"{param} (log)",
                "values": np.log10(numbers),
                "tickvals": np.log10(ticks),
                "ticktext": [f"{t:g}" for t in ticks],
            }
        return {"label": param, "values": numbers}
    labels = [value_label(v) for v in values]
    order = list(dict.fromkeys(labels))
    codes = {label: code for code, label in enumerate(order)}
    return {
        "label": param,
        "values": [codes[label] for label in labels],
        "tickvals": list(range(len(order))),
        "ticktext": order,
    }


# Lines beyond this blur into one band, and cost the browser more than they show.
PARALLEL_LINES = 2_000


def parallel_figure(
    frame: pd.DataFrame, params: Sequence[str], *, log: set[str], scoring: str
) -> go.Figure:
    """One line per scored candidate through every parameter, coloured by its score; past
    PARALLEL_LINES candidates, the best ones only (the title says so)."""
    scored = frame[frame[SCORE].notna()]
    title = "Every candidate across all parameters"
    if len(scored) > PARALLEL_LINES:
        scored = scored.nlargest(PARALLEL_LINES, SCORE)
        title = f"The best {PARALLEL_LINES:,} candidates across all parameters"
    dimensions = [_dimension(scored, p, log=p in log) for p in params]
    dimensions.append({"label": scoring, "values": scored[SCORE]})
    figure = go.Figure(
        go.Parcoords(
            line={"color": scored[SCORE], "colorscale": "Viridis", "showscale": True},
            dimensions=dimensions,
        )
    )
    figure = _layout(figure, title, height=420)
    figure.update_layout(margin={"l": 60, "r": 40, "t": 80, "b": 20})
    return figure


def fit_time_figure(frame: pd.DataFrame, params: Sequence[str], *, scoring: str) -> go.Figure:
    """Score against the mean fit time of each candidate: what a better score costs."""
    scored = frame[frame[SCORE].notna()]
    hover = [
        ", ".join(f"{p}={value_label(v)}" for p, v in zip(params, row, strict=True))
        for row in scored[[param_column(p) for p in params]].itertuples(index=False)
    ]
    figure = go.Figure(
        _scatter(len(scored))(
            x=scored["mean_fit_time"],
            y=scored[SCORE],
            mode="markers",
            marker={"size": 7, "opacity": 0.7},
            text=hover,
            hovertemplate="%{text}<br>fit %{x:.3f}s: %{y:.4f}<extra></extra>",
        )
    )
    figure.update_xaxes(title="mean fit time per fold (s)", type="log")
    figure.update_yaxes(title=scoring)
    return _layout(figure, "Score against fit time")


def shared_param_figure(
    tables: Mapping[str, pd.DataFrame], param: str, *, log: bool, scoring: str
) -> go.Figure:
    """Mean score per value of one parameter, one line per run."""
    numeric = all(is_numeric(list(table["value"])) for table in tables.values())
    figure = go.Figure()
    for position, (label, table) in enumerate(tables.items()):
        color = PALETTE[position % len(PALETTE)]
        figure.add_scatter(
            x=table["value"].astype(float) if numeric else table["label"],
            y=table["mean_score"],
            error_y={"type": "data", "array": table["fold_std"], "visible": True, "color": color},
            mode="lines+markers",
            line={"color": color},
            name=chart_text(label),
        )
    if numeric:
        figure.update_xaxes(type="log" if log else "linear")
    else:
        values = [v for table in tables.values() for v in table["value"]]
        figure.update_xaxes(
            type="category", categoryorder="array", categoryarray=category_order(values)
        )
    figure.update_xaxes(title=param)
    figure.update_yaxes(title=scoring)
    return _layout(figure, param)


def train_vs_validation_figure(gaps: pd.DataFrame, *, scoring: str) -> go.Figure:
    """Each candidate's mean train score against its validation score, with the diagonal
    where they are equal: distance below it is overfitting."""
    figure = go.Figure()
    figure.add_trace(
        _scatter(len(gaps))(
            x=gaps["mean_train_score"],
            y=gaps[SCORE],
            mode="markers",
            marker={
                "size": 6,
                "opacity": 0.6,
                "color": gaps["gap"],
                "colorscale": "OrRd",
                "colorbar": {"title": {"text": "gap"}},
            },
            customdata=gaps[["trial", "gap"]],
            hovertemplate=(
                "trial %{customdata[0]}: train %{x:.4f}, validation %{y:.4f}, "
                "gap %{customdata[1]:.4f}<extra></extra>"
            ),
            name="candidates",
        )
    )
    low = float(min(gaps["mean_train_score"].min(), gaps[SCORE].min()))
    high = float(max(gaps["mean_train_score"].max(), gaps[SCORE].max()))
    figure.add_scatter(
        x=[low, high],
        y=[low, high],
        mode="lines",
        line={"dash": "dot", "color": "#6c757d"},
        name="train = validation",
        hoverinfo="skip",
    )
    figure.update_xaxes(title=f"train {scoring}")
    figure.update_yaxes(title=f"validation {scoring}")
    return _layout(figure, "Train against validation")


def gap_by_value_figure(table: pd.DataFrame, param: str, *, log: bool, scoring: str) -> go.Figure:
    """Mean train and validation score per value of one parameter: the gap between the lines."""
    numeric = is_numeric(list(table["value"]))
    x = table["value"].astype(float) if numeric else table["label"]
    figure = go.Figure()
    figure.add_scatter(x=x, y=table["mean_train_score"], mode="lines+markers", name="train")
    figure.add_scatter(
        x=x,
        y=table[SCORE],
        error_y={"type": "data", "array": table["fold_std"], "visible": True},
        mode="lines+markers",
        name="validation ± fold std",
    )
    if numeric:
        figure.update_xaxes(type="log" if log else "linear")
    else:
        figure.update_xaxes(type="category")
    figure.update_xaxes(title=param)
    figure.update_yaxes(title=scoring)
    return _layout(figure, f"Train and validation by {param}")
