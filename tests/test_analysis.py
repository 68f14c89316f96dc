"""What trials say: the cv_results_ frame and the pure analysis over it."""

import io
import json
import math
import uuid
import warnings
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import get_scorer
from sklearn.model_selection import GridSearchCV, ParameterGrid
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline
from sklearn.tree import DecisionTreeClassifier

from tuning.domain import utcnow
from tuning.ml.catalog import ESTIMATORS
from tuning.ml.datasets import load_bundled
from tuning.ml.search import evaluate_candidate, make_splits
from tuning.models import Trial
from tuning.service import (
    SCORE,
    FailureGroup,
    best_so_far,
    best_so_far_steps,
    eta_seconds,
    failure_groups,
    gap_by_value,
    grid_without_failures,
    nothing_scored,
    parameter_importance,
    score_by_bin,
    score_by_value,
    score_table,
    simplest_within_one_se,
    train_vs_validation,
    trial_ranks,
    trial_rows,
    trials_csv,
    trials_frame,
)

from factories import GRID, forest_score, trials_of


def test_trials_frame_has_the_shape_of_cv_results_and_keeps_values_as_given():
    trials = trials_of(GRID)
    trials[1].mean_test_score, trials[1].split_scores = None, [None, None, None]

    frame = trials_frame(trials, list(GRID))

    assert list(frame.columns[:4]) == [
        "trial",
        "rank_test_score",
        "param_n_estimators",
        "param_max_depth",
    ]
    assert {"split0_test_score", "split2_test_score", "mean_test_score", "std_test_score"} <= set(
        frame
    )
    assert list(frame["param_max_depth"]) == [None, None, 3, 3, 6, 6]  # not NaN, 3.0, 6.0
    assert type(frame["param_max_depth"][2]) is int
    assert math.isnan(frame["split0_test_score"][1])
    assert frame["rank_test_score"][1] == len(trials)  # a failed candidate ranks last
    assert frame.loc[frame["mean_test_score"].idxmax(), "rank_test_score"] == 1


def test_the_csv_of_trials_has_the_frames_columns_and_one_row_per_trial():
    trials = trials_of(GRID)
    frame = trials_frame(trials, list(GRID))

    table = pd.read_csv(io.StringIO(trials_csv(frame)))

    assert list(table.columns) == list(frame.columns)
    assert list(table["trial"]) == [trial.index for trial in trials]
    assert table["mean_test_score"].tolist() == pytest.approx(frame["mean_test_score"].tolist())
    assert table["param_max_depth"].isna().tolist() == [True, True, False, False, False, False]


def test_best_so_far_is_the_running_maximum_skipping_failures():
    frame = pd.DataFrame({"trial": [0, 1, 2, 3], "mean_test_score": [np.nan, 0.5, 0.4, 0.7]})

    history = best_so_far(frame)

    assert np.isnan(history[0])
    assert list(history[1:]) == [0.5, 0.5, 0.7]


def test_parameter_importance_ranks_the_parameter_that_moves_the_score():
    frame = trials_frame(trials_of(GRID), list(GRID))

    importance = parameter_importance(frame, list(GRID))

    assert list(importance["parameter"]) == ["n_estimators", "max_depth"]
    assert importance["importance"][0] > 0.9 > importance["importance"][1] >= 0


def test_score_by_value_follows_the_grid_order_with_fold_spread():
    frame = trials_frame(trials_of(GRID), list(GRID))

    table = score_by_value(frame, "max_depth", [None, 3, 6])

    assert list(table["label"]) == ["None", "3", "6"]
    assert list(table["n_candidates"]) == [2, 2, 2]
    assert table["best_score"][0] == pytest.approx(
        forest_score({"n_estimators": 100, "max_depth": None})
    )
    assert (table["fold_std"] > 0).all()


def test_score_table_pairs_two_parameters():
    frame = trials_frame(trials_of(GRID), list(GRID))

    table = score_table(frame, "n_estimators", "max_depth", how="max")

    assert table.shape == (2, 3)
    assert table.loc["100", "None"] == pytest.approx(0.92)


def test_eta_follows_the_pace_of_recent_candidates():
    trials = trials_of(GRID)[:3]  # finished one second apart

    assert eta_seconds(trials, 6, n_splits=3) == pytest.approx(3.0)
    assert eta_seconds(trials[:1], 6, n_splits=3) == pytest.approx(5 * 3 * (0.02 + 0.001))
    assert eta_seconds([], 6, n_splits=3) is None
    assert eta_seconds(trials, 3, n_splits=3) == 0.0


