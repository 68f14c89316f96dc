"""Plotly figures of a trained model's evaluation on its test rows, in the house style of
`charts.py`. Pure: the stored evaluation in, figures out.

Class labels and column names come from a user's file: they go through `chart_text`.
"""

from typing import Any

import numpy as np
import plotly.graph_objects as go

from dashboard_ui.charts import HEIGHT, PALETTE, _layout
from dashboard_ui.text import chart_text


def confusion_figure(matrix: list[list[int]], classes: list[Any]) -> go.Figure:
    """Counts of the test rows by true class (rows) and predicted class (columns), each with
    its share of its true class."""
    counts = np.asarray(matrix, dtype=float)
    totals = counts.sum(axis=1, keepdims=True)
    shares = np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)
    labels = [chart_text(c) for c in classes]
    text = [
        [f"{int(n):,}<br>{s:.0%}" for n, s in zip(row, share_row, strict=True)]
        for row, share_row in zip(counts, shares, strict=True)
    ]
    figure = go.Figure(
        go.Heatmap(
            z=shares,
            x=labels,
            y=labels,
            text=text,
            texttemplate="%{text}",
            colorscale="Blues",
            zmin=0,
            zmax=1,
            showscale=False,
            hovertemplate="true %{y}, predicted %{x}: %{text}<extra></extra>",
        )
    )
    figure.update_xaxes(title="predicted", type="category", side="bottom")
    figure.update_yaxes(title="true", type="category", autorange="reversed")
    return _layout(
        figure, "Confusion matrix (test rows)", height=max(HEIGHT, 80 + 50 * len(classes))
    )


def _threshold_point(
    xs: list[float | None], ys: list[float | None], thresholds: list[float | None], at: float
) -> tuple[float, float] | None:
    """The stored curve point nearest the threshold `at` (at or above it: the same cut)."""
    candidates = [
        (t - at, x, y)
        for x, y, t in zip(xs, ys, thresholds, strict=True)
        if t is not None and x is not None and y is not None and t >= at
    ]
    if not candidates:
        return None
    _, x, y = min(candidates)
    return x, y


def roc_figure(roc: dict[str, Any], threshold: float) -> go.Figure:
    return _curve_figure(
        chance=([0, 1], [0, 1], "chance"),
        x=roc["fpr"],
        y=roc["tpr"],
        thresholds=roc["thresholds"],
        threshold=threshold,
        name=f"model (AUC {roc['auc']:.3f})",
        steps="hv",
        hover="false positive rate %{x:.3f}, true positive rate %{y:.3f}",
        axes=("false positive rate", "true positive rate (recall)"),
        title="ROC curve",
    )


def precision_recall_figure(pr: dict[str, Any], threshold: float, prevalence: float) -> go.Figure:
    return _curve_figure(
        chance=([0, 1], [prevalence, prevalence], f"always positive ({prevalence:.3f})"),
        x=pr["recall"],
        y=pr["precision"],
        thresholds=pr["thresholds"],
        threshold=threshold,
        name=f"model (AP {pr['average_precision']:.3f})",
        steps="vh",
        hover="recall %{x:.3f}, precision %{y:.3f}",
        axes=("recall", "precision"),
        title="Precision-recall curve",
    )


