"""One trained model on the Models page: its evaluation on the test rows (beside the baseline),
its decision threshold, and predictions on a new file. Reads and writes go through
tuning.service; the figures are `model_charts`'."""

from typing import Any

import pandas as pd
import streamlit as st

from dashboard_ui import model_charts
from dashboard_ui import support as ui
from dashboard_ui.text import plain
from tuning.errors import TuningError
from tuning.models import User
from tuning.schemas import ModelPublic, ThresholdChange
from tuning.service import beside_baseline, predict_with_model, set_model_threshold

# Rows of predictions drawn as a table; the download holds all of them.
SHOWN_ROWS = 1_000


def metrics_frame(evaluation: dict[str, Any]) -> pd.DataFrame:
    """Each metric of the model beside the baseline's on the same rows, and which is better."""
    rows = beside_baseline(evaluation)
    for row in rows:
        if row["metric"] == evaluation["scoring"]:
            row["metric"] += " (the run's scorer)"
        row["better"] = {True: "model", False: "baseline (or equal)", None: ""}[row.pop("beats")]
    return pd.DataFrame(rows)


def evaluation_section(model: ModelPublic, user: User) -> None:
    evaluation = model.evaluation
    if not evaluation or "baseline" not in evaluation:
        st.info("This model was trained before evaluations were kept: train it again to see one.")
        return
    test_set = evaluation["test_set"]
    note = plain(test_set["note"])
    counts = f"Fitted on {test_set['n_train']:,} rows, evaluated on {test_set['n_test']:,}."
    if test_set["kept_out_of_tuning"]:
        st.success(f"{counts} {note}", icon=":material/verified:")
    else:
        st.warning(f"{counts} {note}", icon=":material/warning:")
    for sentence in evaluation["verdict"]:
        st.error(plain(sentence), icon=":material/trending_down:")
    if not evaluation["verdict"]:
        st.caption(f"The model beats {plain(evaluation['baseline']['name'])} on every figure.")
    if "binary" in evaluation:
        threshold_controls(model, user)
    st.dataframe(
        metrics_frame(evaluation),
        hide_index=True,
        column_config={
            "model": st.column_config.NumberColumn(format="%.4f"),
            "baseline": st.column_config.NumberColumn(
                f"baseline: {evaluation['baseline']['name']}", format="%.4f"
            ),
        },
        key=f"models.metrics.{model.id}",
    )
    if evaluation["task"] == "classification":
        _classes(model, evaluation)
    else:
        left, right = st.columns(2)
        left.plotly_chart(model_charts.actual_figure(evaluation["points"]), key=f"m.act.{model.id}")
        right.plotly_chart(
            model_charts.residuals_figure(evaluation["points"]), key=f"m.res.{model.id}"
        )
        _sampled_note(evaluation["points"])
    importance = evaluation["importance"]
    st.plotly_chart(
        model_charts.importance_figure(importance, evaluation["scoring"]),
        key=f"models.importance.{model.id}",
    )
    st.caption(
        f"How much the run's scorer drops when a column's values are shuffled on the test rows "
        f"({importance['n_repeats']} shuffles each, on {importance['n_rows']:,} rows; the bar "
        "is their spread). Near zero or below: the model does not rely on that column."
    )


def _classes(model: ModelPublic, evaluation: dict[str, Any]) -> None:
    left, right = st.columns(2)
    left.plotly_chart(
        model_charts.confusion_figure(evaluation["confusion_matrix"], evaluation["classes"]),
        key=f"models.confusion.{model.id}",
    )
    with right:
        st.dataframe(
            pd.DataFrame(evaluation["per_class"]).astype({"class": str}),
            hide_index=True,
            column_config={
                name: st.column_config.NumberColumn(format="%.3f")
                for name in ("precision", "recall", "f1")
            },
            key=f"models.per_class.{model.id}",
        )
    binary = evaluation.get("binary")
    if binary is None:
        return
    threshold = binary["threshold"]
    counts = evaluation["confusion_matrix"]
    positive_row = evaluation["classes"].index(binary["pos_label"])
    prevalence = sum(counts[positive_row]) / max(sum(map(sum, counts)), 1)
    left, right = st.columns(2)
    left.plotly_chart(model_charts.roc_figure(binary["roc"], threshold), key=f"m.roc.{model.id}")
    right.plotly_chart(
        model_charts.precision_recall_figure(binary["pr"], threshold, prevalence),
        key=f"models.pr.{model.id}",
    )