# --- Train against validation ---------------------------------------------------------------


def _trial(
    index: int,
    params: dict[str, Any],
    test: list[float] | None = None,
    train: list[float] | None = None,
    *,
    error: str | None = None,
) -> Trial:
    """A trial as a worker stores it: these split scores, or none and an error."""
    scored = error is None and test is not None
    return Trial(
        run_id=uuid.uuid4(),
        index=index,
        params=params,
        mean_test_score=float(np.mean(test)) if scored else None,
        std_test_score=float(np.std(test)) if scored else None,
        split_scores=list(test) if scored else [None, None, None],
        split_train_scores=train,
        error=error,
        finished_at=utcnow(),
    )


def _scored(index: int, params: dict[str, Any], mean: float, std: float) -> Trial:
    """A scored trial with this mean and fold standard deviation (population, as sklearn's)."""
    spread = std * math.sqrt(1.5)  # three folds at mean - d, mean, mean + d have std d*sqrt(2/3)
    return _trial(index, params, [mean - spread, mean, mean + spread])


TRAIN_VS_VALIDATION = ["trial", "mean_train_score", "mean_test_score", "gap", "std_test_score"]


def test_train_vs_validation_gives_each_scored_candidates_gap():
    trials = [
        _trial(0, {"max_depth": None}, [0.8, 0.7, 0.75], [1.0, 0.9, 0.95]),
        _trial(1, {"max_depth": 1}, error="ValueError: no"),
        _trial(2, {"max_depth": 3}, [0.85, 0.85, 0.85], [0.9, 0.9, 0.9]),
    ]

    table = train_vs_validation(trials_frame(trials, ["max_depth"]))

    assert list(table.columns) == TRAIN_VS_VALIDATION
    assert list(table["trial"]) == [0, 2]
    assert table["mean_train_score"].tolist() == pytest.approx([0.95, 0.9])
    assert table["mean_test_score"].tolist() == pytest.approx([0.75, 0.85])
    assert table["gap"].tolist() == pytest.approx([0.2, 0.05])
    assert table["std_test_score"][0] == pytest.approx(np.std([0.8, 0.7, 0.75]))


def test_train_vs_validation_is_empty_for_a_run_without_train_scores():
    trials = trials_of(GRID)
    for trial in trials:
        trial.split_train_scores = None  # a run from before train scores were kept
    frame = trials_frame(trials, list(GRID))

    table = train_vs_validation(frame)

    assert table.empty
    assert list(table.columns) == TRAIN_VS_VALIDATION


def test_gap_by_value_averages_train_validation_and_gap_per_value_in_grid_order():
    trials = [
        _trial(0, {"max_depth": None, "n": 1}, [0.7, 0.8, 0.9], [1.0, 1.0, 1.0]),
        _trial(1, {"max_depth": None, "n": 2}, [0.8, 0.8, 0.8], [1.0, 1.0, 1.0]),
        _trial(2, {"max_depth": 2, "n": 1}, [0.8, 0.8, 0.8], [0.85, 0.85, 0.85]),
        _trial(3, {"max_depth": 2, "n": 2}, error="ValueError: no"),
    ]
    frame = trials_frame(trials, ["max_depth", "n"])

    table = gap_by_value(frame, "max_depth", [2, None, 9])

    assert list(table.columns) == [
        "value",
        "label",
        "n_candidates",
        "mean_train_score",
        "mean_test_score",
        "mean_gap",
        "fold_std",
    ]
    assert list(table["label"]) == ["2", "None", "9"]
    assert list(table["n_candidates"]) == [2, 2, 0]
    assert table["mean_train_score"][:2].tolist() == pytest.approx([0.85, 1.0])
    assert table["mean_test_score"][:2].tolist() == pytest.approx([0.8, 0.8])
    assert table["mean_gap"][:2].tolist() == pytest.approx([0.05, 0.2])
    assert table["fold_std"][:2].tolist() == pytest.approx(
        [0.0, np.std([0.7, 0.8, 0.9, 0.8, 0.8, 0.8])]
    )
    assert table.iloc[2][["mean_train_score", "mean_gap"]].isna().all()


# --- The simplest candidate within one standard deviation of the best ------------------------

