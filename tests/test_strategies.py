"""The search strategies: one class per kind, asked by the one loop, planning and the form.

The runs here go through the one evaluation loop in this process (`execute_chunk`, on the test
database, with tests/fakes.py's RecordingQueue, which runs what is sent in this process), so
every kind is checked against scikit-learn without a worker.
"""

import uuid
from typing import get_args

import pytest
from sklearn.experimental import enable_halving_search_cv  # noqa: F401
from sklearn.model_selection import HalvingGridSearchCV, RandomizedSearchCV
from sqlmodel import Session, col, select

from tuning.domain import RunStatus
from tuning.errors import InvalidInput
from tuning.ml.datasets import load_bundled
from tuning.ml.search import default_pipeline, pipeline_params
from tuning.models import Proposal, Trial, TuningRun
from tuning.schemas import HalvingOptions, SearchKind, TuningRunCreate
from tuning.service import STRATEGIES, execute_chunk, strategy_for, submit_run

from fakes import RecordingQueue
from helpers import gridsearch_best

pytestmark = pytest.mark.database


def run_in_process(inproc, **fields) -> tuple[TuningRun, list[Trial], RecordingQueue]:
    """Submit a run and run every chunk it sends here, chunk 0 first, until none is left, in a
    database of the test's own (fair turns count every active run's chunks out)."""
    queue, user = inproc.queue, inproc.user()
    run_in = TuningRunCreate(**{"dataset": "iris", "cv": 3, **fields})
    with Session(inproc.engine, expire_on_commit=False) as session:
        run = submit_run(
            session=session, queue=queue, settings=inproc.settings, owner=user, run_in=run_in
        )
    queue.run_sent(engine=inproc.engine, settings=inproc.settings, worker="in-process")
    with Session(inproc.engine, expire_on_commit=False) as session:
        stored = session.get(TuningRun, run.id)
        trials = session.exec(
            select(Trial).where(Trial.run_id == run.id).order_by(col(Trial.index))
        ).all()
    return stored, list(trials), queue


def strip(params: dict) -> dict:
    return {name.removeprefix("model__"): value for name, value in params.items()}


def test_every_search_kind_has_its_strategy():
    assert list(STRATEGIES) == list(get_args(SearchKind))
    assert all(strategy_for(kind).kind == kind for kind in STRATEGIES)
    assert len({strategy.label for strategy in STRATEGIES.values()}) == len(STRATEGIES)
    with pytest.raises(ValueError, match="no search 'annealing'"):
        strategy_for("annealing")


def test_what_the_form_asks_each_strategy():
    grid, random, halving, bayes = (strategy_for(k) for k in ("grid", "random", "halving", "bayes"))
    assert not grid.samples() and random.samples() and bayes.samples()
    assert not halving.samples(None) and not halving.samples(HalvingOptions())
    assert halving.samples(HalvingOptions(candidates="random"))
    assert [s.needs_n_iter for s in (grid, random, halving, bayes)] == [False, True, False, True]
    assert [s.has_rungs for s in (grid, random, halving, bayes)] == [False, False, True, False]
    assert halving.patience_refused and grid.patience_refused is None
    schedule = {"candidates": "random", "factor": 3.0, "n_candidates": [9, 3, 1]}
    assert halving.words(n_iter=9, halving=schedule) == (
        "successive halving over a random sample, factor 3, 3 rungs"
    )
    assert bayes.words(n_iter=20, halving=None) == "Bayesian search (TPE) of 20"


def test_options_of_another_search_are_refused():
    run_in = TuningRunCreate(
        dataset="iris", estimator="SVC", param_grid={"C": [1]}, halving=HalvingOptions()
    )
    with pytest.raises(InvalidInput, match='need search "halving"'):
        strategy_for("grid").check_options(run_in)
    patient = TuningRunCreate(
        dataset="iris",
        estimator="SVC",
        param_grid={"C": [1]},
        search="halving",
        stop_after_no_improvement=3,
    )
    with pytest.raises(InvalidInput, match="use time_budget_s to bound a halving run"):
        strategy_for("halving").check_options(patient)


