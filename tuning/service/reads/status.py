"""The spec's status: live from the task queue while a run is active, else from its row."""

import uuid
from dataclasses import dataclass

from sqlalchemy import Uuid, bindparam
from sqlmodel import Session, col, select

from tuning.config import Settings
from tuning.domain import FINISHED, RunStatus
from tuning.errors import InvalidInput, NotFound, Unauthenticated
from tuning.models import TrainingRun, TuningRun, User
from tuning.schemas import (
    ErrorInfo,
    Progress,
    TrainingResult,
    TrainingStatus,
    TuningResult,
    TuningStatus,
    testing_message,
)
from tuning.service.accounts.access import Action, may_see, parse_id, require_run
from tuning.service.accounts.users import authenticate, hash_token
from tuning.service.execution.queue import TaskQueue, TaskState
from tuning.service.operations.storage import stalled_reason
from tuning.service.reads.queue import queue_places
from tuning.service.reads.runs import STATE_COLUMNS, RunState, get_run_state

# The hottest read of the product, built once: plain columns (no ORM object), the viewer and
# the run in one indexed query. Building the statement each time cost more than running it.
_POLL_QUERY = (
    select(col(User.id).label("viewer_id"), col(User.is_admin), *STATE_COLUMNS)
    .outerjoin(TuningRun, col(TuningRun.id) == bindparam("run_id", type_=Uuid()))
    .where(User.token_hash == bindparam("token_hash"))
)

# Celery's states that the spec does not have, mapped onto its five.
_CELERY_TO_SPEC = {"STARTED": RunStatus.PROGRESS, "RETRY": RunStatus.PENDING}


@dataclass
class Live:
    """What the task queue says over the row: status, progress and error."""

    status: RunStatus
    progress: Progress | None = None
    error: ErrorInfo | None = None


def get_status(
    *,
    session: Session,
    queue: TaskQueue,
    run_id: str | uuid.UUID,
    viewer: User | None = None,
    settings: Settings | None = None,
) -> TuningStatus:
    """One primary-key read; one Redis read (within the queue's budget) while the run is active.
    With `settings`, a PENDING run's place in the queue too (a read of the chunks out)."""
    state = get_run_state(session=session, run_id=run_id, viewer=viewer)
    return _placed(session, settings, queue, status_of_run(run=state, queue=queue))


def _placed(
    session: Session, settings: Settings | None, queue: TaskQueue, status: TuningStatus
) -> TuningStatus:
    """With `settings`: a PENDING run's place in the queue, and why an active run is stalled
    (in `stalled` and, for the spec's clients, its progress message)."""
    if settings is None or status.status.is_finished:
        return status
    if status.status is RunStatus.PENDING:
        places = queue_places(session=session, settings=settings)
        status.queue = places.get(uuid.UUID(status.tuning_run_id))
    status.stalled = stalled_reason(settings=settings, queue=queue)
    if status.stalled and status.progress is not None:
        status.progress.status = f"stalled: {status.stalled}"
    return status


def get_status_for_token(
    *,
    session: Session,
    queue: TaskQueue,
    run_id: str | uuid.UUID,
    token: str,
    settings: Settings | None = None,
) -> TuningStatus:
    """The polling path: the token's user and the run in one indexed read, then get_status's.

    Many clients poll; this keeps each poll to one database read and at most one Redis read.
    """
    try:
        key = parse_id(run_id, field="tuning_run_id")
    except InvalidInput:  # who is asking comes first: a stranger learns nothing of ids
        if authenticate(session=session, token=token) is None:
            raise Unauthenticated("unknown or revoked token") from None
        raise
    # On the session's connection, past the ORM's statement handling: rows in, rows out.
    row = (
        session.connection()
        .execute(_POLL_QUERY, {"run_id": key, "token_hash": hash_token(token)})
        .first()
    )
    if row is None:
        raise Unauthenticated("unknown or revoked token")
    if row.id is None:
        raise NotFound(f"no tuning run with id {run_id}")
    state = RunState(*row[2:])
    if not may_see(viewer_id=row.viewer_id, viewer_is_admin=row.is_admin, owner_id=row.owner_id):
        # Another user's run: shared with this one? A second read, for those polls only.
        viewer = session.get(User, row.viewer_id)
        if viewer is None:  # the token's user went between the two reads
            raise Unauthenticated("unknown or revoked token")
        require_run(session, state, viewer=viewer, action=Action.READ, key=run_id)
    return _placed(session, settings, queue, status_of_run(run=state, queue=queue))