TREE = "DecisionTreeClassifier"
TREE_PARAMS = ["max_depth", "min_samples_leaf"]


def _tree_trials(best_std: float) -> list[Trial]:
    """Places of the values tried: max_depth 1 -> 0, 2 -> 0.5, None -> 1; min_samples_leaf
    5 -> 0, 1 -> 1 (higher is simpler). Each candidate's sum follows its score."""
    return [
        _scored(0, {"max_depth": None, "min_samples_leaf": 1}, 0.95, best_std),  # 2
        _scored(1, {"max_depth": 1, "min_samples_leaf": 1}, 0.93, 0.01),  # 1
        _scored(2, {"max_depth": None, "min_samples_leaf": 5}, 0.94, 0.01),  # 1
        _scored(3, {"max_depth": 2, "min_samples_leaf": 5}, 0.91, 0.01),  # 0.5
        _trial(4, {"max_depth": 1, "min_samples_leaf": 5}, error="ValueError: no"),
    ]


def test_the_simplest_pick_has_the_lowest_sum_of_places_of_those_above_the_threshold():
    frame = trials_frame(_tree_trials(best_std=0.05), TREE_PARAMS)

    pick = simplest_within_one_se(frame, TREE_PARAMS, TREE)

    assert pick is not None
    assert pick.threshold == pytest.approx(0.90)
    assert (pick.trial, pick.best_trial, pick.n_within) == (3, 0, 4)
    assert pick.params == {"max_depth": 2, "min_samples_leaf": 5}
    assert pick.mean_test_score == pytest.approx(0.91)
    assert pick.best_score == pytest.approx(0.95)
    assert pick.compared == ("max_depth", "min_samples_leaf")
    assert not pick.is_best
    assert pick.why.startswith("Trial 3 (max_depth=2, min_samples_leaf=5) scores 0.91,")
    assert "lower max_depth and higher min_samples_leaf" in pick.why


def test_a_tie_in_simplicity_goes_to_the_higher_score_then_the_lower_trial():
    trials = _tree_trials(best_std=0.03)  # threshold 0.92: trial 3 is out; 1 and 2 tie at 1

    pick = simplest_within_one_se(trials_frame(trials, TREE_PARAMS), TREE_PARAMS, TREE)
    assert pick is not None and pick.trial == 2  # 0.94 beats 0.93

    trials[1].mean_test_score = trials[2].mean_test_score  # 0.94 both
    pick = simplest_within_one_se(trials_frame(trials, TREE_PARAMS), TREE_PARAMS, TREE)
    assert pick is not None and pick.trial == 1


def test_when_only_the_best_qualifies_the_pick_is_the_best_and_says_so():
    frame = trials_frame(_tree_trials(best_std=0.0), TREE_PARAMS)

    pick = simplest_within_one_se(frame, TREE_PARAMS, TREE)

    assert pick is not None
    assert pick.is_best and pick.n_within == 1
    assert pick.threshold == pytest.approx(0.95)
    assert pick.why.startswith("No simpler candidate scores 0.95 or more")


def test_no_pick_without_a_parameter_ordered_by_simplicity():
    criteria = [_scored(i, {"criterion": c}, 0.9, 0.01) for i, c in enumerate(["gini", "entropy"])]
    assert (
        simplest_within_one_se(trials_frame(criteria, ["criterion"]), ["criterion"], TREE) is None
    )

    named = [_scored(i, {"max_features": v}, 0.9, 0.01) for i, v in enumerate(["sqrt", 0.5])]
    frame = trials_frame(named, ["max_features"])
    assert simplest_within_one_se(frame, ["max_features"], TREE) is None  # 'sqrt' has no size


def test_directions_of_simplicity_are_only_on_numeric_parameters():
    marked = [
        (spec.name, name, param.kind)
        for spec in ESTIMATORS.values()
        for name, param in spec.params.items()
        if param.simpler is not None
    ]
    assert ("DecisionTreeClassifier", "max_depth", "int") in marked
    assert all(kind in ("int", "float") for *_, kind in marked)


