"""A trained model as the API reads it, and a two-class model's decision threshold moved."""

import uuid
from typing import Any

from sqlalchemy import update
from sqlmodel import Session, col

from tuning.errors import InvalidInput
from tuning.ml.thresholds import ThresholdRule, threshold_for, with_threshold
from tuning.ml.training import dump_model, load_model
from tuning.models import Model, ModelFile, TrainingRun, User
from tuning.schemas import ModelPublic, ThresholdChange
from tuning.service.data.files import model_bytes
from tuning.service.training.final_model import get_model


def model_training(session: Session, model: Model) -> TrainingRun:
    training = session.get(TrainingRun, model.training_run_id)
    assert training is not None, "a model's training run is kept"
    return training


def read_model(
    *, session: Session, model_id: str | uuid.UUID, viewer: User | None = None
) -> ModelPublic:
    """A model with where it came from, its threshold and its evaluation."""
    model = get_model(session=session, model_id=model_id, viewer=viewer)
    training = model_training(session, model)
    return ModelPublic(
        id=model.id,
        training_run_id=training.id,
        tuning_run_id=training.tuning_run_id,
        trial_index=training.trial_index,
        estimator=model.estimator,
        params=training.params,
        threshold=model.threshold,
        size_bytes=model.size_bytes,
        created_at=model.created_at,
        evaluation=training.evaluation,
        archived_at=model.archived_at,
    )


def _rule(change: ThresholdChange) -> tuple[ThresholdRule, float | None]:
    given: list[tuple[ThresholdRule, float | None]] = []
    if change.threshold is not None:
        given.append(("value", change.threshold))
    if change.min_precision is not None:
        given.append(("precision", change.min_precision))
    if change.min_recall is not None:
        given.append(("recall", change.min_recall))
    if change.max_f1:
        given.append(("f1", None))
    if len(given) != 1:
        raise InvalidInput(
            "threshold", "give exactly one of threshold, min_precision, min_recall or max_f1"
        )
    return given[0]


def choose_model_threshold(evaluation: dict[str, Any], change: ThresholdChange) -> float:
    """The threshold `change` asks for, checked against what the model's scores are."""
    binary = evaluation.get("binary")
    if binary is None:
        raise InvalidInput(
            "threshold", "only a classifier of two classes has a decision threshold to move"
        )
    rule, target = _rule(change)
    if rule != "value":
        return threshold_for(evaluation, rule, target)
    assert target is not None
    if binary["response"] == "probability" and not 0 <= target <= 1:
        raise InvalidInput("threshold", "a threshold on probabilities is between 0 and 1")
    return target


def set_model_threshold(
    *,
    session: Session,
    model_id: str | uuid.UUID,
    viewer: User | None,
    change: ThresholdChange,
) -> ModelPublic:
    """Move a two-class model's threshold: its file then predicts with it, and its stored
    evaluation (confusion matrix, metrics of labels, verdict) is that at the new threshold."""
    model = get_model(session=session, model_id=model_id, viewer=viewer)
    training = model_training(session, model)
    evaluation = training.evaluation or {}
    threshold = choose_model_threshold(evaluation, change)
    rule, target = _rule(change)
    loaded = load_model(model_bytes(session=session, model_id=model.id))
    loaded.set_params(threshold=threshold)
    file = dump_model(loaded)
    session.execute(update(ModelFile).where(col(ModelFile.model_id) == model.id).values(file=file))
    model.size_bytes, model.threshold = len(file), threshold
    moved = with_threshold(evaluation, threshold, rule=rule, target=target)
    training.evaluation = moved
    training.metrics = {name: moved["metrics"][name] for name in training.metrics or {}}
    session.add_all([model, training])
    session.commit()
    return read_model(session=session, model_id=model.id, viewer=viewer)
