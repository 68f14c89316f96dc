"""Training final models: submit, execute on a worker, read, download."""

import logging
import uuid
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from tuning.db import session_scope
from tuning.domain import FINISHED, RunStatus, utcnow
from tuning.errors import InvalidInput
from tuning.ml import catalog
from tuning.ml.checks import check_held_out_split
from tuning.ml.columns import default_roles
from tuning.ml.scoring import DEFAULT_SCORING
from tuning.ml.training import HELD_OUT_FRACTION, dump_model, train_model
from tuning.models import Dataset, Model, ModelFile, TrainingRun, Trial, TuningRun, User
from tuning.schemas import TrainingRunCreate, TrainingStatus
from tuning.service.accounts.access import Action, only_visible, parse_id, require_visible
from tuning.service.commands.scorers import check_scorer
from tuning.service.data.datasets import dataset_classes, dataset_profile_by_id, load_table
from tuning.service.execution.lifecycle import estimator_and_dataset, finish, store_and_enqueue
from tuning.service.execution.queue import TaskQueue
from tuning.service.reads.runs import get_run
from tuning.service.reads.status import status_of_training

log = logging.getLogger(__name__)


def get_training_run(
    *, session: Session, training_run_id: str | uuid.UUID, viewer: User | None = None
) -> TrainingRun:
    key = parse_id(training_run_id, field="training_run_id")
    return require_visible(
        session.get(TrainingRun, key), viewer=viewer, what="training run", key=key
    )


def get_model(*, session: Session, model_id: str | uuid.UUID, viewer: User | None = None) -> Model:
    key = parse_id(model_id, field="model_id")
    return require_visible(session.get(Model, key), viewer=viewer, what="model", key=key)


def get_training_status(
    *,
    session: Session,
    queue: TaskQueue,
    training_run_id: str | uuid.UUID,
    viewer: User | None = None,
) -> TrainingStatus:
    run = get_training_run(session=session, training_run_id=training_run_id, viewer=viewer)
    return status_of_training(run=run, queue=queue)


def list_training_runs(
    *, session: Session, viewer: User, limit: int = 50, archived: bool = False
) -> list[TrainingRun]:
    """The viewer's training runs (an admin's: everyone's), newest first: those whose model is
    not archived (or that have none yet), or with `archived` those whose model is."""
    model_archived = select(Model.training_run_id).where(col(Model.archived_at).is_not(None))
    chosen = col(TrainingRun.id).in_(model_archived)
    query = only_visible(select(TrainingRun), TrainingRun.owner_id, viewer)
    query = query.where(chosen if archived else ~chosen)
    query = query.order_by(col(TrainingRun.created_at).desc()).limit(limit)
    return list(session.exec(query).all())


def _training_row(session: Session, owner: User, request: TrainingRunCreate) -> TrainingRun:
    """A checked TrainingRun from a tuning run's best parameters (or one of its trials' by
    index), or an explicit configuration."""
    assert owner.id is not None, "a stored user"
    if request.tuning_run_id is not None:
        tuned = get_run(
            session=session, run_id=request.tuning_run_id, viewer=owner, to=Action.TRAIN
        )
        trial_index, params = _trial_params(session, tuned, request.trial)
        dataset = session.get(Dataset, tuned.dataset_id)
        assert dataset is not None, "a run's dataset is kept"
        scoring = request.scoring or tuned.scoring
        _check_training(
            session, dataset, scoring, tuned.estimator, params, tuned.pos_label, tuned.held_out
        )
        return TrainingRun(
            owner_id=owner.id,
            tuning_run_id=tuned.id,
            dataset_id=tuned.dataset_id,
            estimator=tuned.estimator,
            params=params,
            scoring=scoring,
            random_state=tuned.random_state,
            trial_index=trial_index,
        )
    if request.trial is not None:
        raise InvalidInput("trial", "a trial is one of a tuning run's: give its tuning_run_id")
    if request.dataset is None or request.estimator is None:
        missing = "dataset" if request.dataset is None else "estimator"
        raise InvalidInput(missing, "give a tuning_run_id, or a dataset, estimator and params")
    spec, dataset = estimator_and_dataset(
        session=session, estimator=request.estimator, dataset=request.dataset, viewer=owner
    )
    params = request.params or {}
    catalog.validate_params(spec.name, params)
    scoring = request.scoring or DEFAULT_SCORING[dataset.task]
    _check_training(session, dataset, scoring, spec.name, params)
    return TrainingRun(
        owner_id=owner.id,
        dataset_id=dataset.id,
        estimator=spec.name,
        params=params,
        scoring=scoring,
        random_state=request.random_state,
    )