def _frame_of_cv_results(results: dict[str, Any], params: list[str]) -> pd.DataFrame:
    """GridSearchCV's cv_results_ stored as a run's trials, then read as the trials frame."""
    n_splits = sum(key.startswith("split") and key.endswith("_test_score") for key in results)

    def splits(kind: str, i: int) -> list[float | None]:
        return [float(results[f"split{s}_{kind}_score"][i]) for s in range(n_splits)]

    trials = [
        Trial(
            run_id=uuid.uuid4(),
            index=i,
            params=candidate,
            mean_test_score=float(results["mean_test_score"][i]),
            std_test_score=float(results["std_test_score"][i]),
            split_scores=splits("test", i),
            split_train_scores=splits("train", i),
            mean_fit_time=float(results["mean_fit_time"][i]),
            mean_score_time=float(results["mean_score_time"][i]),
            finished_at=utcnow(),
        )
        for i, candidate in enumerate(results["params"])
    ]
    return trials_frame(trials, params)


# Not stored, so not in the table: every other key of cv_results_ is.
UNSTORED = {"std_fit_time", "std_score_time"}


def test_the_trials_frame_has_cv_results_keys_and_values_ties_and_failures_included():
    table = load_bundled("iris")
    # 200 and 150 neighbours fail on 100 training rows (error_score=nan); 5 is there twice.
    grid = {"n_neighbors": [200, 3, 5, 150, 5, 7]}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results = (
            GridSearchCV(
                KNeighborsClassifier(), grid, cv=3, error_score=np.nan, return_train_score=True
            )
            .fit(table.X, table.y)
            .cv_results_
        )

    frame = _frame_of_cv_results(results, ["n_neighbors"])

    assert set(results) - UNSTORED <= set(frame.columns)
    for key in set(results) - UNSTORED:
        expected = results[key]
        if key.startswith("param"):
            assert frame[key].tolist() == list(expected), key
        else:
            np.testing.assert_array_equal(frame[key].to_numpy(dtype=float), expected, key)
    assert list(results["rank_test_score"]) == [5, 3, 1, 5, 1, 3]  # ties and failures


def test_a_window_of_the_newest_trials_keeps_their_ranks_among_all():
    trials = trials_of(GRID)
    whole = trials_frame(trials, list(GRID))

    window = trials_frame(trials[-2:], list(GRID), ranks=trial_ranks(trials)[-2:])

    assert window["rank_test_score"].tolist() == whole["rank_test_score"][-2:].tolist()
    alone = trials_frame(trials[-2:], list(GRID))["rank_test_score"].tolist()
    assert window["rank_test_score"].tolist() != alone  # what they are among themselves


def test_the_api_rows_are_the_csv_rows_under_the_same_names():
    trials = trials_of(GRID)
    trials[1].mean_test_score, trials[1].split_scores = None, [None, None, None]
    frame = trials_frame(trials, list(GRID))

    rows = trial_rows(frame)
    csv = pd.read_csv(io.StringIO(trials_csv(frame)))

    assert [list(row) for row in rows] == [list(csv.columns)] * len(trials)
    assert [row["trial"] for row in rows] == csv["trial"].tolist()
    assert [json.dumps(row["params"]) for row in rows] == csv["params"].tolist()
    assert rows[1]["mean_test_score"] is None and rows[1]["split0_test_score"] is None
    assert [row["rank_test_score"] for row in rows] == csv["rank_test_score"].tolist()
    assert [row["mean_test_score"] for row in rows[2:]] == csv["mean_test_score"][2:].tolist()


def test_the_pick_agrees_with_scikit_learns_refit_callable_example():
    table = load_bundled("iris")
    search = GridSearchCV(
        DecisionTreeClassifier(random_state=0),
        {"max_depth": [1, 2, 3, 4, 5, 6]},
        cv=5,
        return_train_score=True,
    ).fit(table.X, table.y)
    results = search.cv_results_
    # The example's lower_bound and best_low_complexity, with max_depth as the complexity.
    best = np.argmax(results["mean_test_score"])
    threshold = results["mean_test_score"][best] - results["std_test_score"][best]
    within = np.flatnonzero(results["mean_test_score"] >= threshold)
    expected = within[results["param_max_depth"][within].argmin()]
    frame = _frame_of_cv_results(results, ["max_depth"])

    pick = simplest_within_one_se(frame, ["max_depth"], TREE)

    assert pick is not None
    assert pick.trial == expected != best  # a shallower tree than the best
    assert pick.best_trial == best
    assert pick.threshold == pytest.approx(threshold)
    gaps = train_vs_validation(frame)["gap"]
    assert gaps.tolist() == pytest.approx(results["mean_train_score"] - results["mean_test_score"])


# --- Failed candidates ----------------------------------------------------------------------