def status_of_run(*, run: RunState, queue: TaskQueue) -> TuningStatus:
    """The status of a run's state."""
    live = live_state(run, queue)
    if live is not None:
        return TuningStatus(tuning_run_id=str(run.id), task_id=run.task_id, **vars(live))
    status = TuningStatus(tuning_run_id=str(run.id), task_id=run.task_id, status=run.status)
    if run.status in (RunStatus.PROGRESS, RunStatus.REVOKED):
        message = run.progress_message or testing_message(run.progress_current, run.progress_total)
        status.progress = Progress.of(run.progress_current, run.progress_total, message)
    if run.status is RunStatus.SUCCESS or (
        run.status is RunStatus.REVOKED and run.best_params is not None
    ):
        # A cancelled run's best is the best of what it stored, and says how many that was.
        tried = run.progress_current if run.status is RunStatus.REVOKED else None
        status.result = TuningResult(
            best_params=run.best_params or {},
            best_score=run.best_score if run.best_score is not None else float("nan"),
            total_combinations=run.total_combinations,
            tuning_time=run.tuning_time or 0.0,
            combinations_tried=tried,
        )
    status.error = error_of(run)
    return status


def status_of_training(*, run: TrainingRun, queue: TaskQueue) -> TrainingStatus:
    """The status of a training run, in the same shape."""
    live = live_state(run, queue)
    if live is not None:
        return TrainingStatus(training_run_id=str(run.id), task_id=run.task_id, **vars(live))
    status = TrainingStatus(training_run_id=str(run.id), task_id=run.task_id, status=run.status)
    if run.status is RunStatus.PROGRESS:
        status.progress = Progress.of(0, 1, f"Training {run.estimator}...")
    elif run.status is RunStatus.SUCCESS:
        status.result = TrainingResult(
            model_id=str(run.model_id),
            metrics=run.metrics or {},
            training_time=run.training_time or 0.0,
            trial_index=run.trial_index,
            evaluation=run.evaluation,
        )
    status.error = error_of(run)
    return status


def error_of(run: RunState | TrainingRun) -> ErrorInfo | None:
    if run.status is not RunStatus.FAILURE:
        return None
    return ErrorInfo(type=run.error_type or "Error", message=run.error_message or "the run failed")


def live_state(run: RunState | TrainingRun, queue: TaskQueue) -> Live | None:
    """The queue's view of an active run; None where the row knows as much or more."""
    if run.status in FINISHED or not run.task_id:
        return None  # the row is final: no Redis read at all
    task = queue.task_state(run.task_id)
    return None if task is None else live_from_task(run.status, task)


def live_from_task(row_status: RunStatus, task: TaskState) -> Live | None:
    if task.state == "PROGRESS" and task.meta:
        return Live(RunStatus.PROGRESS, progress=Progress.model_validate(task.meta))
    if task.state == "FAILURE":
        error = ErrorInfo(
            type=task.error_type or "Error", message=task.error_message or "the task failed"
        )
        return Live(RunStatus.FAILURE, error=error)
    if task.state == "REVOKED":
        return Live(RunStatus.REVOKED)
    mapped = _CELERY_TO_SPEC.get(task.state)
    if mapped is RunStatus.PROGRESS and row_status is RunStatus.PENDING:
        return Live(RunStatus.PROGRESS, progress=Progress.of(0, 1, "Starting..."))
    if mapped is RunStatus.PENDING:
        return Live(RunStatus.PENDING)
    # PENDING is also what Celery says of a task it has never heard of, so the row decides.
    return None
