"""The one service layer: plain typed functions that every transport calls."""

from tuning.service.datasets import get_dataset, list_datasets, load_table, upload_dataset
from tuning.service.execution import execute_run
from tuning.service.health import check_health
from tuning.service.queue import TaskQueue, TaskState
from tuning.service.results import get_results, ranks, trials_csv
from tuning.service.runs import (
    cancel_run,
    get_run,
    list_runs,
    list_trials,
    parse_run_id,
    submit_run,
    validate_run,
)
from tuning.service.status import (
    get_status,
    get_status_for_token,
    training_status,
    tuning_status,
)
from tuning.service.training import (
    execute_training,
    get_model,
    get_training_run,
    get_training_status,
    list_training_runs,
    submit_training,
)
from tuning.service.users import (
    authenticate,
    create_user,
    ensure_local_admin,
    get_user,
    rotate_token,
)

__all__ = [
    "TaskQueue",
    "TaskState",
    "authenticate",
    "cancel_run",
    "check_health",
    "create_user",
    "ensure_local_admin",
    "execute_run",
    "execute_training",
    "get_dataset",
    "get_model",
    "get_results",
    "get_run",
    "get_status",
    "get_status_for_token",
    "get_training_run",
    "get_training_status",
    "get_user",
    "list_datasets",
    "list_runs",
    "list_training_runs",
    "list_trials",
    "load_table",
    "parse_run_id",
    "ranks",
    "rotate_token",
    "submit_run",
    "submit_training",
    "training_status",
    "trials_csv",
    "tuning_status",
    "upload_dataset",
    "validate_run",
]