def test_a_halving_run_counts_its_rungs_as_fits_on_every_row():
    run = TuningRun(
        dataset_id=uuid.uuid4(),
        estimator="SVC",
        search="halving",
        param_grid={},
        halving={"n_candidates": [9, 3, 1], "n_resources": [50, 150, 150]},
        cv=3,
        scoring="accuracy",
        total_combinations=13,
        owner_id=0,
    )
    assert strategy_for("halving").full_data_fits(run, n_rows=150) == pytest.approx(
        (9 / 3 + 3 + 1) * 3
    )
    assert strategy_for("grid").full_data_fits(run, n_rows=150) == 13 * 3


def test_a_grid_run_in_process_ends_with_gridsearchcvs_best(inproc):
    grid = {"max_depth": [1, 2, 3, None], "criterion": ["gini", "entropy"]}
    run, trials, queue = run_in_process(
        inproc, estimator="DecisionTreeClassifier", param_grid=grid, random_state=0
    )
    best_params, best_score = gridsearch_best("iris", "DecisionTreeClassifier", grid, "accuracy", 3)
    assert run.status is RunStatus.SUCCESS
    assert (run.best_params, run.best_score) == (best_params, best_score)
    assert [trial.index for trial in trials] == list(range(8))
    # A second delivery of every chunk stores nothing twice and changes nothing.
    for sent in queue.chunks:
        execute_chunk(
            engine=inproc.engine,
            queue=RecordingQueue(),
            settings=inproc.settings,
            run_id=sent.run_id,
            index=sent.index,
            worker="again",
        )
    with Session(inproc.engine) as session:
        again = session.exec(select(Trial).where(Trial.run_id == run.id)).all()
    assert sorted(trial.id for trial in again) == sorted(trial.id for trial in trials)


def test_a_random_run_in_process_equals_randomizedsearchcv(inproc):
    grid = {"C": [0.01, 0.1, 1.0, 10.0, 100.0], "gamma": [0.01, 0.1, 1.0]}
    run, trials, _ = run_in_process(
        inproc, estimator="SVC", param_grid=grid, search="random", n_iter=6, random_state=3
    )
    table = load_bundled("iris")
    theirs = RandomizedSearchCV(
        default_pipeline("SVC", table, random_state=3),
        pipeline_params(grid),
        n_iter=6,
        cv=3,
        random_state=3,
    ).fit(table.X, table.y)
    assert run.status is RunStatus.SUCCESS
    assert [trial.params for trial in trials] == [strip(p) for p in theirs.cv_results_["params"]]
    assert [trial.mean_test_score for trial in trials] == list(
        theirs.cv_results_["mean_test_score"]
    )
    assert run.best_params == strip(theirs.best_params_)


def test_a_halving_run_in_process_equals_halvinggridsearchcv(inproc):
    grid = {"C": [0.1, 1, 10, 100], "gamma": [0.01, 0.1, 1.0]}
    run, trials, _ = run_in_process(
        inproc, estimator="SVC", param_grid=grid, search="halving", random_state=5
    )
    table = load_bundled("iris")
    theirs = HalvingGridSearchCV(
        default_pipeline("SVC", table, random_state=5), pipeline_params(grid), cv=3, random_state=5
    ).fit(table.X, table.y)
    results = theirs.cv_results_
    assert run.status is RunStatus.SUCCESS
    assert [trial.rung for trial in trials] == list(results["iter"])
    assert [trial.n_resources for trial in trials] == list(results["n_resources"])
    assert [trial.params for trial in trials] == [strip(p) for p in results["params"]]
    assert (run.best_params, run.best_score) == (strip(theirs.best_params_), theirs.best_score_)
    assert run.rung == len(theirs.n_candidates_) - 1


def test_a_bayesian_run_in_process_proposes_stores_and_ends(inproc):
    grid = {"C": {"low": 0.01, "high": 100.0, "log": True}}
    run, trials, _ = run_in_process(
        inproc, estimator="SVC", param_grid=grid, search="bayes", n_iter=5, random_state=1
    )
    assert run.status is RunStatus.SUCCESS
    assert [trial.index for trial in trials] == list(range(5))
    with Session(inproc.engine) as session:
        proposals = session.exec(select(Proposal).where(Proposal.run_id == run.id)).all()
    assert sorted(p.index for p in proposals) == list(range(5))
    assert {p.index: p.params for p in proposals} == {t.index: t.params for t in trials}
    best = max(trials, key=lambda trial: trial.mean_test_score or -1)
    assert run.best_score == best.mean_test_score
