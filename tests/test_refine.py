"""Refine and relaunch: the grid around a finished run's best candidates, and the runs it links."""

import itertools
import math

import pytest
from sqlmodel import select

from tuning.domain import RunStatus, utcnow
from tuning.errors import Forbidden, InvalidInput
from tuning.ml.catalog import get_estimator
from tuning.models import Trial
from tuning.schemas import HalvingOptions
from tuning.service import plan_run, refine_grid, run_children, run_like, run_parent, run_trials

from factories import make_run, make_trial, other_user

pytestmark = pytest.mark.database


def svc_score(params: dict) -> float:
    """Best at C = 1, and with the rbf kernel a little better."""
    return 0.9 - 0.1 * abs(math.log10(params["C"])) + (0.01 if params["kernel"] == "rbf" else 0)


def test_a_log_parameter_gets_geometric_values_between_the_neighbours_of_the_best(session, user):
    grid = {"C": [0.01, 0.1, 1, 10, 100], "kernel": ["linear", "rbf"]}
    run = make_run(session, user, estimator="SVC", param_grid=grid, score=svc_score)

    refined = refine_grid(session=session, run_id=run.id, viewer=user, top_k=2)

    c_values = refined.param_grid["C"]
    assert c_values == [0.215, 0.464, 1, 2.15, 4.64]  # 10 ** (k / 3) between 0.1 and 10
    ratios = [high / low for low, high in itertools.pairwise(c_values)]
    assert ratios == pytest.approx([10 ** (1 / 3)] * 4, rel=0.01)
    assert refined.param_grid["kernel"] == ["linear", "rbf"]  # both kernels are in the top 2
    assert refined.top_trials == (5, 4)  # C = 1 with rbf, then with linear
    assert refined.n_candidates == 10


def test_an_int_parameter_stays_whole_and_inside_the_catalogs_bounds(session, user):
    grid = {"min_samples_split": [2, 10, 50], "max_depth": [None, 3, 6]}
    run = make_run(
        session,
        user,
        param_grid=grid,
        score=lambda p: 0.9 - p["min_samples_split"] / 100 - (p["max_depth"] or 9) / 1000,
    )

    refined = refine_grid(session=session, run_id=run.id, viewer=user, top_k=1)

    split = refined.param_grid["min_samples_split"]
    assert split == [2, 3, 5, 6, 7, 9]  # the best 2 at the low edge, up to its neighbour 10
    assert all(type(value) is int for value in split)
    spec = get_estimator("RandomForestClassifier").params["min_samples_split"]
    assert all(spec.check(value) is None for value in split)
    # The best depth, 3, alone: the whole numbers up to its neighbour 6.
    assert refined.param_grid["max_depth"] == [3, 4, 5]


def test_a_single_top_value_is_refined_between_its_neighbours_in_the_grid(session, user):
    grid = {"n_estimators": [10, 50, 100, 200, 400]}
    run = make_run(session, user, param_grid=grid, score=lambda p: -abs(p["n_estimators"] - 100))

    refined = refine_grid(session=session, run_id=run.id, viewer=user, top_k=1)

    assert refined.param_grid == {"n_estimators": [75, 100, 125, 150, 175]}  # linear: not log


def test_named_options_keep_only_those_of_the_top_candidates(session, user):
    grid = {"criterion": ["gini", "entropy", "log_loss"], "max_depth": [None, 3]}
    scores = {"gini": 0.8, "entropy": 0.9, "log_loss": 0.7}
    run = make_run(
        session,
        user,
        param_grid=grid,
        score=lambda p: scores[p["criterion"]] + (0.01 if p["max_depth"] is None else 0),
    )

    refined = refine_grid(session=session, run_id=run.id, viewer=user, top_k=2)

    assert refined.param_grid == {"criterion": ["entropy"], "max_depth": [None, 3]}


def test_the_candidate_count_is_kept_under_the_limit_with_fewer_finer_values(session, user):
    grid = {
        "n_estimators": [10, 100, 1000],
        "max_depth": [2, 8, 32],
        "min_samples_split": [2, 20, 200],
    }
    run = make_run(session, user, param_grid=grid, score=lambda p: 1.0)  # every candidate ties

    refined = refine_grid(session=session, run_id=run.id, viewer=user, max_candidates=100)
    assert refined.n_candidates <= 100
    assert 0 < refined.values_per_param < 5

    with pytest.raises(InvalidInput) as refused:  # the top five's own values make 1 x 2 x 3
        refine_grid(session=session, run_id=run.id, viewer=user, max_candidates=5)
    assert refused.value.field == "top_k" and "refine around fewer" in refused.value.reason


def test_only_a_finished_run_with_a_scored_candidate_is_refined(session, user):
    running = make_run(session, user, status=RunStatus.PROGRESS, n_trials=3)
    with pytest.raises(InvalidInput, match="still going"):
        refine_grid(session=session, run_id=running.id, viewer=user)

    failed = make_run(session, user, status=RunStatus.FAILURE)
    for trial in session.exec(select(Trial).where(Trial.run_id == failed.id)).all():
        trial.mean_test_score, trial.error = None, "ValueError: no"
        session.add(trial)
    session.commit()
    with pytest.raises(InvalidInput, match="no candidate of this run scored"):
        refine_grid(session=session, run_id=failed.id, viewer=user)

    revoked = make_run(session, user, status=RunStatus.REVOKED, n_trials=2)  # what it finished
    assert refine_grid(session=session, run_id=revoked.id, viewer=user).top_trials == (1, 0)


