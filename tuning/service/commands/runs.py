"""Tuning runs: check a submission, submit it, cancel it."""

import uuid
from collections.abc import Callable
from typing import Any

from sqlmodel import Session

from tuning.config import Settings
from tuning.domain import RunStatus
from tuning.errors import Forbidden, InvalidInput, NotFound, shown
from tuning.ml import catalog
from tuning.ml.checks import check_folds, resolve_pos_label
from tuning.ml.columns import n_groups, resolve_roles
from tuning.ml.holdout import check_test_size, n_test_rows
from tuning.ml.scoring import DEFAULT_SCORING, validate_scoring
from tuning.models import Dataset, TuningRun, User
from tuning.schemas import TuningRunCreate
from tuning.service.accounts.access import Action, parse_id, require_run
from tuning.service.accounts.quotas import check_active_runs, check_fits
from tuning.service.commands.idempotency import Answer, KeyedRequest, answer_once
from tuning.service.commands.labels import clean_name, clean_tags, set_tags
from tuning.service.commands.scorers import check_scorer
from tuning.service.data.datasets import dataset_classes, dataset_profile
from tuning.service.execution.endings import settle_cancelled
from tuning.service.execution.lifecycle import estimator_and_dataset, finish, store_and_enqueue
from tuning.service.execution.queue import TaskQueue
from tuning.service.operations.storage import require_writable
from tuning.service.reads.runs import get_run
from tuning.service.searches import strategy_for
from tuning.service.searches.base import check_total


def validate_run(
    *, session: Session, settings: Settings, run_in: TuningRunCreate, viewer: User
) -> TuningRun:
    """Check a submission against the catalog, the dataset and the limits; store nothing.

    Cheap checks first and every one linear in the input, so that a large or hostile body is
    refused quickly: sizes, then values, then what the dataset's labels allow.
    """
    spec, dataset = estimator_and_dataset(
        session=session, estimator=run_in.estimator, dataset=run_in.dataset, viewer=viewer
    )
    search = strategy_for(run_in.search)
    search.check_size(run_in, settings)
    catalog.validate_param_grid(spec.name, run_in.param_grid)
    scoring = run_in.scoring or DEFAULT_SCORING[dataset.task]
    validate_scoring(scoring, dataset.task)
    _check_cv(run_in.cv, settings)
    classes = dataset_classes(session=session, dataset=dataset)
    check_folds(run_in.cv, task=dataset.task, n_rows=dataset.n_rows, classes=classes)
    profile = dataset_profile(session=session, dataset=dataset)
    roles = _column_roles(profile, dataset, run_in)
    check_test_size(
        run_in.test_size,
        cv=run_in.cv,
        n_rows=dataset.n_rows,
        classes=classes,
        n_groups=n_groups(profile, roles),
        by_time=roles["time"] is not None,
    )
    n_tuning = dataset.n_rows - n_test_rows(run_in.test_size, dataset.n_rows)
    pos_label = resolve_pos_label(run_in.pos_label, task=dataset.task, classes=classes)
    check_scorer(
        scoring,
        task=dataset.task,
        classes=classes,
        pos_label=pos_label,
        estimator=spec.name,
        param_grid=run_in.param_grid,
    )
    space = search.space(run_in, spec.name, settings)
    n_classes = len(classes) if classes else None
    resolved = search.resolve(run_in, space, n_rows=n_tuning, n_classes=n_classes)
    check_total(resolved.total, settings)
    search.check_options(run_in)
    parent_id = _parent_id(session, run_in.parent_run_id, viewer)
    name, tags = clean_name(run_in.name), clean_tags(run_in.tags)
    run = TuningRun(
        dataset_id=dataset.id,
        estimator=spec.name,
        search=run_in.search,
        param_grid=run_in.param_grid,
        halving=resolved.halving,
        stop_after_no_improvement=run_in.stop_after_no_improvement,
        time_budget_s=run_in.time_budget_s,
        return_train_score=run_in.return_train_score,
        n_iter=resolved.n_iter,
        random_state=resolved.random_state,
        cv=run_in.cv,
        scoring=scoring,
        column_roles=roles,
        pos_label=pos_label,
        test_size=run_in.test_size,
        progress_total=resolved.total,
        total_combinations=resolved.total,
        owner_id=0,
        parent_id=parent_id,
        name=name,
        tags=tags or None,
    )
    fits = search.full_data_fits(run, n_rows=dataset.n_rows)
    check_fits(settings=settings, user=viewer, run=run, fits=fits)
    return run


