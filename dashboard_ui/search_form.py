"""New run's Search section: the strategy, its options and early stopping, as submission fields.

What each search is called, whether it samples and which options it takes are the service's
strategies' (`tuning.service.STRATEGIES`): the form asks them, and compares no search by name.
"""

from typing import Any, Literal

import streamlit as st

from tuning.schemas import HalvingOptions, SearchKind
from tuning.service import STRATEGIES, strategy_for

SEARCHES: dict[SearchKind, str] = {kind: strategy.label for kind, strategy in STRATEGIES.items()}
HALVING_CANDIDATES: dict[Literal["grid", "random"], str] = {
    "grid": "Every grid combination",
    "random": "A random sample",
}
MIN_SAMPLES = {  # HalvingOptions.min_resources, as offered
    "exhaust": "As many as the last rung allows",
    "smallest": "The smallest that fits the folds",
    "number": "A number",
}
SEARCH_KEY = "new.search"
HALVING_CANDIDATES_KEY = "new.halving.candidates"


def chosen_search() -> SearchKind:
    """The search chosen so far, for widgets drawn before the Search section (the grid)."""
    return st.session_state.get(SEARCH_KEY) or "grid"


def samples_candidates() -> bool:
    """Whether the chosen search samples its candidates, so that a range may stay continuous."""
    strategy = strategy_for(chosen_search())
    if strategy.has_rungs:  # the halving options are drawn below: read their last value
        candidates = st.session_state.get(HALVING_CANDIDATES_KEY) or "grid"
        return strategy.samples(HalvingOptions.model_validate({"candidates": candidates}))
    return strategy.samples()


def search_control(slots: dict[str, Any]) -> SearchKind:
    """The strategy, explained in a sentence under it."""
    st.session_state.setdefault(SEARCH_KEY, "grid")
    search: SearchKind = (
        st.segmented_control(
            "Search",
            list(SEARCHES),
            required=True,
            key=SEARCH_KEY,
            format_func=SEARCHES.__getitem__,
        )
        or "grid"  # required: only None before its first value
    )
    st.caption(strategy_for(search).explained)
    slots["search"] = st.empty()
    return search


def takes_halving_options(search: SearchKind) -> bool:
    """Whether the search takes successive halving's options (it has rungs)."""
    return strategy_for(search).has_rungs


def asks_n_iter(search: SearchKind, halving: HalvingOptions | None) -> bool:
    """Whether the search samples a number of candidates (random, Bayesian, halving's sample)."""
    return strategy_for(search).samples(halving)


def n_iter_input(search: SearchKind, halving: HalvingOptions | None, slots: dict) -> int | None:
    """Candidates to sample: required for random and Bayesian search, optional for halving over
    a random sample (as many as the data allows without it)."""
    strategy = strategy_for(search)
    if strategy.needs_n_iter:
        st.session_state.setdefault("new.n_iter", 10)
        n_iter = st.number_input("Candidates (n_iter)", min_value=1, key="new.n_iter")
    elif strategy.samples(halving):
        st.session_state.setdefault("new.halving.n_iter", None)
        n_iter = st.number_input(
            "Candidates (n_iter)",
            min_value=1,
            placeholder="as the data allows",
            key="new.halving.n_iter",
            help="Empty: as many as the first rung's samples allow (scikit-learn's 'exhaust')",
        )
    else:
        return None
    slots["n_iter"] = st.empty()
    return None if n_iter is None else int(n_iter)


def halving_options(slots: dict[str, Any]) -> HalvingOptions:
    """Successive halving's options: where its candidates come from, its factor, the samples of
    its first rung and whether to eliminate aggressively."""
    state = st.session_state
    state.setdefault(HALVING_CANDIDATES_KEY, "grid")
    state.setdefault("new.halving.factor", 3.0)
    state.setdefault("new.halving.min_number", 100)
    state.setdefault("new.halving.aggressive", False)
    candidates_col, factor_col, min_col, number_col = st.columns([2, 1, 2, 1])
    candidates = candidates_col.segmented_control(
        "Candidates from",
        list(HALVING_CANDIDATES),
        required=True,
        key=HALVING_CANDIDATES_KEY,
        format_func=HALVING_CANDIDATES.__getitem__,
    )
    factor = factor_col.number_input(
        "Factor",
        min_value=1.1,
        max_value=100.0,
        step=0.5,
        key="new.halving.factor",
        help="Each rung keeps 1/factor of the candidates, on factor times the samples",
    )
    # scikit-learn's default follows the candidates: "exhaust" for a grid, "smallest" for a
    # sample (whose number of candidates may itself be "as the data allows").
    min_key = f"new.halving.min_samples.{candidates}"
    state.setdefault(min_key, "exhaust" if candidates == "grid" else "smallest")
    min_samples = min_col.selectbox(
        "Samples in the first rung",
        list(MIN_SAMPLES),
        key=min_key,
        format_func=MIN_SAMPLES.__getitem__,
    )
    min_resources: int | str = min_samples or "exhaust"
    if min_samples == "number":
        min_resources = int(
            number_col.number_input("Samples", min_value=1, step=1, key="new.halving.min_number")
        )
    aggressive = st.checkbox(
        "Aggressive elimination",
        key="new.halving.aggressive",
        help="Add rungs on the first rung's samples until the last rung is down to factor "
        "candidates, when the data runs out before",
    )
    slots["halving"] = st.empty()
    return HalvingOptions(
        candidates=candidates or "grid",
        factor=float(factor),
        min_resources=min_resources,  # type: ignore[arg-type]  # a number or one of the words
        aggressive_elimination=aggressive,
    )


def early_stopping(search: SearchKind, slots: dict[str, Any]) -> dict[str, Any]:
    """The early-stopping fields: after N candidates without improvement, or a time budget;
    and whether to score the training folds too."""
    state = st.session_state
    state.setdefault("new.stop_after", None)
    state.setdefault("new.time_budget", None)
    state.setdefault("new.train_scores", True)
    fields: dict[str, Any] = {"stop_after_no_improvement": None, "time_budget_s": None}
    with st.expander("Early stopping and cost"):
        fields["return_train_score"] = st.checkbox(
            "Score the training folds too (for the Overfitting view)",
            key="new.train_scores",
            help="Predicting on each fold's training rows can cost as much as the fit (SVC: "
            "about half the run's time); without it, Results has no overfitting view",
        )
        patience_col, budget_col = st.columns(2)
        with patience_col:
            refused = strategy_for(search).patience_refused
            if refused is not None:
                st.caption(f"No stop on a lack of improvement: {refused}. A time budget bounds it.")
            else:
                patience = st.number_input(
                    "Stop after N candidates without improvement",
                    min_value=1,
                    step=1,
                    placeholder="never",
                    key="new.stop_after",
                )
                fields["stop_after_no_improvement"] = None if patience is None else int(patience)
            slots["stop_after_no_improvement"] = st.empty()
        with budget_col:
            budget = st.number_input(
                "Time budget (s)",
                min_value=1.0,
                step=60.0,
                placeholder="none",
                key="new.time_budget",
                help="The run ends with its best so far at the first candidate past it",
            )
            fields["time_budget_s"] = None if budget is None else float(budget)
            slots["time_budget_s"] = st.empty()
    return fields


def search_words(search: str, n_iter: int | None, halving: dict[str, Any] | None) -> str:
    """A run's search in a few words, for the line under its title."""
    return strategy_for(search).words(n_iter=n_iter, halving=halving)