LOGISTIC_GRID = {"solver": ["lbfgs", "saga", "liblinear"], "l1_ratio": [0.0, 1.0]}


@pytest.fixture(scope="module")
def logistic_frame() -> pd.DataFrame:
    """A real logistic regression search on iris (3 classes), with scikit-learn's messages:
    liblinear always fails (it is binary only), lbfgs only with l1_ratio=1 (an L1 penalty)."""
    table = load_bundled("iris")
    pipeline = Pipeline([("model", LogisticRegression(max_iter=500))])
    splits = make_splits(3, table, pipeline)
    trials = []
    for index, params in enumerate(ParameterGrid(LOGISTIC_GRID)):
        result = evaluate_candidate(pipeline, params, table, splits, get_scorer("accuracy"))
        if result.error is None:
            trials.append(_trial(index, params, result.split_scores, result.split_train_scores))
        else:
            trials.append(_trial(index, params, error=result.error))
    return trials_frame(trials, list(LOGISTIC_GRID))


def _shared(group: FailureGroup) -> list[tuple[str, Any, bool]]:
    return [(value.param, value.value, value.also_scores) for value in group.shared]


def test_failures_group_by_error_and_name_the_values_that_produced_them(logistic_frame):
    groups = failure_groups(logistic_frame, list(LOGISTIC_GRID))

    assert [group.n_candidates for group in groups] == [2, 1]
    binary_only, l1 = groups
    assert binary_only.error_type == l1.error_type == "ValueError"
    assert binary_only.message.startswith("The 'liblinear' solver does not support multiclass")
    assert _shared(binary_only) == [("solver", "liblinear", False)]  # this value always fails
    assert {v.value for v in binary_only.values if v.param == "l1_ratio"} == {0.0, 1.0}
    assert "l1 penalty" in l1.message
    # Each value scores in another candidate: only the combination fails.
    assert _shared(l1) == [("solver", "lbfgs", True), ("l1_ratio", 1.0, True)]
    failed = logistic_frame.set_index("trial").loc[list(l1.trials)]
    assert failed["param_solver"].tolist() == ["lbfgs"]


def test_failures_differing_only_in_numbers_group_together():
    too_many = (
        "ValueError: Expected n_neighbors <= n_samples_fit, but n_neighbors = {}, n_samples_fit = 8"
    )
    trials = [
        _trial(0, {"n_neighbors": 5, "metric": "l1"}, [0.9, 0.9, 0.9]),
        _trial(1, {"n_neighbors": 11, "metric": "l1"}, error=too_many.format(11)),
        _trial(2, {"n_neighbors": 15, "metric": "l1"}, error=too_many.format(15)),
        _trial(3, {"n_neighbors": 15, "metric": "l2"}, error="ValueError: metric l2 at 0x7f3a9c"),
        _trial(4, {"n_neighbors": 11, "metric": "l2"}, error="ValueError: metric l2 at 0x7f3b10"),
        _trial(5, {"n_neighbors": 5, "metric": "l2"}, error="ValueError: metric l3 at 0x7f3b10"),
    ]
    params = ["n_neighbors", "metric"]

    groups = failure_groups(trials_frame(trials, params), params)

    assert [(group.trials, group.message) for group in groups] == [
        ((1, 2), too_many.format(11).removeprefix("ValueError: ")),
        ((3, 4), "metric l2 at 0x7f3a9c"),
        ((5,), "metric l3 at 0x7f3b10"),  # l3 is not l2: a word keeps its digits
    ]
    grid = {"n_neighbors": [5, 11, 15], "metric": ["l1", "l2"]}
    assert grid_without_failures(grid, groups) == (
        {"n_neighbors": [5], "metric": ["l1"]},
        [("n_neighbors", 11), ("n_neighbors", 15), ("metric", "l2")],
    )


def test_a_value_that_always_fails_is_removed_from_the_grid(logistic_frame):
    groups = failure_groups(logistic_frame, list(LOGISTIC_GRID))

    grid, removed = grid_without_failures(LOGISTIC_GRID, groups)

    assert grid == {"solver": ["lbfgs", "saga"], "l1_ratio": [0.0, 1.0]}
    assert removed == [("solver", "liblinear")]
    assert LOGISTIC_GRID["solver"] == ["lbfgs", "saga", "liblinear"]  # the run's grid is kept


