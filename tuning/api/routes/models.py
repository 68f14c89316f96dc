"""Training final models and downloading them."""

import json
from typing import Any, Literal

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ValidationError

from tuning import service
from tuning.api.deps import RuntimeDep, UserDep
from tuning.api.idempotency import IDEMPOTENT, KeyedDep, as_response, json_answer
from tuning.api.responses import AUTH, BY_ID
from tuning.db import session_scope
from tuning.models import RunStatus, TrainingRun
from tuning.schemas import (
    ModelChange,
    ModelPublic,
    PredictRows,
    TrainingRunCreate,
    TrainingStatus,
)

router = APIRouter(prefix="/api/v1/models", tags=["models"], responses=AUTH)


class TrainingAccepted(BaseModel):
    training_run_id: str
    task_id: str | None
    status: RunStatus
    status_url: str


@router.post(
    "/train",
    status_code=202,
    response_model=TrainingAccepted,
    responses={**BY_ID, **IDEMPOTENT},
)
def start_training(
    request_in: TrainingRunCreate,
    request: Request,
    runtime: RuntimeDep,
    user: UserDep,
    keyed: KeyedDep,
) -> Response:
    """Train with a tuning run's best parameters (or its trial `trial`, which must have
    scored), or with a dataset, estimator and params."""

    def accepted(run: TrainingRun) -> service.Answer:
        url = request.app.url_path_for("training_status", training_run_id=str(run.id))
        body = TrainingAccepted(
            training_run_id=str(run.id), task_id=run.task_id, status=run.status, status_url=str(url)
        )
        return json_answer(body, 202)

    with session_scope(runtime.engine) as session:
        answer = service.answer_once(
            session=session,
            user=user,
            request=keyed,
            act=lambda: service.submit_training(
                session=session, queue=runtime.queue, owner=user, request=request_in
            ),
            answer=accepted,
            creates=TrainingRun,
        )
    return as_response(answer)


@router.get(
    "/train/{training_run_id}/status",
    response_model=TrainingStatus,
    name="training_status",
    responses=BY_ID,
)
def training_status(training_run_id: str, runtime: RuntimeDep, user: UserDep) -> TrainingStatus:
    """The training run's status, in the tuning status's shape."""
    with session_scope(runtime.engine) as session:
        return service.get_training_status(
            session=session, queue=runtime.queue, training_run_id=training_run_id, viewer=user
        )


@router.get(
    "/{model_id}/download",
    responses={
        **BY_ID,
        200: {"content": {"application/octet-stream": {}}, "description": "A skops file"},
    },
)
def download_model(model_id: str, runtime: RuntimeDep, user: UserDep) -> Response:
    """The fitted pipeline as a skops file: load it with skops.io.load, no unpickling."""
    with session_scope(runtime.engine) as session:
        model = service.get_model(session=session, model_id=model_id, viewer=user)
        filename = f"{model.estimator}-{model.id}.skops"
        return Response(
            service.model_bytes(session=session, model_id=model.id),
            media_type="application/octet-stream",
            headers={"Content-Disposition": f'attachment; filename="{filename}"'},
        )


@router.get("/{model_id}", response_model=ModelPublic, responses=BY_ID)
def read_model(model_id: str, runtime: RuntimeDep, user: UserDep) -> ModelPublic:
    """A model: its tuning run and trial, parameters, threshold and evaluation on the test rows."""
    with session_scope(runtime.engine) as session:
        return service.read_model(session=session, model_id=model_id, viewer=user)


@router.patch(
    "/{model_id}",
    response_model=ModelPublic,
    responses={**BY_ID, 422: {"description": "Not a two-class model, or no such threshold"}},
)
def change_model(
    model_id: str, change: ModelChange, runtime: RuntimeDep, user: UserDep
) -> ModelPublic:
    """Move a two-class model's decision threshold: a value, or the one reaching
    `min_precision` or `min_recall` on the test rows, or the one maximising F1 there. Its
    predictions and its downloaded file then apply it; its evaluation is that at it. And/or
    archive it (`"archived": true`: hidden from the list of models, its file kept) or restore
    it."""
    with session_scope(runtime.engine) as session:
        return service.change_model(session=session, model_id=model_id, viewer=user, change=change)


class PredictionsPublic(BaseModel):
    model_id: str
    n_rows: int
    classes: list[Any] | None
    threshold: float | None
    target: str
    dropped_columns: list[str]
    score: dict[str, float] | None
    n_scored: int
    predictions: list[dict[str, Any]]


PREDICT_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "text/csv": {"schema": {"type": "string"}},
            "application/json": {"schema": PredictRows.model_json_schema()},
        },
    }
}


@router.post(
    "/{model_id}/predict",
    response_model=PredictionsPublic,
    responses={
        **BY_ID,
        200: {"content": {"text/csv": {}}, "description": "Predictions (CSV with ?format=csv)"},
        413: {"description": "A body over the upload limit"},
        422: {"description": "A missing column, a value of the wrong kind, or no rows"},
        **IDEMPOTENT,
    },
    openapi_extra=PREDICT_BODY,
)
async def predict(
    model_id: str,
    request: Request,
    runtime: RuntimeDep,
    user: UserDep,
    keyed: KeyedDep,
    format: Literal["json", "csv"] = "json",
) -> Response:
    """Predict a CSV file's rows (`Content-Type: text/csv`) or JSON `{"rows": [{column:
    value}, ...]}`: each row's prediction and each class's probability. Columns the model does
    not take are dropped; the target, when given, is scored. `?format=csv` answers with the
    rows and their predictions as CSV."""
    body = await request.body()
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind not in ("text/csv", "application/json"):
        raise HTTPException(400, f"send text/csv or application/json (got {kind or 'none'!r})")
    rows = _json_rows(body) if kind == "application/json" else None

    def answer(found: service.Predictions) -> service.Answer:
        if format == "csv":
            return service.Answer(200, found.as_csv(), media_type="text/csv")
        predictions = PredictionsPublic(
            model_id=model_id,
            n_rows=len(found.predicted),
            classes=found.classes,
            threshold=found.threshold,
            target=found.target,
            dropped_columns=found.dropped,
            score=found.score,
            n_scored=found.n_scored,
            predictions=json.loads(found.predicted.to_json(orient="records")),
        )
        return json_answer(predictions, 200)

    def run() -> service.Answer:
        with session_scope(runtime.engine) as session:
            return service.answer_once(
                session=session,
                user=user,
                request=keyed,
                act=lambda: service.predict_with_model(
                    session=session,
                    model_id=model_id,
                    viewer=user,
                    max_bytes=runtime.settings.max_upload_bytes,
                    content=body if rows is None else None,
                    rows=rows,
                ),
                answer=answer,
            )

    return as_response(await run_in_threadpool(run))


def _json_rows(body: bytes) -> list[dict[str, Any]]:
    try:
        return PredictRows.model_validate_json(body).rows
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_input=False)
        if any(error["type"] == "json_invalid" for error in errors):
            raise HTTPException(400, "the body is not valid JSON") from exc
        detail = [{"loc": ["body", *error["loc"]], "msg": error["msg"]} for error in errors[:5]]
        raise HTTPException(422, detail) from exc