def _curve_figure(
    *,
    chance: tuple[list[float], list[float], str],
    x: list[float | None],
    y: list[float | None],
    thresholds: list[float | None],
    threshold: float,
    name: str,
    steps: str,
    hover: str,
    axes: tuple[str, str],
    title: str,
) -> go.Figure:
    """A threshold curve (ROC, precision-recall): the chance line dotted, the model's steps
    with each point's threshold on hover, and a marker where the model's threshold sits."""
    chance_x, chance_y, chance_name = chance
    figure = go.Figure()
    figure.add_trace(
        go.Scatter(
            x=chance_x,
            y=chance_y,
            mode="lines",
            name=chance_name,
            line={"dash": "dot", "color": PALETTE[5]},
            hoverinfo="skip",
        )
    )
    figure.add_trace(
        go.Scatter(
            x=x,
            y=y,
            mode="lines",
            name=name,
            line={"color": PALETTE[0], "shape": steps},
            customdata=thresholds,
            hovertemplate=hover + "<br>threshold %{customdata:.4g}<extra></extra>",
        )
    )
    point = _threshold_point(x, y, thresholds, threshold)
    if point is not None:
        figure.add_trace(_marker(point, threshold))
    figure.update_xaxes(title=axes[0], range=[-0.01, 1.01])
    figure.update_yaxes(title=axes[1], range=[-0.01, 1.01])
    return _layout(figure, title)


def _marker(point: tuple[float, float], threshold: float) -> go.Scatter:
    return go.Scatter(
        x=[point[0]],
        y=[point[1]],
        mode="markers",
        name=f"threshold {threshold:.3g}",
        marker={"color": PALETTE[1], "size": 12, "symbol": "circle"},
        hovertemplate="%{x:.3f}, %{y:.3f}<extra>threshold</extra>",
    )


def importance_figure(importance: dict[str, Any], scoring: str) -> go.Figure:
    """Each original column's permutation importance: the drop in the run's scorer when its
    values are shuffled, with the spread over the repeats."""
    columns = importance["columns"][::-1]  # the largest on top
    figure = go.Figure(
        go.Bar(
            x=[c["mean"] for c in columns],
            y=[chart_text(c["column"]) for c in columns],
            orientation="h",
            error_x={"type": "data", "array": [c["std"] for c in columns], "visible": True},
            marker={"color": PALETTE[0]},
            hovertemplate="%{y}: %{x:.4f} ± %{error_x.array:.4f}<extra></extra>",
        )
    )
    figure.update_xaxes(title=f"drop in {chart_text(scoring)} when shuffled")
    height = max(HEIGHT, 60 + 28 * len(columns))
    return _layout(figure, "Permutation importance of the columns", height=height)


def actual_figure(points: dict[str, Any]) -> go.Figure:
    """Predicted against actual values of the test rows, the diagonal where they agree."""
    actual, predicted = points["actual"], points["predicted"]
    low = min(min(actual), min(predicted))
    high = max(max(actual), max(predicted))
    figure = go.Figure()
    figure.add_trace(
        go.Scatter(
            x=[low, high],
            y=[low, high],
            mode="lines",
            name="exact",
            line={"dash": "dot", "color": PALETTE[5]},
            hoverinfo="skip",
        )
    )
    figure.add_trace(
        go.Scatter(
            x=actual,
            y=predicted,
            mode="markers",
            name="test rows",
            marker={"color": PALETTE[0], "opacity": 0.6},
            hovertemplate="actual %{x:.4g}, predicted %{y:.4g}<extra></extra>",
        )
    )
    figure.update_xaxes(title="actual")
    figure.update_yaxes(title="predicted")
    return _layout(figure, "Predicted against actual")


def residuals_figure(points: dict[str, Any]) -> go.Figure:
    """Residuals (actual minus predicted) against the prediction: a pattern is what the model
    missed."""
    predicted = np.asarray(points["predicted"], dtype=float)
    residuals = np.asarray(points["actual"], dtype=float) - predicted
    figure = go.Figure()
    figure.add_hline(y=0, line={"dash": "dot", "color": PALETTE[5]})
    figure.add_trace(
        go.Scatter(
            x=predicted,
            y=residuals,
            mode="markers",
            name="test rows",
            marker={"color": PALETTE[2], "opacity": 0.6},
            hovertemplate="predicted %{x:.4g}, residual %{y:.4g}<extra></extra>",
        )
    )
    figure.update_xaxes(title="predicted")
    figure.update_yaxes(title="actual - predicted")
    return _layout(figure, "Residuals")
