"""Tuning runs: submit, read, list and cancel."""

import secrets
import uuid
from typing import Any

from sqlmodel import Session, col, select

from tuning.config import Settings
from tuning.errors import Forbidden, InvalidInput, NotFound
from tuning.ml import catalog
from tuning.ml.search import DEFAULT_SCORING, SearchSpace, n_candidates, validate_scoring
from tuning.models import Dataset, RunStatus, Trial, TuningRun, User
from tuning.schemas import RunPublic, TuningRunCreate
from tuning.service.lifecycle import estimator_and_dataset, finish, store_and_enqueue
from tuning.service.queue import TaskQueue


def parse_run_id(value: str | uuid.UUID, *, field: str = "tuning_run_id") -> uuid.UUID:
    """An id from text; InvalidInput (the spec's "Invalid UUID") when it is not a UUID."""
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise InvalidInput(field, f"'{value}' is not a valid UUID") from None


def get_run(*, session: Session, run_id: str | uuid.UUID, viewer: User | None = None) -> TuningRun:
    """The run, if it exists and `viewer` (when given) may see it."""
    run = session.get(TuningRun, parse_run_id(run_id))
    if run is None:
        raise NotFound(f"no tuning run with id {run_id}")
    if viewer is not None and not viewer.is_admin and run.owner_id != viewer.id:
        raise Forbidden(f"tuning run {run_id} belongs to another user")
    return run


def validate_run(*, session: Session, settings: Settings, run_in: TuningRunCreate) -> TuningRun:
    """Check a submission against the catalog, the dataset and the limits; store nothing."""
    spec, dataset = estimator_and_dataset(
        session=session, estimator=run_in.estimator, dataset=run_in.dataset
    )
    catalog.validate_param_grid(spec.name, run_in.param_grid)
    scoring = run_in.scoring or DEFAULT_SCORING[dataset.task]
    validate_scoring(scoring, dataset.task)
    _check_cv(run_in.cv, dataset, settings)
    space = _search_space(run_in)
    total = n_candidates(space)
    if total > settings.max_candidates:
        raise InvalidInput(
            "param_grid", f"{total:,} candidates; the limit is {settings.max_candidates:,}"
        )
    return TuningRun(
        dataset_id=dataset.id,
        estimator=spec.name,
        search=space.search,
        param_grid=space.param_grid,
        n_iter=space.n_iter,
        random_state=space.random_state,
        cv=run_in.cv,
        scoring=scoring,
        progress_total=total,
        total_combinations=total,
        owner_id=0,
    )


def _check_cv(cv: Any, dataset: Dataset, settings: Settings) -> None:
    if isinstance(cv, bool) or not isinstance(cv, int):
        raise InvalidInput("cv", "give the number of folds as a whole number")
    if not 2 <= cv <= settings.max_cv_folds:
        raise InvalidInput("cv", f"{cv} folds; choose between 2 and {settings.max_cv_folds}")
    if cv > dataset.n_rows:
        raise InvalidInput(
            "cv", f"{cv} folds but dataset '{dataset.name}' has {dataset.n_rows} rows"
        )


def _search_space(run_in: TuningRunCreate) -> SearchSpace:
    if run_in.search == "grid":
        return SearchSpace(param_grid=run_in.param_grid, random_state=run_in.random_state)
    if run_in.n_iter is None or run_in.n_iter < 1:
        raise InvalidInput("n_iter", "a random search needs n_iter, a number of candidates >= 1")
    # A seed fixed now keeps the candidates the same if the run is delivered twice.
    seed = run_in.random_state if run_in.random_state is not None else secrets.randbelow(2**31)
    return SearchSpace(run_in.param_grid, search="random", n_iter=run_in.n_iter, random_state=seed)


def submit_run(
    *, session: Session, queue: TaskQueue, settings: Settings, owner: User, run_in: TuningRunCreate
) -> TuningRun:
    """Validate, store the run as PENDING, then enqueue it (commit before enqueue)."""
    run = validate_run(session=session, settings=settings, run_in=run_in)
    run.owner_id = owner.id  # type: ignore[assignment]
    return store_and_enqueue(
        session=session,
        run=run,
        enqueue=lambda run_id, task_id: queue.enqueue_tuning(run_id, task_id=task_id),
    )


def cancel_run(
    *, session: Session, queue: TaskQueue, run_id: str | uuid.UUID, viewer: User | None = None
) -> TuningRun:
    """REVOKED: a queued run never starts; a running one stops at its next candidate."""
    run = get_run(session=session, run_id=run_id, viewer=viewer)
    cancelled = finish(session=session, kind=TuningRun, run_id=run.id, status=RunStatus.REVOKED)
    if cancelled and run.task_id:
        queue.revoke(run.task_id)
    session.refresh(run)
    return run


def list_runs(
    *,
    session: Session,
    viewer: User,
    status: RunStatus | None = None,
    estimator: str | None = None,
    dataset: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[RunPublic]:
    """The viewer's runs (an admin's: everyone's), newest first, with dataset names: one query."""
    query = select(TuningRun, Dataset.name).join(Dataset, col(Dataset.id) == TuningRun.dataset_id)
    if not viewer.is_admin:
        query = query.where(TuningRun.owner_id == viewer.id)
    if status is not None:
        query = query.where(TuningRun.status == status)
    if estimator is not None:
        query = query.where(TuningRun.estimator == estimator)
    if dataset is not None:
        query = query.where(Dataset.name == dataset)
    query = query.order_by(col(TuningRun.created_at).desc()).offset(offset).limit(limit)
    return [run_public(run, name) for run, name in session.exec(query).all()]


def run_public(run: TuningRun, dataset_name: str) -> RunPublic:
    return RunPublic.model_validate({**run.model_dump(), "dataset": dataset_name})


def list_trials(*, session: Session, run_id: uuid.UUID, after_index: int = -1) -> list[Trial]:
    """The run's stored trials in candidate order; `after_index` fetches only newer ones."""
    query = (
        select(Trial)
        .where(Trial.run_id == run_id, Trial.index > after_index)
        .order_by(col(Trial.index))
    )
    return list(session.exec(query).all())
