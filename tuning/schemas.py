"""Request and response shapes. TuningStatus is the spec's status response, field for field."""

from typing import Any, Literal

from pydantic import BaseModel, Field

from tuning.models import RunStatus


class Progress(BaseModel):
    current: int
    total: int
    status: str
    percentage: float


class TuningResult(BaseModel):
    best_params: dict[str, Any]
    best_score: float
    total_combinations: int
    tuning_time: float


class ErrorInfo(BaseModel):
    type: str
    message: str


class TuningStatus(BaseModel):
    """`GET /api/v1/tuning/tune/{tuning_run_id}/status` of docs/spec, exactly."""

    tuning_run_id: str
    task_id: str | None
    status: RunStatus
    progress: Progress | None = None
    result: TuningResult | None = None
    error: ErrorInfo | None = None


class TuningRunCreate(BaseModel):
    """What a user submits to start a search; the service layer checks it against the catalog."""

    dataset: str = Field(description="A bundled dataset (iris, wine, ...) or an uploaded one")
    estimator: str = Field(description="A scikit-learn class name from the catalog")
    param_grid: dict[str, Any] = Field(description="Parameter name -> list of values to try")
    search: Literal["grid", "random"] = "grid"
    n_iter: int | None = Field(default=None, description="Candidates to sample (random search)")
    cv: int = Field(default=5, description="Number of CV folds (stratified for classifiers)")
    scoring: str | None = Field(default=None, description="A scikit-learn scorer name")
    random_state: int | None = Field(default=None, description="Seed for sampling and estimators")


def progress_of(current: int, total: int, message: str) -> Progress:
    """Progress with its percentage computed, as the spec promises."""
    percentage = round(100 * current / total, 2) if total else 0.0
    return Progress(current=current, total=total, status=message, percentage=percentage)


def testing_message(current: int, total: int) -> str:
    return f"Testing parameter combination {current}/{total}..."
