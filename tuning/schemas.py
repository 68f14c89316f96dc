"""Request and response shapes. TuningStatus is the spec's status response, field for field."""

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    model_serializer,
)

from tuning.domain import RunStatus, as_utc

# The searches a run can ask for.
SearchKind = Literal["grid", "random", "halving", "bayes"]

# Stored moments are UTC; SQLite hands them back naive, so they are marked UTC on the way out.
UtcDatetime = Annotated[datetime, AfterValidator(as_utc)]


class Progress(BaseModel):
    current: int
    total: int
    status: str
    percentage: float

    @classmethod
    def of(cls, current: int, total: int, message: str) -> "Progress":
        """Progress with its percentage computed, as the spec promises."""
        percentage = round(100 * current / total, 2) if total else 0.0
        return cls(current=current, total=total, status=message, percentage=percentage)


class TuningResult(BaseModel):
    best_params: dict[str, Any]
    best_score: float
    total_combinations: int
    tuning_time: float
    combinations_tried: int | None = Field(
        default=None,
        description="A cancelled run's: how many it stored before it stopped (its best is "
        "among those); not sent for other runs",
    )

    @model_serializer(mode="wrap")
    def _spec_fields(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """The spec's four fields; `combinations_tried` beside them only when there is one."""
        data: dict[str, Any] = handler(self)
        if self.combinations_tried is None:
            data.pop("combinations_tried", None)
        return data


class ErrorInfo(BaseModel):
    type: str
    message: str


class QueuePlace(BaseModel):
    """A queued run's place (fair turns): not in the spec, sent beside its fields."""

    position: int = Field(description="1 is the next run to start")
    runs_ahead: int = Field(description="Runs whose work is running or queued in front of it")
    expected_start_s: float = Field(description="Seconds until it starts, from chunk times")


class TuningStatus(BaseModel):
    """`GET /api/v1/tuning/tune/{tuning_run_id}/status` of docs/spec, exactly; a PENDING run
    adds `queue`, its place in the queue, and an active run that cannot store its work adds
    `stalled`, why (fields the spec's clients do not read)."""

    tuning_run_id: str
    task_id: str | None
    status: RunStatus
    progress: Progress | None = None
    result: TuningResult | None = None
    error: ErrorInfo | None = None
    queue: QueuePlace | None = None
    stalled: str | None = Field(
        default=None,
        description="Why an active run cannot store its work now (a full or read-only "
        "database, disk or Redis); it resumes by itself once that is fixed",
    )

    def to_json(self) -> str:
        """The spec's JSON: its six fields, and `queue` and `stalled` only when there is one."""
        extra = {name for name in ("queue", "stalled") if getattr(self, name) is None}
        return self.model_dump_json(exclude=extra or None)


class TrainingResult(BaseModel):
    model_id: str
    metrics: dict[str, float]
    training_time: float
    trial_index: int | None = Field(
        default=None, description="The tuning run's trial trained (null: its best, or none)"
    )
    evaluation: dict[str, Any] | None = Field(
        default=None, description="The model's evaluation on the test rows (see the README)"
    )


class TrainingStatus(BaseModel):
    """`GET /api/v1/models/train/{training_run_id}/status`: the tuning status's twin."""

    training_run_id: str
    task_id: str | None
    status: RunStatus
    progress: Progress | None = None
    result: TrainingResult | None = None
    error: ErrorInfo | None = None


# Whole numbers as JSON integers only (no true, 5.0 or "5"), within what scikit-learn accepts:
# a seed is a 32-bit unsigned integer (numpy's RandomState).
Count = Annotated[int, Field(strict=True, ge=1, le=2**31 - 1)]
Seed = Annotated[
    int, Field(strict=True, ge=0, le=2**32 - 1, description="Seed for sampling and estimators")
]
# Names of things: a dataset (or its id), an estimator, a scorer.
Name = Annotated[str, Field(min_length=1, max_length=200)]


class TrainingRunCreate(BaseModel):
    """Train on a tuning run's dataset with its best parameters, or on a chosen configuration."""

    tuning_run_id: str | None = Field(
        default=None, max_length=64, description="Use this run's best parameters"
    )
    dataset: Name | None = None
    estimator: Name | None = None
    params: dict[str, Any] | None = Field(default=None, description="Estimator parameters")
    trial: int | None = Field(
        default=None,
        strict=True,
        ge=0,
        le=2**31 - 1,
        description="Train this trial (its index) of the tuning run rather than its best",
    )
    scoring: Name | None = Field(default=None, description="Scorer for the held-out metric")
    random_state: Seed | None = None


class HalvingOptions(BaseModel):
    """Successive halving as scikit-learn's HalvingGridSearchCV / HalvingRandomSearchCV."""

    model_config = ConfigDict(extra="forbid")

    candidates: Literal["grid", "random"] = Field(
        default="grid",
        description="Every grid combination, or n_iter sampled ones (all the dataset allows "
        "without n_iter)",
    )
    factor: float = Field(
        default=3, gt=1, le=100, description="Keep 1/factor of the candidates at each rung"
    )
    min_resources: (
        Annotated[int, Field(strict=True, ge=1)] | Literal["exhaust", "smallest"] | None
    ) = Field(
        default=None,
        description='Samples in the first rung: a number, "exhaust" or "smallest" '
        '(default: "exhaust" for grid candidates, "smallest" for random ones)',
    )
    aggressive_elimination: bool = False


class ColumnRoles(BaseModel):
    """What each column of the dataset is for; every column not named here is a feature."""

    model_config = ConfigDict(extra="forbid")

    ignore: list[Annotated[str, Field(max_length=200)]] | None = Field(
        default=None,
        max_length=10_000,
        description="Columns left out of the features; omitted: the dataset profile's defaults "
        "(ID-like, constant and empty columns)",
    )
    group: str | None = Field(
        default=None,
        max_length=200,
        description="Rows sharing a value stay in one fold (GroupKFold / StratifiedGroupKFold)",
    )
    time: str | None = Field(
        default=None,
        max_length=200,
        description="Folds train on earlier rows and validate on later ones (TimeSeriesSplit)",
    )


# A class label as JSON carries it: text, a number or a boolean.
Label = Annotated[str, Field(max_length=200)] | int | float | bool


# A run's name and tags as sent; the service trims, lower-cases and checks them against the
# limits in tuning.service.commands.labels. These bounds only keep a hostile body small.
RunName = Annotated[str, Field(max_length=1000)]
RunTags = Annotated[list[Annotated[str, Field(max_length=1000)]], Field(max_length=100)]


class TuningRunCreate(BaseModel):
    """What a user submits to start a search; the service layer checks it against the catalog."""

    dataset: Name = Field(description="A bundled dataset (iris, ...), an uploaded one, or its id")
    estimator: Name = Field(description="A scikit-learn class name from the catalog")
    param_grid: dict[str, Any] = Field(
        description="Parameter name -> a list of values, or (random and Bayesian search) a "
        'range {"low": 0.001, "high": 10, "log": true}'
    )
    search: SearchKind = "grid"
    n_iter: Count | None = Field(default=None, description="Candidates to sample (random search)")
    cv: int = Field(
        default=5, strict=True, description="Number of CV folds (stratified for classifiers)"
    )
    scoring: Name | None = Field(default=None, description="A scikit-learn scorer name")
    random_state: Seed | None = None
    parent_run_id: str | None = Field(
        default=None, max_length=64, description="The run this one refines, if any"
    )
    halving: HalvingOptions | None = Field(default=None, description="Successive halving options")
    stop_after_no_improvement: Count | None = Field(
        default=None, description="End after this many candidates without a better score"
    )
    time_budget_s: float | None = Field(
        default=None, gt=0, le=7 * 24 * 3600, description="End after this many seconds"
    )
    return_train_score: bool = Field(
        default=True,
        description="Also score each fold's training rows, for the overfitting view; off is "
        "faster where predicting is costly (SVC: about half the time)",
    )
    columns: ColumnRoles | None = Field(
        default=None, description="Column roles; omitted: the dataset profile's defaults"
    )
    pos_label: Label | None = Field(
        default=None,
        description="The positive class of a two-class target, for f1, precision, recall and "
        "average_precision",
    )
    test_size: float = Field(
        default=0.0,
        ge=0,
        le=0.5,
        description="The share of rows kept out of tuning as a test set for the trained model "
        "(stratified for classes, by group or by time when those roles are set); 0: none",
    )
    name: RunName | None = Field(default=None, description="A name for the run (200 characters)")
    tags: RunTags | None = Field(
        default=None, description="Up to 20 tags, each 1 to 50 characters, kept lower-case"
    )


def testing_message(current: int, total: int, rung: tuple[int, int] | None = None) -> str:
    """The spec's progress message; a halving run's names its rung (1-based) out of all."""
    if rung is None:
        return f"Testing parameter combination {current}/{total}..."
    return f"Testing parameter combination {current}/{total} (rung {rung[0] + 1} of {rung[1]})..."


class RunPublic(BaseModel):
    """A tuning run's configuration and outcome, as listed and in its results."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    owner_id: int
    dataset: str
    estimator: str
    search: str
    param_grid: dict[str, Any]
    n_iter: int | None
    random_state: int | None
    cv: int
    scoring: str
    status: RunStatus
    task_id: str | None
    progress_current: int
    progress_total: int
    best_params: dict[str, Any] | None
    best_score: float | None
    total_combinations: int
    tuning_time: float | None
    error_type: str | None
    error_message: str | None
    created_at: UtcDatetime
    started_at: UtcDatetime | None
    finished_at: UtcDatetime | None
    parent_id: uuid.UUID | None = Field(default=None, description="The run this one refines")
    halving: dict[str, Any] | None = Field(
        default=None, description="Successive halving's options and schedule per rung"
    )
    stop_after_no_improvement: int | None = None
    time_budget_s: float | None = None
    stop_reason: str | None = Field(default=None, description="Why the run ended early, if it did")
    return_train_score: bool = True
    column_roles: dict[str, Any] | None = Field(
        default=None,
        description='The columns left out, grouping and ordering rows: {"ignore", "group", '
        '"time"}; null for runs stored before column roles',
    )
    pos_label: Label | None = Field(
        default=None, description="The positive class of a two-class target, if the run names one"
    )
    test_size: float = Field(
        default=0.0, description="The share of rows kept out of tuning as a test set; 0: none"
    )
    name: str | None = Field(default=None, description="The run's name, if it was given one")
    tags: list[str] = Field(default_factory=list, description="The run's tags, lower-case")
    archived_at: UtcDatetime | None = Field(
        default=None, description="When the run was archived (hidden from lists); null: it is not"
    )
    priority: int = Field(
        default=0, description="Fair turns: a higher priority's work goes first; set by admins"
    )


RUN_PRIORITIES = range(-10, 11)


class RunChange(BaseModel):
    """`PATCH` of a run: only the fields sent change. A null or empty name or tags clear them."""

    model_config = ConfigDict(extra="forbid")

    name: RunName | None = None
    tags: RunTags | None = None
    archived: bool | None = Field(
        default=None, description="true hides the run from lists; false restores it"
    )
    priority: int | None = Field(
        default=None,
        ge=RUN_PRIORITIES.start,
        le=RUN_PRIORITIES.stop - 1,
        description="Admins only: a higher priority's work goes to the workers first (0 for "
        "every run by default); runs of equal priority take fair turns",
    )


class ArchiveChange(BaseModel):
    """`PATCH` of a dataset or a model: archive it (hidden from lists) or restore it."""

    model_config = ConfigDict(extra="forbid")

    archived: bool


class TrialPublic(BaseModel):
    """One candidate: its row of the run's trials table, the CSV's columns under the same names,
    which are scikit-learn's cv_results_ keys. Besides the fields below, each row has
    param_<name> for each parameter, split<i>_test_score and split<i>_train_score for each
    split, and for successive halving iter (the rung, from 0) and n_resources (its samples)."""

    model_config = ConfigDict(extra="allow")

    trial: int = Field(description="The candidate's number in the run, from 0")
    rank_test_score: int | None = Field(
        description="1 is the best; ties share the lower rank; failed candidates rank last"
    )
    params: dict[str, Any]
    mean_test_score: float | None
    std_test_score: float | None
    mean_train_score: float | None = Field(description="null where train scores are not kept")
    std_train_score: float | None
    mean_fit_time: float
    mean_score_time: float
    error: str | None
    worker: str | None
    started_at: UtcDatetime | None
    finished_at: UtcDatetime


class RunResults(BaseModel):
    run: RunPublic
    best_trial: TrialPublic | None
    trials: list[TrialPublic]
    total_trials: int
    limit: int
    offset: int


class DatasetPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    kind: str
    task: str
    target: str | None
    n_rows: int
    n_columns: int
    owner_id: int | None = Field(description="Who uploaded it; null for a bundled dataset")
    created_at: UtcDatetime
    profile: dict[str, Any] | None = Field(
        default=None,
        description="columns: [{name, kind, missing, distinct, examples, role, reason}], "
        "target: {name, task, classes | summary}, warnings: [{column, message}]",
    )
    archived_at: UtcDatetime | None = Field(
        default=None, description="When it was archived (hidden from lists); null: it is not"
    )


class Check(BaseModel):
    ok: bool
    detail: str


class Health(BaseModel):
    """Each dependency reported on its own."""

    ok: bool
    database: Check
    redis: Check
    workers: Check


class ModelPublic(BaseModel):
    """A trained model: where it came from, its decision threshold and its evaluation."""

    id: uuid.UUID
    training_run_id: uuid.UUID
    tuning_run_id: uuid.UUID | None
    trial_index: int | None = Field(description="The tuning run's trial it was trained from")
    estimator: str
    params: dict[str, Any]
    threshold: float | None = Field(
        description="A two-class model's decision threshold on its positive class's score"
    )
    size_bytes: int
    created_at: UtcDatetime
    evaluation: dict[str, Any] | None
    archived_at: UtcDatetime | None = Field(
        default=None, description="When it was archived (hidden from lists); null: it is not"
    )


class ThresholdChange(BaseModel):
    """A two-class model's new threshold: a value, or the one meeting a precision or a recall
    on the test rows, or the one maximising F1 there. Exactly one of them."""

    model_config = ConfigDict(extra="forbid")

    threshold: float | None = Field(default=None, allow_inf_nan=False)
    min_precision: float | None = Field(default=None, gt=0, le=1)
    min_recall: float | None = Field(default=None, gt=0, le=1)
    max_f1: bool = False


class ModelChange(ThresholdChange):
    """`PATCH` of a model: its threshold (exactly one of the fields above), or `archived`
    (hidden from lists, restorable), or both."""

    archived: bool | None = Field(
        default=None, description="true hides the model from lists; false restores it"
    )


class PredictRows(BaseModel):
    """Rows to predict, each a mapping of column to value, as a CSV file's rows would be."""

    rows: list[dict[str, Any]] = Field(max_length=1_000_000)