def _column_roles(
    profile: dict[str, Any], dataset: Dataset, run_in: TuningRunCreate
) -> dict[str, Any]:
    """The run's column roles, checked against the dataset's profile and its folds."""
    requested = run_in.columns.model_dump() if run_in.columns is not None else None
    roles = resolve_roles(profile, requested)
    groups = n_groups(profile, roles)
    if groups is not None and groups < run_in.cv:
        raise InvalidInput(
            "cv",
            f"{run_in.cv} folds, but the group column {shown(roles['group'])} has only "
            f"{groups} groups: each fold needs a group of its own; choose at most {groups} folds",
        )
    if roles["time"] is not None and run_in.cv >= dataset.n_rows:
        raise InvalidInput("cv", f"{run_in.cv} folds, but the dataset has {dataset.n_rows} rows")
    return roles


def _parent_id(session: Session, parent_run_id: str | None, viewer: User) -> uuid.UUID | None:
    """The run a submission refines: one the viewer may read; any other reads as unknown."""
    if parent_run_id is None:
        return None
    key = parse_id(parent_run_id, field="parent_run_id")
    try:
        parent = require_run(
            session, session.get(TuningRun, key), viewer=viewer, action=Action.READ, key=key
        )
    except (Forbidden, NotFound):
        raise InvalidInput("parent_run_id", f"no tuning run with id {key}") from None
    return parent.id


def _check_cv(cv: int, settings: Settings) -> None:
    if not 2 <= cv <= settings.max_cv_folds:
        raise InvalidInput("cv", f"{cv:,} folds; choose between 2 and {settings.max_cv_folds}")


def submit_run(
    *, session: Session, queue: TaskQueue, settings: Settings, owner: User, run_in: TuningRunCreate
) -> TuningRun:
    """Validate, store the run as PENDING, then enqueue it (commit before enqueue); within
    the owner's quotas, counted and stored in one transaction."""
    run = validate_run(session=session, settings=settings, run_in=run_in, viewer=owner)
    require_writable(settings=settings)  # a full disk may still take this row, not its trials
    assert owner.id is not None, "a stored user"
    run.owner_id = owner.id
    check_active_runs(session=session, settings=settings, user=owner, hold=True)
    set_tags(session, run, run.tags or [])  # in the run's transaction
    return store_and_enqueue(session=session, run=run, queue=queue)


def submit_run_once(
    *,
    session: Session,
    queue: TaskQueue,
    settings: Settings,
    owner: User,
    run_in: TuningRunCreate,
    request: KeyedRequest | None,
    answer: Callable[[TuningRun], Answer],
) -> Answer:
    """`submit_run` once per idempotency key (`answer_once`): the transport's `answer` of the
    stored run, or the first answer again for a request sent before."""
    return answer_once(
        session=session,
        user=owner,
        request=request,
        act=lambda: submit_run(
            session=session, queue=queue, settings=settings, owner=owner, run_in=run_in
        ),
        answer=answer,
        creates=TuningRun,
    )


def cancel_run(
    *, session: Session, queue: TaskQueue, run_id: str | uuid.UUID, viewer: User | None = None
) -> TuningRun:
    """REVOKED: a queued run never starts; a running one stops at its next candidate, and
    keeps the best of what it stored. A cancel too late to stop anything (every candidate is
    stored) leaves the run SUCCESS with its best."""
    run = get_run(session=session, run_id=run_id, viewer=viewer, to=Action.CANCEL)
    cancelled = finish(session=session, kind=TuningRun, run_id=run.id, status=RunStatus.REVOKED)
    revoked = cancelled and settle_cancelled(session=session, run=run) is RunStatus.REVOKED
    if revoked and run.task_id:
        queue.revoke(run.task_id)
    session.refresh(run)
    return run


# --- Reading runs ---------------------------------------------------------------------------
