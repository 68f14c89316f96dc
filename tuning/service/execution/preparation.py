"""What a worker process needs to evaluate a run's candidates, built once per run.

A run's chunks arrive one after another at the same worker process; loading its dataset,
listing its candidates and computing its CV splits once per process, not once per task, keeps
a task's cost in its fits. The splits are GridSearchCV's own, so any process on any host
computes the same ones.
"""

import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from sklearn.pipeline import Pipeline
from sqlmodel import Session

from tuning.ml import catalog
from tuning.ml.datasets import Table
from tuning.ml.scoring import Scorer, make_run_scorer
from tuning.ml.search import SearchSpace, Splits, build_pipeline, iter_candidates, make_splits
from tuning.models import TuningRun
from tuning.service.commands.strategies import first_rung
from tuning.service.data.datasets import dataset_profile_by_id, load_table

# Runs and datasets a worker process keeps ready: a few, so memory stays bounded.
KEEP = 4


@dataclass(frozen=True)
class Prepared:
    candidates: list[dict[str, Any]]  # a halving run's: its first rung's; a Bayesian run's: none
    table: Table
    pipeline: Pipeline
    splits: Splits
    space: SearchSpace
    scorer: Scorer  # the run's scorer name with its positive class, built once
    # Successive halving: each later rung's candidates and subsampled splits, once read.
    rungs: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    rung_splits: dict[int, Splits] = field(default_factory=dict)


_runs: OrderedDict[uuid.UUID, Prepared] = OrderedDict()
_tables: OrderedDict[uuid.UUID, tuple[Table, dict[str, Any]]] = OrderedDict()


def prepare(*, session: Session, run: TuningRun) -> Prepared:
    """The run's candidates in scikit-learn's order, its data, pipeline and splits."""
    if run.id in _runs:
        _runs.move_to_end(run.id)
        return _runs[run.id]
    table, profile = _table(session, run.dataset_id)
    roles = run.column_roles
    pipeline = build_pipeline(
        run.estimator, random_state=run.random_state, profile=profile, roles=roles
    )
    space = SearchSpace(
        catalog.search_space(run.estimator, run.param_grid),
        run.search,
        run.n_iter,
        run.random_state,
    )
    listed = space
    if run.halving is not None:
        listed = first_rung(space, run.halving["candidates"])
    prepared = Prepared(
        candidates=[] if run.search == "bayes" else list(iter_candidates(listed)),
        table=table,
        pipeline=pipeline,
        splits=make_splits(run.cv, table, pipeline, profile=profile, roles=roles),
        space=space,
        scorer=make_run_scorer(run.scoring, run.pos_label),
    )
    _keep(_runs, run.id, prepared)
    return prepared


def _table(session: Session, dataset_id: uuid.UUID) -> tuple[Table, dict[str, Any]]:
    """A dataset's table and profile."""
    if dataset_id in _tables:
        _tables.move_to_end(dataset_id)
        return _tables[dataset_id]
    loaded = load_table(session=session, dataset_id=dataset_id)
    profile = dataset_profile_by_id(session=session, dataset_id=dataset_id)
    _keep(_tables, dataset_id, (loaded, profile))
    return loaded, profile


def _keep(cache: OrderedDict[uuid.UUID, Any], key: uuid.UUID, value: object) -> None:
    cache[key] = value
    while len(cache) > KEEP:
        cache.popitem(last=False)
