"""Predictions of a trained model on new rows: a CSV file or JSON rows, read like the training
file, checked against the model's columns, scored when they hold the target."""

import io
import uuid
import warnings
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import pandas as pd
from sqlmodel import Session

from tuning.domain import TaskType
from tuning.errors import InvalidInput
from tuning.ml.datasets import parse_csv
from tuning.ml.evaluation import score_rows
from tuning.ml.new_rows import check_rows, predict_rows, rows_from_json
from tuning.ml.training import load_model
from tuning.models import Dataset, Model, User
from tuning.service.data.files import model_bytes
from tuning.service.training.final_model import get_model
from tuning.service.training.thresholds import model_training

# Loaded models a process keeps, by id and threshold: a page or a client predicting again does
# not load the file again.
KEEP = 4
_loaded: OrderedDict[tuple[uuid.UUID, float | None, int], Any] = OrderedDict()


@dataclass(frozen=True)
class Predictions:
    rows: pd.DataFrame  # the rows as given
    predicted: pd.DataFrame  # prediction, and probability_<class> for classifiers
    classes: list[Any] | None
    threshold: float | None
    dropped: list[str]  # columns given that the model does not take
    target: str
    score: dict[str, float] | None  # on the rows holding the target, if any
    n_scored: int

    def as_csv(self) -> str:
        """The rows as given with their predictions beside them."""
        buffer = io.StringIO()
        joined = pd.concat([self.rows.reset_index(drop=True), self.predicted], axis=1)
        joined.to_csv(buffer, index=False)
        return buffer.getvalue()


def predict_with_model(
    *,
    session: Session,
    model_id: str | uuid.UUID,
    viewer: User | None,
    max_bytes: int,
    content: bytes | None = None,
    rows: list[dict[str, Any]] | None = None,
) -> Predictions:
    """Predict a CSV file's rows (`content`, at most `max_bytes`) or JSON `rows` with a model;
    InvalidInput naming a missing column, a value of the wrong kind or an empty file."""
    model = get_model(session=session, model_id=model_id, viewer=viewer)
    training = model_training(session, model)
    evaluation = training.evaluation
    if not evaluation or "columns" not in evaluation:
        raise InvalidInput(
            "model_id", "this model was trained before predictions were offered: train it again"
        )
    frame = (
        rows_from_json(rows) if rows is not None else parse_csv(content or b"", max_bytes=max_bytes)
    )
    dataset = session.get(Dataset, training.dataset_id)
    target = (dataset.target if dataset else None) or "target"
    checked = check_rows(frame, evaluation["columns"], target)
    fitted = _load(session, model)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            predicted = predict_rows(fitted, checked.X)
        except (ValueError, TypeError) as exc:  # a value no check above foresaw
            raise InvalidInput("rows", f"the model cannot predict these rows: {exc}"[:300]) from exc
        score = None
        if checked.y is not None and checked.scored_rows is not None:
            score = score_rows(
                fitted,
                checked.X.iloc[checked.scored_rows],
                checked.y,
                task=TaskType(evaluation["task"]),
                scoring=evaluation["scoring"],
                pos_label=(evaluation.get("binary") or {}).get("pos_label"),
            )
    return Predictions(
        rows=frame,
        predicted=predicted,
        classes=evaluation.get("classes"),
        threshold=model.threshold,
        dropped=checked.dropped,
        target=target,
        score=score,
        n_scored=0 if checked.y is None else len(checked.y),
    )


def _load(session: Session, model: Model) -> Any:
    key = (model.id, model.threshold, model.size_bytes)
    if key not in _loaded:
        _loaded[key] = load_model(model_bytes(session=session, model_id=model.id))
        while len(_loaded) > KEEP:
            _loaded.popitem(last=False)
    _loaded.move_to_end(key)
    return _loaded[key]