def _trial_params(
    session: Session, tuned: TuningRun, trial: int | None
) -> tuple[int | None, dict[str, Any]]:
    """The index and parameters of the trial to train: the run's best without one, else that
    trial, which must exist and have scored."""
    if trial is None:
        if tuned.best_params is None:
            raise InvalidInput(
                "tuning_run_id", f"tuning run {tuned.id} has no best parameters ({tuned.status})"
            )
        return tuned.best_trial_index, tuned.best_params
    found = session.exec(
        select(Trial).where(col(Trial.run_id) == tuned.id, col(Trial.index) == trial)
    ).first()
    if found is None:
        raise InvalidInput("trial", f"tuning run {tuned.id} has no trial {trial}")
    if found.mean_test_score is None:
        why = f": {found.error[:300]}" if found.error else ""
        raise InvalidInput(
            "trial", f"trial {trial} did not score, so there is nothing to train{why}"
        )
    return trial, found.params


def _check_training(
    session: Session,
    dataset: Dataset,
    scoring: str,
    estimator: str,
    params: dict[str, Any],
    pos_label: Any = None,
    held_out: list[int] | None = None,
) -> None:
    """The scorer fits the task, the labels (with the tuning run's positive class) and the
    estimator with these parameters, and (without the run's test set) a stratified hold-out
    is possible."""
    classes = dataset_classes(session=session, dataset=dataset)
    check_scorer(
        scoring,
        task=dataset.task,
        classes=classes,
        pos_label=pos_label,
        estimator=estimator,
        param_grid={name: [value] for name, value in params.items()},
    )
    if classes and not held_out:
        check_held_out_split(classes=classes, fraction=HELD_OUT_FRACTION)


def _tuning_run(session: Session, run: TrainingRun) -> TuningRun | None:
    """The tuning run a training came from, if any: its positive class and test set apply."""
    return None if run.tuning_run_id is None else session.get(TuningRun, run.tuning_run_id)


def submit_training(
    *, session: Session, queue: TaskQueue, owner: User, request: TrainingRunCreate
) -> TrainingRun:
    """Validate, store as PENDING, then enqueue (commit before enqueue)."""
    return store_and_enqueue(
        session=session, run=_training_row(session, owner, request), queue=queue
    )


def _columns(session: Session, run: TrainingRun) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The dataset's profile and the column roles: the tuning run's, as it was tuned (None for
    a run stored before roles), or the profile's defaults for a chosen configuration."""
    profile = dataset_profile_by_id(session=session, dataset_id=run.dataset_id)
    if run.tuning_run_id is None:
        return profile, default_roles(profile)
    tuning_run = session.get(TuningRun, run.tuning_run_id)
    return profile, tuning_run.column_roles if tuning_run is not None else default_roles(profile)


def execute_training(*, engine: Engine, training_run_id: uuid.UUID) -> RunStatus | None:
    """Fit on the training rows, evaluate on the test rows (the tuning run's, else a seeded
    20 %), store the evaluation and the skops file of the model evaluated."""
    with session_scope(engine) as session:
        run = session.get(TrainingRun, training_run_id)
        if run is None or run.status in FINISHED:
            return run.status if run else None
        run.status, run.started_at = RunStatus.PROGRESS, utcnow()
        session.commit()
        try:
            table = load_table(session=session, dataset_id=run.dataset_id)
            profile, roles = _columns(session, run)
            tuned = _tuning_run(session, run)
            trained = train_model(
                run.estimator,
                run.params,
                table,
                scoring=run.scoring,
                pos_label=tuned.pos_label if tuned else None,
                random_state=run.random_state,
                profile=profile,
                roles=roles,
                held_out=tuned.held_out if tuned else None,
            )
            file = dump_model(trained.model)
        except Exception as exc:
            log.exception("training run %s failed", training_run_id)
            finish(
                session=session,
                kind=TrainingRun,
                run_id=run.id,
                status=RunStatus.FAILURE,
                error_type=type(exc).__name__,
                error_message=str(exc)[:2000] or repr(exc),
            )
            return RunStatus.FAILURE
        model = Model(
            owner_id=run.owner_id,
            training_run_id=run.id,
            estimator=run.estimator,
            size_bytes=len(file),
            threshold=trained.threshold,
        )
        session.add(model)
        session.flush()  # the row its file refers to, first; both commit with the finish
        session.add(ModelFile(model_id=model.id, file=file))
        session.flush()
        finish(
            session=session,
            kind=TrainingRun,
            run_id=run.id,
            status=RunStatus.SUCCESS,
            model_id=model.id,
            metrics=trained.metrics,
            evaluation=trained.evaluation,
            training_time=trained.training_time,
        )
        return RunStatus.SUCCESS
