"""The one service layer: plain typed functions that every transport calls.

Pages, routes, tasks and commands import from here, never from a module below.
"""

from tuning.ml.baseline import beside_baseline
from tuning.ml.catalog import catalog_as_dict
from tuning.ml.scorer_choices import ScorerChoice, TargetKind, scorers_by_target
from tuning.ml.scoring import DEFAULT_SCORING, scorers_for
from tuning.ml.snippet import reproduce_snippet
from tuning.service.accounts.access import may_see, parse_id
from tuning.service.accounts.quotas import (
    NOTE_LIMIT,
    Quotas,
    Usage,
    check_upload_bytes,
    user_quotas,
)
from tuning.service.accounts.users import (
    authenticate,
    browser_session_user,
    create_user,
    end_browser_session,
    ensure_local_admin,
    get_user,
    rotate_token,
    start_browser_session,
)
from tuning.service.analysis.failures import (
    FailedValue,
    FailureGroup,
    failure_groups,
    grid_without_failures,
    nothing_scored,
)
from tuning.service.analysis.scores import (
    MANY_VALUES,
    SimplestPick,
    best_so_far,
    best_so_far_steps,
    eta_seconds,
    gap_by_value,
    parameter_importance,
    score_by_bin,
    score_by_value,
    score_table,
    shared_params,
    simplest_within_one_se,
    train_vs_validation,
    value_label,
)
from tuning.service.commands.deletion import delete_run
from tuning.service.commands.labels import RUN_NAME_LIMIT, TAGS_PER_RUN, change_run
from tuning.service.commands.notes import Note, add_note, list_notes
from tuning.service.commands.planning import DurationEstimate, RunPlan, check_submission, plan_run
from tuning.service.commands.refine import (
    REFINED_CANDIDATES,
    RefinedGrid,
    refine_grid,
    refine_trials,
    run_children,
    run_like,
    run_parent,
)
from tuning.service.commands.runs import cancel_run, submit_run, validate_run
from tuning.service.commands.scorers import ScorerChoices, scorer_choices
from tuning.service.data.datasets import (
    NAME_LIMIT,
    CsvPreview,
    DatasetSummary,
    csv_columns,
    dataset_profile,
    dataset_profile_by_id,
    get_dataset,
    get_dataset_by_id,
    list_datasets,
    load_table,
    preview_csv,
    upload_dataset,
)
from tuning.service.data.files import dataset_bytes, model_bytes
from tuning.service.data.removal import archive_dataset, delete_dataset
from tuning.service.execution.evaluate import execute_chunk
from tuning.service.execution.queue import TaskQueue, TaskState
from tuning.service.operations.health import check_health
from tuning.service.operations.reconcile import Reconciled, reconcile
from tuning.service.operations.workers import LiveWorker, beat, live_workers, take_lease
from tuning.service.reads.queue import queue_places
from tuning.service.reads.runs import (
    PAGE_SIZE,
    Page,
    RunFilterOptions,
    RunSummary,
    get_run_summary,
    list_runs,
    run_filter_options,
)
from tuning.service.reads.status import (
    get_status,
    get_status_for_token,
    status_of_training,
)
from tuning.service.reads.trials import (
    SCORE,
    RunTrials,
    TrialRecord,
    get_results,
    list_trials,
    param_column,
    ranks,
    run_trials,
    split_columns,
    trial_ranks,
    trial_rows,
    trials_csv,
    trials_frame,
)
from tuning.service.reads.workers import WorkersOverview, workers_overview
from tuning.service.searches import STRATEGIES, Strategy, strategy_for
from tuning.service.training.archive import archive_model, change_model
from tuning.service.training.final_model import (
    execute_training,
    get_model,
    get_training_run,
    get_training_status,
    list_training_runs,
    submit_training,
)
from tuning.service.training.predictions import Predictions, predict_with_model
from tuning.service.training.thresholds import read_model, set_model_threshold

__all__ = [
    "DEFAULT_SCORING",
    "MANY_VALUES",
    "NAME_LIMIT",
    "NOTE_LIMIT",
    "PAGE_SIZE",
    "REFINED_CANDIDATES",
    "RUN_NAME_LIMIT",
    "SCORE",
    "STRATEGIES",
    "TAGS_PER_RUN",
    "CsvPreview",
    "DatasetSummary",
    "DurationEstimate",
    "FailedValue",
    "FailureGroup",
    "LiveWorker",
    "Note",
    "Page",
    "Predictions",
    "Quotas",
    "Reconciled",
    "RefinedGrid",
    "RunFilterOptions",
    "RunPlan",
    "RunSummary",
    "RunTrials",
    "ScorerChoice",
    "ScorerChoices",
    "SimplestPick",
    "Strategy",
    "TargetKind",
    "TaskQueue",
    "TaskState",
    "TrialRecord",
    "Usage",
    "WorkersOverview",
    "add_note",
    "archive_dataset",
    "archive_model",
    "authenticate",
    "beat",
    "beside_baseline",
    "best_so_far",
    "best_so_far_steps",
    "browser_session_user",
    "cancel_run",
    "catalog_as_dict",
    "change_model",
    "change_run",
    "check_health",
    "check_submission",
    "check_upload_bytes",
    "create_user",
    "csv_columns",
    "dataset_bytes",
    "dataset_profile",
    "dataset_profile_by_id",
    "delete_dataset",
    "delete_run",
    "end_browser_session",
    "ensure_local_admin",
    "eta_seconds",
    "execute_chunk",
    "execute_training",
    "failure_groups",
    "gap_by_value",
    "get_dataset",
    "get_dataset_by_id",
    "get_model",
    "get_results",
    "get_run_summary",
    "get_status",
    "get_status_for_token",
    "get_training_run",
    "get_training_status",
    "get_user",
    "grid_without_failures",
    "list_datasets",
    "list_notes",
    "list_runs",
    "list_training_runs",
    "list_trials",
    "live_workers",
    "load_table",
    "may_see",
    "model_bytes",
    "nothing_scored",
    "param_column",
    "parameter_importance",
    "parse_id",
    "plan_run",
    "predict_with_model",
    "preview_csv",
    "queue_places",
    "ranks",
    "read_model",
    "reconcile",
    "refine_grid",
    "refine_trials",
    "reproduce_snippet",
    "rotate_token",
    "run_children",
    "run_filter_options",
    "run_like",
    "run_parent",
    "run_trials",
    "score_by_bin",
    "score_by_value",
    "score_table",
    "scorer_choices",
    "scorers_by_target",
    "scorers_for",
    "set_model_threshold",
    "shared_params",
    "simplest_within_one_se",
    "split_columns",
    "start_browser_session",
    "status_of_training",
    "strategy_for",
    "submit_run",
    "submit_training",
    "take_lease",
    "train_vs_validation",
    "trial_ranks",
    "trial_rows",
    "trials_csv",
    "trials_frame",
    "upload_dataset",
    "user_quotas",
    "validate_run",
    "value_label",
    "workers_overview",
]
