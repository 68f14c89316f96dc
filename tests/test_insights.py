"""The dashboard's service functions: run summaries, the run form, and what trials say."""

import math
import re
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.model_selection import ParameterGrid
from sqlmodel import Session

from tuning.errors import Forbidden, InvalidInput, NotFound
from tuning.ml.search import build_pipeline, pipeline_params
from tuning.models import RunStatus, Trial, TuningRun, User, utcnow
from tuning.schemas import TuningRunCreate
from tuning.service import create_user, get_dataset
from tuning.service.insights import (
    best_so_far,
    estimate_duration,
    eta_seconds,
    parameter_importance,
    plan_run,
    poll_interval,
    reproduce_snippet,
    run_results,
    score_by_value,
    score_table,
    shared_params,
    trials_frame,
)
from tuning.service.run_views import (
    check_submission,
    csv_columns,
    dataset_choices,
    get_run_detail,
    list_run_summaries,
    parse_values,
    preview_csv,
    run_filter_options,
    value_range,
)

GRID = {"n_estimators": [10, 100], "max_depth": [None, 3, 6]}


def forest_score(params: dict[str, Any]) -> float:
    """A made-up score where n_estimators matters a lot and max_depth a little."""
    depth_bonus = {None: 0.02, 3: 0.0, 6: 0.01}.get(params.get("max_depth"), 0.0)
    return 0.7 + 0.1 * math.log10(params.get("n_estimators", 10)) + depth_bonus


def make_run(
    session: Session,
    owner: User,
    *,
    estimator: str = "RandomForestClassifier",
    dataset: str = "iris",
    param_grid: dict[str, list] | None = None,
    status: RunStatus = RunStatus.SUCCESS,
    n_trials: int | None = None,
    score: Callable[[dict[str, Any]], float] = forest_score,
    cv: int = 3,
    created_at: Any = None,
    tuning_time: float | None = 6.0,
) -> TuningRun:
    """A run and its trials as a worker would have left them, without running a search."""
    grid = param_grid or GRID
    candidates = list(ParameterGrid(grid))
    n_done = len(candidates) if n_trials is None else n_trials
    created = created_at or utcnow()
    run = TuningRun(
        owner_id=owner.id,
        dataset_id=get_dataset(session=session, name=dataset).id,
        estimator=estimator,
        param_grid=grid,
        cv=cv,
        scoring="accuracy",
        status=status,
        task_id=str(uuid.uuid4()),
        progress_current=n_done,
        progress_total=len(candidates),
        total_combinations=len(candidates),
        created_at=created,
        started_at=created + timedelta(seconds=1),
        finished_at=created + timedelta(seconds=7) if status.is_finished else None,
        tuning_time=tuning_time if status is RunStatus.SUCCESS else None,
    )
    session.add(run)
    session.flush()
    session.add_all(
        make_trial(run.id, index, params, score(params), cv, created)
        for index, params in enumerate(candidates[:n_done])
    )
    if status is RunStatus.SUCCESS and n_done:
        best = max(range(n_done), key=lambda i: (score(candidates[i]), -i))
        run.best_params, run.best_score = candidates[best], score(candidates[best])
        run.best_trial_index = best
    session.commit()
    session.refresh(run)
    return run


def make_trial(run_id, index, params, mean, n_splits, start) -> Trial:
    splits = [mean + d for d in np.linspace(-0.01, 0.01, n_splits)]
    return Trial(
        run_id=run_id,
        index=index,
        params=params,
        mean_test_score=mean,
        std_test_score=float(np.std(splits)),
        split_scores=splits,
        mean_fit_time=0.01 * (1 + params.get("n_estimators", 10) / 10),
        mean_score_time=0.001,
        finished_at=start + timedelta(seconds=2 + index),
    )


def other_user(session: Session, *, admin: bool = False) -> User:
    return create_user(session=session, name=f"other-{uuid.uuid4().hex[:8]}", is_admin=admin)[0]