def test_a_combination_that_fails_removes_nothing(logistic_frame):
    frame = logistic_frame[logistic_frame["param_solver"] != "liblinear"]
    run_grid = {"solver": ["lbfgs", "saga"], "l1_ratio": [0.0, 1.0]}

    grid, removed = grid_without_failures(run_grid, failure_groups(frame, list(run_grid)))

    assert (grid, removed) == (run_grid, [])


def test_the_grid_is_kept_when_no_candidate_scored():
    trials = [_trial(i, {"C": c}, error="ValueError: bad C") for i, c in enumerate([0.1, 1.0])]
    groups = failure_groups(trials_frame(trials, ["C"]), ["C"])

    assert grid_without_failures({"C": [0.1, 1.0]}, groups) == ({"C": [0.1, 1.0]}, [])


def test_nothing_scored_says_how_far_the_run_got_and_what_was_not_tried():
    too_many = "ValueError: Expected n_neighbors <= n_samples_fit, but n_neighbors = {}"
    alike = [_trial(i, {"n_neighbors": 500 + i}, error=too_many.format(500 + i)) for i in range(5)]
    frame = trials_frame(alike, ["n_neighbors"])

    assert nothing_scored(frame, n_candidates=200) == (
        "5 of 200 candidates were tried and every one failed with the same error; "
        "the other 195 were not tried"
    )
    assert nothing_scored(frame, n_candidates=5) == (
        "all 5 candidates were tried and every one failed with the same error"
    )
    mixed = [*alike, _trial(5, {"n_neighbors": 3}, error="ValueError: metric l3 is unknown")]
    assert nothing_scored(trials_frame(mixed, ["n_neighbors"]), n_candidates=1_000) == (
        "6 of 1,000 candidates were tried and every one failed, with 2 different errors; "
        "the other 994 were not tried"
    )
    assert nothing_scored(trials_frame(alike[:1], ["n_neighbors"]), n_candidates=1) == (
        "the one candidate was tried and it failed"
    )
    assert nothing_scored(trials_frame([], ["n_neighbors"]), n_candidates=8) == (
        "none of the 8 candidates was tried"
    )
    scored = [*alike, _trial(5, {"n_neighbors": 3}, [0.9, 0.92, 0.94])]
    assert nothing_scored(trials_frame(scored, ["n_neighbors"]), n_candidates=200) is None


def test_score_by_bin_sums_up_a_parameter_tried_at_many_values():
    rng = np.random.default_rng(0)
    alphas = np.geomspace(1e-4, 1e2, 1_000)
    scores = 0.9 - 0.02 * np.abs(np.log10(alphas))  # best near alpha = 1
    splits = scores[:, None] + rng.normal(0, 0.01, (1_000, 3))
    frame = pd.DataFrame(
        {
            "trial": range(1_000),
            "param_alpha": pd.Series(list(alphas), dtype=object),
            SCORE: splits.mean(axis=1),
            **{f"split{i}_test_score": splits[:, i] for i in range(3)},
        }
    )
    table = score_by_bin(frame, "alpha", log=True, bins=12)

    assert len(table) == 12 and table["n_candidates"].sum() == 1_000
    assert table["value"].is_monotonic_increasing
    best_bin = table.loc[table["mean_score"].idxmax()]
    assert 0.3 < best_bin["value"] < 3  # the bin around alpha = 1
    first = frame[frame["param_alpha"].astype(float) <= alphas[0] * 10 ** (6 / 12)]
    assert table["n_candidates"].iloc[0] == len(first)
    assert table["mean_score"].iloc[0] == pytest.approx(first[SCORE].mean())
    folds = first[[f"split{i}_test_score" for i in range(3)]].to_numpy().ravel()
    assert table["fold_std"].iloc[0] == pytest.approx(folds.std())


def test_best_so_far_steps_keeps_the_improvements_and_the_last_trial():
    scores = [(0, None), (1, 0.5), (2, 0.4), (3, 0.7), (4, 0.7), (5, float("nan")), (6, 0.6)]
    steps = best_so_far_steps(scores)
    assert list(steps.index) == [1, 3, 6]
    assert list(steps.to_numpy()) == [0.5, 0.7, 0.7]
    frame = pd.DataFrame(scores, columns=["trial", SCORE]).astype({SCORE: float})
    full = best_so_far(frame)
    assert all(full[t] == steps[t] for t in steps.index)
    assert best_so_far_steps([]).empty
