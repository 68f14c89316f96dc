"""The one service layer: plain typed functions that every transport calls."""

from tuning.service.datasets import get_dataset, list_datasets, load_table, upload_dataset
from tuning.service.execution import execute_run
from tuning.service.queue import TaskQueue, TaskState
from tuning.service.runs import (
    cancel_run,
    get_run,
    list_runs,
    list_trials,
    parse_run_id,
    submit_run,
    validate_run,
)
from tuning.service.status import get_status
from tuning.service.users import authenticate, create_user, ensure_local_admin, get_user

__all__ = [
    "TaskQueue",
    "TaskState",
    "authenticate",
    "cancel_run",
    "create_user",
    "ensure_local_admin",
    "execute_run",
    "get_dataset",
    "get_run",
    "get_status",
    "get_user",
    "list_datasets",
    "list_runs",
    "list_trials",
    "load_table",
    "parse_run_id",
    "submit_run",
    "upload_dataset",
    "validate_run",
]