# --- Pure functions over trials -------------------------------------------------------------


def trials_of(grid: dict, score=forest_score, n_splits: int = 3) -> list[Trial]:
    start = utcnow()
    run_id = uuid.uuid4()
    candidates = list(ParameterGrid(grid))
    return [make_trial(run_id, i, p, score(p), n_splits, start) for i, p in enumerate(candidates)]


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


@pytest.mark.parametrize(
    ("estimator", "params"),
    [
        ("RandomForestClassifier", {"n_estimators": 50, "max_depth": None, "max_features": "sqrt"}),
        ("LogisticRegression", {"C": 0.1, "l1_ratio": 0.5}),
        ("HistGradientBoostingRegressor", {"learning_rate": 0.05, "loss": "absolute_error"}),
    ],
)
def test_the_python_snippet_rebuilds_the_workers_pipeline(estimator, params):
    namespace: dict[str, Any] = {}
    exec(reproduce_snippet(estimator, params, random_state=7), namespace)

    expected = build_pipeline(estimator, random_state=7).set_params(**pipeline_params(params))

    def shown(pipeline: Any) -> str:  # column selectors print their address
        return re.sub(r" at 0x[0-9a-f]+", "", repr(pipeline))

    assert shown(namespace["model"]) == shown(expected)
    assert (
        namespace["model"].get_params()["model"].get_params()
        == expected.get_params()["model"].get_params()
    )


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


def test_preview_of_an_upload_reads_it_as_the_service_will():
    content = b"colour,size,label\nred,1.5,yes\nblue,2.5,no\nred,3.5,yes\n"

    assert csv_columns(content) == ["colour", "size", "label"]
    preview = preview_csv(content=content, target="label", max_bytes=10_000)

    assert preview.n_rows == 3
    assert preview.column_types == {"colour": "categorical", "size": "numeric"}
    assert preview.task.value == "classification"
    assert list(preview.head.columns) == ["colour", "size", "label"]
    with pytest.raises(InvalidInput) as error:
        preview_csv(content=content, target="nope", max_bytes=10_000)
    assert error.value.field == "target"


# --- With a database --------------------------------------------------------------------------


@pytest.mark.database
def test_run_summaries_are_the_viewers_newest_first_with_filters_and_a_total(session, user):
    start = utcnow() - timedelta(hours=1)
    runs = [
        make_run(
            session,
            user,
            created_at=start + timedelta(minutes=i),
            n_trials=0,
            status=status,
            dataset=dataset,
        )
        for i, (status, dataset) in enumerate(
            [(RunStatus.SUCCESS, "iris"), (RunStatus.FAILURE, "wine"), (RunStatus.PROGRESS, "iris")]
        )
    ]
    make_run(session, other_user(session), n_trials=0)

    page = list_run_summaries(session=session, viewer=user)
    assert [run.id for run in page.runs] == [run.id for run in reversed(runs)]
    assert page.total == 3 and page.any_active
    assert page.runs[0].dataset == "iris" and page.runs[0].owner == user.name

    second = list_run_summaries(session=session, viewer=user, limit=2, offset=2)
    assert [run.id for run in second.runs] == [runs[0].id] and second.total == 3

    iris = list_run_summaries(
        session=session, viewer=user, datasets=["iris"], statuses=[RunStatus.SUCCESS]
    )
    assert [run.id for run in iris.runs] == [runs[0].id] and not iris.any_active
    assert list_run_summaries(session=session, viewer=user, estimators=["SVC"]).total == 0

    options = run_filter_options(session=session, viewer=user)
    assert options.estimators == ["RandomForestClassifier"] and options.datasets == ["iris", "wine"]


