"""New run's scorer: the ones that fit the dataset's target and the estimator, recommended
first with the reason shown, and for a two-class target the class that counts as positive."""

from typing import Any

import streamlit as st

from dashboard_ui import support as ui
from dashboard_ui.text import plain
from tuning.errors import TuningError
from tuning.models import User
from tuning.service import scorer_choices


def scoring_input(
    *, dataset: str, estimator: str, user: User, slots: dict[str, Any]
) -> tuple[str, Any]:
    """The scorer and the positive class (None unless the target has two classes)."""
    try:
        with ui.db() as session:
            offered = scorer_choices(
                session=session, dataset=dataset, viewer=user, estimator=estimator
            )
    except TuningError as exc:
        slots.get("scoring", st.empty()).error(plain(exc))
        return "", None
    names = [choice.name for choice in offered.choices]
    reasons = {choice.name: choice.reason for choice in offered.choices}
    recommended = offered.recommended
    # Accuracy or r2 where they serve (what the API scores by when a run names none); else,
    # for a rare positive class, the first recommended one.
    default = offered.default if offered.default in recommended else (recommended or names)[0]
    key = f"new.scoring.{dataset}"  # each dataset's target has its own fitting scorers
    if st.session_state.get(key) not in names:  # first visit, or another target or estimator
        st.session_state[key] = default
    scoring = st.selectbox(
        "Scoring",
        names,
        key=key,
        format_func=lambda name: f"{name} (recommended)" if name in recommended else name,
    )
    st.caption(plain(reasons.get(scoring, "")))
    slots["scoring"] = st.empty()
    pos_label = None
    if offered.positive_labels:
        pos_label = _positive_class(dataset, offered.positive_labels, offered.classes)
        slots["pos_label"] = st.empty()
    return scoring, pos_label


def _positive_class(dataset: str, labels: list[Any], classes: list[Any]) -> Any:
    """The class that f1, precision, recall and average precision count as positive: the
    rarer one to start with, which is usually the one to find."""
    key = f"new.pos_label.{dataset}"
    if st.session_state.get(key) not in labels:
        st.session_state[key] = min(classes, key=lambda pair: pair[1])[0]
    return st.selectbox(
        "Positive class",
        labels,
        key=key,
        format_func=str,
        help="What f1, precision, recall and average precision look for",
    )
