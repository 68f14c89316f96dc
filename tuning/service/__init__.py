"""The one service layer: plain typed functions that every transport calls.

Pages, routes, tasks and commands import from here, never from a module below.
"""

from tuning.ml.catalog import catalog_as_dict
from tuning.ml.search import DEFAULT_SCORING, scorers_for
from tuning.ml.snippet import reproduce_snippet
from tuning.service.access import may_see, parse_id
from tuning.service.analysis import (
    best_so_far,
    eta_seconds,
    parameter_importance,
    score_by_value,
    score_table,
    shared_params,
    value_label,
)
from tuning.service.datasets import (
    NAME_LIMIT,
    CsvPreview,
    DatasetChoice,
    csv_columns,
    dataset_choices,
    get_dataset,
    get_dataset_by_id,
    list_datasets,
    load_table,
    preview_csv,
    upload_dataset,
)
from tuning.service.execution import execute_chunk
from tuning.service.health import check_health
from tuning.service.planning import DurationEstimate, RunPlan, check_submission, plan_run
from tuning.service.queue import TaskQueue, TaskState
from tuning.service.reconcile import Reconciled, reconcile
from tuning.service.runs import (
    PAGE_SIZE,
    Page,
    RunFilterOptions,
    RunSummary,
    cancel_run,
    get_run,
    get_run_summary,
    list_runs,
    run_filter_options,
    submit_run,
    validate_run,
)
from tuning.service.status import (
    get_status,
    get_status_for_token,
    status_of_run,
    status_of_training,
)
from tuning.service.training import (
    execute_training,
    get_model,
    get_training_run,
    get_training_status,
    list_training_runs,
    submit_training,
)
from tuning.service.trials import (
    SCORE,
    RunTrials,
    TrialRecord,
    get_results,
    list_trials,
    param_column,
    ranks,
    run_trials,
    split_columns,
    trials_csv,
    trials_frame,
)
from tuning.service.users import (
    authenticate,
    create_user,
    ensure_local_admin,
    get_user,
    rotate_token,
)

__all__ = [
    "DEFAULT_SCORING",
    "NAME_LIMIT",
    "PAGE_SIZE",
    "SCORE",
    "CsvPreview",
    "DatasetChoice",
    "DurationEstimate",
    "Page",
    "Reconciled",
    "RunFilterOptions",
    "RunPlan",
    "RunSummary",
    "RunTrials",
    "TaskQueue",
    "TaskState",
    "TrialRecord",
    "authenticate",
    "best_so_far",
    "cancel_run",
    "catalog_as_dict",
    "check_health",
    "check_submission",
    "create_user",
    "csv_columns",
    "dataset_choices",
    "ensure_local_admin",
    "eta_seconds",
    "execute_chunk",
    "execute_training",
    "get_dataset",
    "get_dataset_by_id",
    "get_model",
    "get_results",
    "get_run",
    "get_run_summary",
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
    "may_see",
    "param_column",
    "parameter_importance",
    "parse_id",
    "plan_run",
    "preview_csv",
    "ranks",
    "reconcile",
    "reproduce_snippet",
    "rotate_token",
    "run_filter_options",
    "run_trials",
    "score_by_value",
    "score_table",
    "scorers_for",
    "shared_params",
    "split_columns",
    "status_of_run",
    "status_of_training",
    "submit_run",
    "submit_training",
    "trials_csv",
    "trials_frame",
    "upload_dataset",
    "validate_run",
    "value_label",
]