@pytest.mark.database
def test_an_admin_sees_every_run_and_a_user_only_their_own(session, user):
    theirs = make_run(session, other_user(session))
    admin = other_user(session, admin=True)

    assert theirs.id in {run.id for run in list_run_summaries(session=session, viewer=admin).runs}
    assert get_run_detail(session=session, run_id=theirs.id, viewer=admin).owner != admin.name
    with pytest.raises(Forbidden):
        get_run_detail(session=session, run_id=theirs.id, viewer=user)
    with pytest.raises(NotFound):
        get_run_detail(session=session, run_id=uuid.uuid4(), viewer=user)
    with pytest.raises(InvalidInput):
        get_run_detail(session=session, run_id="not-a-uuid", viewer=user)


@pytest.mark.database
def test_run_results_hold_every_trial_and_shared_params_are_common_ones(session, user):
    run = make_run(session, user)
    other = make_run(session, user, param_grid={"max_depth": [None, 3], "min_samples_leaf": [1, 2]})

    results = run_results(session=session, run_id=run.id, viewer=user)

    assert results.run.dataset == "iris" and results.params == ["n_estimators", "max_depth"]
    assert len(results.trials) == 6
    other_results = run_results(session=session, run_id=other.id, viewer=user)
    assert shared_params([results.run, other_results.run]) == ["max_depth"]


@pytest.mark.database
def test_check_submission_names_every_field_at_fault(session, settings):
    bad = TuningRunCreate(
        dataset="iris",
        estimator="RandomForestClassifier",
        param_grid={"n_estimators": [0, 10], "max_depth": ["deep"], "min_samples_leaf": [1]},
        cv=3,
    )
    errors = check_submission(session=session, settings=settings, run_in=bad)
    assert set(errors) == {"param_grid.n_estimators", "param_grid.max_depth"}
    assert "below the minimum 1" in errors["param_grid.n_estimators"]

    too_many_folds = bad.model_copy(update={"param_grid": {"n_estimators": [10]}, "cv": 151})
    assert set(check_submission(session=session, settings=settings, run_in=too_many_folds)) == {
        "cv"
    }
    wrong_scorer = bad.model_copy(update={"param_grid": {"n_estimators": [10]}, "scoring": "r2"})
    assert set(check_submission(session=session, settings=settings, run_in=wrong_scorer)) == {
        "scoring"
    }
    fine = bad.model_copy(update={"param_grid": {"n_estimators": [10]}})
    assert check_submission(session=session, settings=settings, run_in=fine) == {}


@pytest.mark.database
def test_plan_counts_candidates_and_fits_and_estimates_from_similar_runs(session, settings, user):
    run_in = TuningRunCreate(
        dataset="wine",
        estimator="ExtraTreesClassifier",
        param_grid={"n_estimators": [5, 10, 20]},
        cv=4,
    )
    plan = plan_run(session=session, settings=settings, run_in=run_in)
    assert (plan.n_candidates, plan.n_fits, plan.estimate) == (3, 12, None)

    # Two finished runs of 6 candidates x 3 folds: 6 s and 12 s, so 1/3 and 2/3 s per fit.
    for seconds in (6.0, 12.0):
        make_run(
            session, user, estimator="ExtraTreesClassifier", dataset="wine", tuning_time=seconds
        )
    make_run(session, user, estimator="ExtraTreesClassifier", dataset="iris", tuning_time=600.0)

    plan = plan_run(session=session, settings=settings, run_in=run_in)
    assert plan.estimate is not None and plan.estimate.n_similar == 2
    assert plan.estimate.seconds == pytest.approx(12 * 0.5)
    wine = get_dataset(session=session, name="wine")
    assert estimate_duration(session=session, estimator="SVC", dataset_id=wine.id, n_fits=5) is None


@pytest.mark.database
def test_dataset_choices_list_bundled_datasets_with_their_task(session):
    choices = {choice.name: choice for choice in dataset_choices(session=session)}

    assert choices["diabetes"].task.value == "regression"
    assert choices["iris"].n_rows == 150 and "Iris" in choices["iris"].description
