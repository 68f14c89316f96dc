"""Test data as a worker would have left it: users, runs and trials, without running a search."""

import math
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import ParameterGrid
from sqlmodel import Session

from tuning.config import Settings
from tuning.domain import RunStatus, utcnow
from tuning.models import Dataset, Model, ModelFile, TrainingRun, Trial, TuningRun, User
from tuning.runtime import Runtime
from tuning.service import create_user, get_dataset, upload_dataset
from tuning.service.execution.stopping import Hopeless

GRID = {"n_estimators": [10, 100], "max_depth": [None, 3, 6]}


def bearer(runtime: Runtime, name: str | None = None, admin: bool = False) -> dict[str, str]:
    """The Authorization header of a new user (an admin if asked)."""
    with Session(runtime.engine) as session:
        _, token = create_user(
            session=session, name=name or f"api-{uuid.uuid4().hex[:8]}", is_admin=admin
        )
    return {"Authorization": f"Bearer {token}"}


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
    created_at: datetime | None = None,
    tuning_time: float | None = 6.0,
    **fields: Any,
) -> TuningRun:
    """A run and its first `n_trials` trials (all of them by default); `fields` set columns."""
    grid = param_grid or GRID
    candidates = list(ParameterGrid(grid))
    n_done = len(candidates) if n_trials is None else n_trials
    created = created_at or utcnow()
    run = TuningRun(
        owner_id=owner.id,
        dataset_id=get_dataset(session=session, name=dataset, viewer=owner).id,
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
        started_at=created + timedelta(seconds=1) if status is not RunStatus.PENDING else None,
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
    for name, value in fields.items():
        setattr(run, name, value)
    session.commit()
    session.refresh(run)
    return run


def make_trial(
    run_id: uuid.UUID,
    index: int,
    params: dict[str, Any],
    mean: float,
    n_splits: int,
    start: datetime,
) -> Trial:
    """A scored trial whose folds spread evenly around `mean`, finished `2 + index` s after
    `start`."""
    splits = [mean + d for d in np.linspace(-0.01, 0.01, n_splits)]
    return Trial(
        run_id=run_id,
        index=index,
        params=params,
        mean_test_score=mean,
        std_test_score=float(np.std(splits)),
        split_scores=splits,
        split_train_scores=[score + 0.05 for score in splits],
        mean_fit_time=0.01 * (1 + params.get("n_estimators", 10) / 10),
        mean_score_time=0.001,
        worker="factory@test",
        finished_at=start + timedelta(seconds=2 + index),
    )


TOO_MANY_NEIGHBOURS = "ValueError: Expected n_neighbors <= n_samples_fit, but n_neighbors = {}"


def make_hopeless_run(session: Session, owner: User, *, n_tried: int = 12) -> TuningRun:
    """A KNeighborsClassifier run over 200 values too large for iris, stopped FAILURE once its
    first `n_tried` candidates had all failed with the same error, as a worker leaves it."""
    grid = {"n_neighbors": list(range(500, 700))}
    run = make_run(
        session,
        owner,
        estimator="KNeighborsClassifier",
        param_grid=grid,
        status=RunStatus.FAILURE,
        n_trials=0,
    )
    start = run.created_at
    for index in range(n_tried):
        trial = make_trial(run.id, index, {"n_neighbors": 500 + index}, math.nan, run.cv, start)
        trial.mean_test_score = trial.std_test_score = None
        trial.split_scores, trial.split_train_scores = [None] * run.cv, [None] * run.cv
        trial.error = TOO_MANY_NEIGHBOURS.format(500 + index)
        session.add(trial)
    verdict = Hopeless(TOO_MANY_NEIGHBOURS.format(500), n_tried, run.total_combinations)
    run.error_type, run.error_message = "ValueError", verdict.message
    run.stop_reason, run.progress_current = verdict.reason, n_tried
    session.add(run)
    session.commit()
    session.refresh(run)
    return run


def trials_of(grid: dict, score=forest_score, n_splits: int = 3) -> list[Trial]:
    """Trials of every candidate of `grid`, not stored."""
    start = utcnow()
    run_id = uuid.uuid4()
    candidates = list(ParameterGrid(grid))
    return [make_trial(run_id, i, p, score(p), n_splits, start) for i, p in enumerate(candidates)]


def other_user(session: Session, *, admin: bool = False) -> User:
    return create_user(session=session, name=f"other-{uuid.uuid4().hex[:8]}", is_admin=admin)[0]


def rare_yes_csv(n_rows: int = 150, n_yes: int = 20, seed: int = 0) -> bytes:
    """A yes/no target where "yes" is rare (20 of 150 rows, 13 %), two numbers and a category
    that tell it apart only in part."""
    rng = np.random.default_rng(seed)
    answer = np.array(["yes"] * n_yes + ["no"] * (n_rows - n_yes), dtype=object)
    rng.shuffle(answer)
    is_yes = answer == "yes"
    frame = pd.DataFrame(
        {
            "visits": (rng.normal(3, 1.5, n_rows) + 1.5 * is_yes).round(2),
            "spend": rng.normal(40, 10, n_rows).round(2),
            "plan": np.where(rng.random(n_rows) < 0.4 + 0.3 * is_yes, "pro", "basic"),
            "answer": answer,
        }
    )
    return frame.to_csv(index=False).encode()


def upload_rare_yes(session: Session, owner: User) -> Dataset:
    """`rare_yes_csv()` uploaded by `owner`, its target the answer column."""
    return upload_dataset(
        session=session,
        owner=owner,
        name=f"rare-yes-{uuid.uuid4().hex[:6]}",
        content=rare_yes_csv(),
        target="answer",
        settings=Settings(_env_file=None),
    )


def signed_in(runtime: Runtime, *, admin: bool = False) -> tuple[User, dict[str, str]]:
    """A new user (an admin if asked) and their Authorization header."""
    with Session(runtime.engine, expire_on_commit=False) as session:
        user, token = create_user(
            session=session, name=f"labels-{uuid.uuid4().hex[:8]}", is_admin=admin
        )
    return user, {"Authorization": f"Bearer {token}"}


def make_model(session: Session, run: TuningRun, owner: User) -> Model:
    """A training of `run` as a worker leaves it, with its model."""
    training = TrainingRun(
        owner_id=owner.id,
        tuning_run_id=run.id,
        dataset_id=run.dataset_id,
        estimator=run.estimator,
        params=run.best_params or {},
        scoring=run.scoring,
        status=RunStatus.SUCCESS,
        metrics={run.scoring: 0.9},
        training_time=1.0,
    )
    session.add(training)
    session.flush()
    model = Model(owner_id=owner.id, training_run_id=training.id, estimator=run.estimator)
    session.add(model)
    session.flush()
    session.add(ModelFile(model_id=model.id, file=b"x"))
    training.model_id = model.id
    session.commit()
    return model