def test_another_users_run_is_refused(session, user):
    theirs = make_run(session, other_user(session))
    with pytest.raises(Forbidden):
        refine_grid(session=session, run_id=theirs.id, viewer=user)


def test_the_refined_submission_is_a_grid_search_linked_to_its_parent(session, user, settings):
    run = make_run(
        session, user, estimator="SVC", param_grid={"C": [0.1, 1, 10]}, score=svc_score_c
    )
    run.search, run.n_iter, run.random_state = "random", 2, 7
    session.add(run)
    session.commit()

    refined = refine_grid(session=session, run_id=run.id, viewer=user)
    run_in = refined.run_in()

    assert run_in.search == "grid" and run_in.n_iter is None
    assert run_in.parent_run_id == str(run.id) and run_in.random_state == 7
    assert (run_in.estimator, run_in.cv, run_in.scoring) == ("SVC", run.cv, run.scoring)
    plan = plan_run(session=session, settings=settings, run_in=run_in, viewer=user)
    assert plan.n_candidates == refined.n_candidates


def svc_score_c(params: dict) -> float:
    return 0.9 - 0.1 * abs(math.log10(params["C"]))


def test_a_run_lists_the_children_its_viewer_may_see_and_a_child_its_parent(session, user):
    parent = make_run(session, user)
    stranger = other_user(session)
    mine = make_run(session, user, parent_id=parent.id)
    theirs = make_run(session, stranger, parent_id=parent.id)
    make_run(session, user)  # unrelated

    assert [c.id for c in run_children(session=session, run_id=parent.id, viewer=user)] == [mine.id]
    admin = other_user(session, admin=True)
    children = run_children(session=session, run_id=parent.id, viewer=admin)
    assert [c.id for c in children] == [mine.id, theirs.id]

    child = run_children(session=session, run_id=parent.id, viewer=user)[0]
    found = run_parent(session=session, run=child, viewer=user)
    assert found is not None and found.id == parent.id
    their_child = children[1]
    assert run_parent(session=session, run=their_child, viewer=stranger) is None  # not theirs
    assert run_parent(session=session, run=found, viewer=user) is None  # no parent


def test_a_range_is_refined_between_the_values_its_candidates_drew(session, user):
    run = make_run(
        session, user, estimator="SVC", param_grid={"C": [0.05, 0.3, 2, 7, 40]}, score=svc_score_c
    )
    run.search, run.n_iter = "random", 5  # as if the five were drawn from a log range
    run.param_grid = {"C": {"low": 0.01, "high": 100, "log": True}}
    session.add(run)
    session.commit()

    refined = refine_grid(session=session, run_id=run.id, viewer=user, top_k=1)

    c_values = refined.param_grid["C"]
    assert 2 in c_values and all(0.3 < value < 7 for value in c_values)
    finer = [value for value in c_values if value != 2]
    ratios = [high / low for low, high in itertools.pairwise(finer)]
    assert ratios == pytest.approx([ratios[0]] * len(ratios), rel=0.02)  # geometric


def test_a_halving_run_is_refined_around_its_last_rung(session, user):
    grid = {"n_estimators": [10, 50, 100, 200, 400]}
    # On the first rung's few samples 400 looked best; on the last rung's, 100 is.
    run = make_run(session, user, param_grid=grid, score=lambda p: p["n_estimators"] / 1000)
    for trial in session.exec(select(Trial).where(Trial.run_id == run.id)):
        trial.rung, trial.n_resources = 0, 50
        session.add(trial)
    last = make_trial(run.id, 5, {"n_estimators": 100}, 0.2, run.cv, utcnow())
    last.rung, last.n_resources = 1, 150
    session.add(last)
    session.commit()

    refined = refine_grid(session=session, run_id=run.id, viewer=user, top_k=1)

    assert refined.top_trials == (5,)
    assert refined.param_grid == {"n_estimators": [75, 100, 125, 150, 175]}


def test_a_relaunch_keeps_the_search_and_its_options(session, user):
    halving = {
        "candidates": "grid",
        "factor": 2.0,
        "min_resources": "smallest",
        "aggressive_elimination": True,
        "n_candidates": [4, 2, 1],
        "n_resources": [18, 36, 72],
    }
    run = make_run(
        session,
        user,
        param_grid={"n_estimators": [10, 50, 100, 200]},
        search="halving",
        halving=halving,
        time_budget_s=60.0,
        return_train_score=False,
    )
    summary = run_trials(session=session, run_id=run.id, viewer=user).run

    again = run_like(summary, param_grid={"n_estimators": [10, 50]})

    assert again.search == "halving" and again.time_budget_s == 60.0
    assert again.halving == HalvingOptions(
        candidates="grid", factor=2.0, min_resources="smallest", aggressive_elimination=True
    )
    assert again.return_train_score is False
    refined = refine_grid(session=session, run_id=run.id, viewer=user, top_k=1).run_in()
    assert refined.search == "grid" and refined.halving is None
