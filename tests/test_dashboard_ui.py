"""The grid editor's parsing, the monitor's polling schedule and halving's rungs: the dashboard's
pure parts."""

import pytest

from dashboard_ui.grid_values import parse_values, value_range
from dashboard_ui.rungs import current_rung, schedule_table, stored_per_rung
from dashboard_ui.schedule import poll_interval
from tuning.domain import RunStatus
from tuning.errors import InvalidInput


@pytest.mark.parametrize(
    ("status", "age", "interval"),
    [
        (RunStatus.PENDING, 5, 2.5),
        (RunStatus.PROGRESS, 59, 2.5),
        (RunStatus.PROGRESS, 61, 5.0),
        (RunStatus.PROGRESS, 3600, 10.0),
        (RunStatus.SUCCESS, 5, None),
        (RunStatus.FAILURE, 5, None),
        (RunStatus.REVOKED, 5, None),
    ],
)
def test_poll_interval_follows_the_spec_schedule(status, age, interval):
    assert poll_interval(status, age) == interval


def test_parse_values_reads_numbers_words_and_none():
    assert parse_values("10, 0.5, None, sqrt, true, 'a b', ") == [
        10,
        0.5,
        None,
        "sqrt",
        True,
        "a b",
    ]
    assert parse_values("  ") == []


def test_value_range_spaces_values_linearly_or_on_a_log_scale():
    assert value_range(param="C", low=0.01, high=100, count=5, log=True, kind="float") == [
        0.01,
        0.1,
        1.0,
        10.0,
        100.0,
    ]
    assert value_range(param="n", low=1, high=10, count=4, log=False, kind="int") == [1, 4, 7, 10]
    assert value_range(param="n", low=1, high=2, count=5, log=False, kind="int") == [1, 2]
    with pytest.raises(InvalidInput) as error:
        value_range(param="C", low=0, high=1, count=3, log=True, kind="float")
    assert error.value.field == "param_grid.C"


HALVING = {"n_candidates": [9, 3, 1], "n_resources": [30, 90, 270]}


def test_the_rungs_table_counts_stored_trials_and_marks_the_current_rung():
    stored = stored_per_rung(HALVING, [0] * 9 + [1, 1, None])
    assert stored == [9, 2, 0]
    assert current_rung(HALVING, stored) == 1
    table = schedule_table(HALVING, stored, current=1)
    assert list(table["rung"]) == [1, 2, 3] and list(table["samples"]) == [30, 90, 270]
    assert list(table["stored"]) == ["9 / 9", "2 / 3", "0 / 1"]
    assert list(table["now"]) == ["", "◀ current", ""]
    assert current_rung(HALVING, [9, 3, 1]) == 2  # all stored: the last
