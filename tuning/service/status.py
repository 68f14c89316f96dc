"""The spec's status: live from the task queue while a run is active, else from its row."""

import uuid

from sqlmodel import Session

from tuning.models import FINISHED, RunStatus, TuningRun
from tuning.schemas import (
    ErrorInfo,
    Progress,
    TuningResult,
    TuningStatus,
    progress_of,
    testing_message,
)
from tuning.service.queue import TaskQueue, TaskState
from tuning.service.runs import get_run

# Celery's states that the spec does not have, mapped onto its five.
_CELERY_TO_SPEC = {"STARTED": RunStatus.PROGRESS, "RETRY": RunStatus.PENDING}


def get_status(
    *, session: Session, queue: TaskQueue, run_id: str | uuid.UUID, viewer=None
) -> TuningStatus:
    """One indexed read; one Redis read (bounded by the queue's time budget) for an active run."""
    run = get_run(session=session, run_id=run_id, viewer=viewer)
    if run.status not in FINISHED and run.task_id:
        state = queue.task_state(run.task_id)
        if state is not None:
            live = status_from_task(run, state)
            if live is not None:
                return live
    return status_from_row(run)


def status_from_row(run: TuningRun) -> TuningStatus:
    """The status as the database has it: the fallback, and the truth for finished runs."""
    status = TuningStatus(tuning_run_id=str(run.id), task_id=run.task_id, status=run.status)
    if run.status is RunStatus.PROGRESS or run.status is RunStatus.REVOKED:
        status.progress = progress_of(
            run.progress_current,
            run.progress_total,
            run.progress_message or testing_message(run.progress_current, run.progress_total),
        )
    elif run.status is RunStatus.SUCCESS:
        status.result = TuningResult(
            best_params=run.best_params or {},
            best_score=run.best_score if run.best_score is not None else float("nan"),
            total_combinations=run.total_combinations,
            tuning_time=run.tuning_time or 0.0,
        )
    elif run.status is RunStatus.FAILURE:
        status.error = ErrorInfo(
            type=run.error_type or "Error", message=run.error_message or "the run failed"
        )
    return status


def status_from_task(run: TuningRun, task: TaskState) -> TuningStatus | None:
    """The live status, or None where the row knows more (task unknown, expired or done)."""
    base = TuningStatus(tuning_run_id=str(run.id), task_id=run.task_id, status=run.status)
    if task.state == "PROGRESS" and task.meta:
        base.status = RunStatus.PROGRESS
        base.progress = Progress.model_validate(task.meta)
        return base
    if task.state == "FAILURE":
        base.status = RunStatus.FAILURE
        base.error = ErrorInfo(
            type=task.error_type or "Error", message=task.error_message or "the task failed"
        )
        return base
    if task.state == "REVOKED":
        base.status = RunStatus.REVOKED
        return base
    mapped = _CELERY_TO_SPEC.get(task.state)
    if mapped is RunStatus.PROGRESS and run.status is RunStatus.PENDING:
        base.status = RunStatus.PROGRESS
        base.progress = progress_of(0, run.progress_total, "Starting...")
        return base
    # PENDING is also what Celery says of a task it has never heard of, so the row decides.
    return None
