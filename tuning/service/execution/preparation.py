"""What a worker process needs to evaluate a run's candidates, built once per run.

A run's chunks arrive one after another at the same worker process; loading its dataset,
listing its candidates (its search strategy's) and computing its CV splits once per process,
not once per task, keeps a task's cost in its fits. The splits are GridSearchCV's own, so any
process on any host computes the same ones.
"""

import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from sklearn.pipeline import Pipeline
from sqlalchemy import select, update
from sqlmodel import Session, col

from tuning.ml import catalog
from tuning.ml.datasets import Table
from tuning.ml.holdout import held_out_rows, without_rows
from tuning.ml.ranges import Range
from tuning.ml.scoring import Scorer, make_run_scorer
from tuning.ml.search import Splits, build_pipeline, make_splits
from tuning.models import TuningRun
from tuning.service.data.datasets import dataset_profile_by_id, load_table

# Runs and datasets a worker process keeps ready: a few, so memory stays bounded.
KEEP = 4


@dataclass(frozen=True)
class Prepared:
    table: Table
    pipeline: Pipeline
    splits: Splits
    param_grid: dict[str, list[Any] | Range]  # the run's grid, its ranges parsed
    scorer: Scorer  # the run's scorer name with its positive class, built once
    # What the run's search strategy lists once per process: its candidates and, for
    # successive halving, each later rung's candidates and subsampled splits, once read.
    kept: dict[Any, Any] = field(default_factory=dict)


_runs: OrderedDict[uuid.UUID, Prepared] = OrderedDict()
_tables: OrderedDict[uuid.UUID, tuple[Table, dict[str, Any]]] = OrderedDict()


def prepare(*, session: Session, run: TuningRun) -> Prepared:
    """The run's data, pipeline, grid and splits; its search lists its candidates in `kept`."""
    if run.id in _runs:
        _runs.move_to_end(run.id)
        return _runs[run.id]
    table, profile = _table(session, run.dataset_id)
    roles = run.column_roles
    table = without_rows(table, _held_out(session, run, table, profile))
    pipeline = build_pipeline(
        run.estimator, random_state=run.random_state, profile=profile, roles=roles
    )
    prepared = Prepared(
        table=table,
        pipeline=pipeline,
        splits=make_splits(run.cv, table, pipeline, profile=profile, roles=roles),
        param_grid=catalog.search_space(run.estimator, run.param_grid),
        scorer=make_run_scorer(run.scoring, run.pos_label),
    )
    _keep(_runs, run.id, prepared)
    return prepared


def _held_out(session: Session, run: TuningRun, table: Table, profile: dict[str, Any]) -> list[int]:
    """The run's test set: drawn by the first process that prepares the run and stored with
    it (a guarded update: one draw wins), then read back, so every process on every host
    leaves the same rows out, and so does every later training."""
    if not run.test_size:
        return []
    if run.held_out is None:
        rows = held_out_rows(
            table,
            run.test_size,
            random_state=run.random_state,
            profile=profile,
            roles=run.column_roles,
        )
        session.execute(
            update(TuningRun)
            .where(col(TuningRun.id) == run.id, col(TuningRun.held_out).is_(None))
            .values(held_out=rows)
        )
        session.commit()
        run.held_out = session.execute(
            select(col(TuningRun.held_out)).where(col(TuningRun.id) == run.id)
        ).scalar_one()
        session.commit()
    return list(run.held_out or [])


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
