"""What trials say: the cv_results_ frame and the pure analysis over it."""

import io
import math

import numpy as np
import pandas as pd
import pytest

from tuning.service import (
    best_so_far,
    eta_seconds,
    parameter_importance,
    score_by_value,
    score_table,
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
