"""Training a final model: held-out metrics, a refit on all rows, and a skops file."""

import time
from dataclasses import dataclass
from typing import Any

from sklearn.base import clone
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline

from tuning.domain import TaskType
from tuning.ml.datasets import Table
from tuning.ml.scoring import DEFAULT_SCORING, make_run_scorer
from tuning.ml.search import build_pipeline, pipeline_params

HELD_OUT_FRACTION = 0.2


@dataclass(frozen=True)
class TrainedModel:
    pipeline: Pipeline
    metrics: dict[str, float]
    training_time: float


def train_model(
    estimator: str,
    params: dict[str, Any],
    table: Table,
    *,
    scoring: str | None = None,
    pos_label: Any = None,
    random_state: int | None = None,
    profile: dict[str, Any] | None = None,
    roles: dict[str, Any] | None = None,
) -> TrainedModel:
    """Score on a held-out 20% (stratified for classes), with `pos_label` the positive class
    of the scorers that take one, then refit on every row; the pipeline is the run's
    (`build_pipeline` with the dataset's profile and the column roles)."""
    started = time.perf_counter()
    seed = 0 if random_state is None else random_state
    pipeline = build_pipeline(estimator, random_state=random_state, profile=profile, roles=roles)
    pipeline.set_params(**pipeline_params(params))
    stratify = table.y if table.task is TaskType.CLASSIFICATION else None
    X_train, X_test, y_train, y_test = train_test_split(
        table.X, table.y, test_size=HELD_OUT_FRACTION, random_state=seed, stratify=stratify
    )
    held_out = clone(pipeline).fit(X_train, y_train)
    names = dict.fromkeys([scoring or DEFAULT_SCORING[table.task], DEFAULT_SCORING[table.task]])
    metrics = {
        name: float(make_run_scorer(name, pos_label)(held_out, X_test, y_test)) for name in names
    }
    final = pipeline.fit(table.X, table.y)
    return TrainedModel(final, metrics, round(time.perf_counter() - started, 3))


def dump_model(pipeline: Pipeline) -> bytes:
    """The fitted pipeline in skops format, which loads without unpickling arbitrary code."""
    # Imported here: skops takes most of a second to import, and only training needs it, so
    # the API, the dashboard and every worker start that much sooner.
    import skops.io as sio

    return sio.dumps(pipeline)