def threshold_controls(model: ModelPublic, user: User) -> None:
    """The threshold on the positive class's score: a slider, or the one maximising F1, or the
    one reaching a precision or a recall on the test rows. Each change is stored at once."""
    assert model.evaluation is not None
    binary = model.evaluation["binary"]
    current = float(model.threshold if model.threshold is not None else binary["threshold"])
    scores = [s for s in binary["scores"] if s is not None]
    probability = binary["response"] == "probability"
    low, high = (0.0, 1.0) if probability else (min(scores), max(scores))
    pos = plain(binary["pos_label"])
    st.markdown(
        f"**Decision threshold:** predicts {pos} where its {binary['response']} is at least "
        f"**{current:.3f}** ({_rule_words(binary)}). The confusion matrix and the metrics of "
        "labels below are at this threshold; the curves and their areas do not depend on it."
    )
    slider, f1_col, precision_col, recall_col = st.columns([3, 1, 1, 1])
    chosen = slider.slider(
        "Threshold",
        min_value=float(min(low, current)),
        max_value=float(max(high, current)),
        value=current,
        step=0.001 if probability else (high - low) / 1000 or 0.001,
        format="%.3f",
        key=f"models.threshold.{model.id}.{current}",  # a new slider when it moves elsewhere
    )
    change: ThresholdChange | None = None
    if abs(chosen - current) > 1e-12:
        change = ThresholdChange(threshold=chosen)
    if f1_col.button("Maximise F1", key=f"models.f1.{model.id}"):
        change = ThresholdChange(max_f1=True)
    precision = precision_col.number_input(
        "Precision at least", 0.01, 1.0, 0.8, 0.05, key=f"models.p.{model.id}"
    )
    if precision_col.button("Reach it", key=f"models.p.go.{model.id}"):
        change = ThresholdChange(min_precision=precision)
    recall = recall_col.number_input(
        "Recall at least", 0.01, 1.0, 0.8, 0.05, key=f"models.r.{model.id}"
    )
    if recall_col.button("Reach it", key=f"models.r.go.{model.id}"):
        change = ThresholdChange(min_recall=recall)
    if change is not None:
        try:
            with ui.db() as session:
                set_model_threshold(session=session, model_id=model.id, viewer=user, change=change)
        except TuningError as exc:
            st.error(plain(exc))
        else:
            st.rerun()


def _rule_words(binary: dict[str, Any]) -> str:
    rule, target = binary.get("rule"), binary.get("target")
    if rule == "f1":
        return "the one that maximises F1 on the test rows"
    if rule in ("precision", "recall"):
        return f"the one reaching a {rule} of {target:g} on the test rows"
    if rule == "default":
        return "the estimator's own"
    return "set by hand"


def _sampled_note(part: dict[str, Any]) -> None:
    if part.get("sampled"):
        st.caption(f"Drawn from a sample of the {part['n_rows']:,} test rows.")


def predictions_section(model: ModelPublic, user: User) -> None:
    """Upload a CSV (with or without the target) and get each row's prediction and, for
    classes, probabilities, as a table and a CSV download."""
    assert model.evaluation is not None
    columns = [c["name"] for c in model.evaluation.get("columns", [])]
    st.caption(
        f"The file needs the model's columns: {plain(', '.join(columns), 600)}. Other columns "
        "(an ID, the group or time column) are kept beside the predictions but not used; with "
        "the target column too, the predictions are scored."
    )
    upload = st.file_uploader("CSV file to predict", type=["csv"], key=f"models.upload.{model.id}")
    if upload is None:
        return
    try:
        with ui.db() as session:
            found = predict_with_model(
                session=session,
                model_id=model.id,
                viewer=user,
                max_bytes=ui.runtime().settings.max_upload_bytes,
                content=upload.getvalue(),
            )
    except TuningError as exc:
        st.error(plain(exc))
        return
    if found.dropped:
        st.caption(f"Not used by the model: {plain(', '.join(found.dropped), 400)}.")
    if found.score is not None:
        words = " · ".join(f"{name} {value:.4f}" for name, value in found.score.items())
        st.info(f"Scored on the {found.n_scored:,} rows with a {plain(found.target)}: {words}")
    joined = pd.concat([found.predicted, found.rows.reset_index(drop=True)], axis=1)
    st.dataframe(joined.head(SHOWN_ROWS), hide_index=True, key=f"models.predicted.{model.id}")
    if len(joined) > SHOWN_ROWS:
        st.caption(f"The first {SHOWN_ROWS:,} of {len(joined):,} rows; the download has all.")
    st.download_button(
        "Download the predictions (CSV)",
        found.as_csv(),
        file_name=f"predictions-{model.id}.csv",
        mime="text/csv",
        icon=":material/download:",
        key=f"models.predictions.download.{model.id}",
    )
