"""Scorers for a dataset: the choices a form offers, and the one check of a scorer that a
submitted run and a training share (task, labels, positive class, what the estimator serves)."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session

from tuning.domain import TaskType
from tuning.ml.checks import ClassCount, check_scorer_on_labels
from tuning.ml.scorer_choices import (
    ScorerChoice,
    TargetKind,
    minority_share,
    scorers_for_target,
    target_kind,
)
from tuning.ml.scoring import DEFAULT_SCORING, check_estimator_serves, validate_scoring
from tuning.models import User
from tuning.service.data.datasets import dataset_classes, get_dataset
from tuning.service.execution.lifecycle import estimator_and_dataset


@dataclass(frozen=True)
class ScorerChoices:
    """The scorers a form offers for one dataset (and estimator, when one is chosen)."""

    target: TargetKind  # "binary", "multiclass" or "regression"
    choices: list[ScorerChoice]  # recommended first, in order; then the rest by name
    default: str  # what a run scores when it names none: accuracy or r2, as the API always has
    classes: list[ClassCount]  # each class label with its rows; [] for regression
    minority_share: float | None  # the smallest class's share of the rows; None for regression

    @property
    def recommended(self) -> list[str]:
        """The recommended scorers' names, best first."""
        return [choice.name for choice in self.choices if choice.recommended]

    @property
    def positive_labels(self) -> list[Any]:
        """The labels `pos_label` may take: a binary target's two; none otherwise."""
        return [label for label, _ in self.classes] if self.target == "binary" else []


def scorer_choices(
    *, session: Session, dataset: str, viewer: User, estimator: str | None = None
) -> ScorerChoices:
    """The scorers that fit `dataset`'s target (by name or id), recommended first; with an
    estimator, only those it can serve. InvalidInput names an unknown dataset or estimator."""
    if estimator is not None:
        _, found = estimator_and_dataset(
            session=session, estimator=estimator, dataset=dataset, viewer=viewer
        )
    else:
        found = get_dataset(session=session, name=dataset, viewer=viewer)
    classes = dataset_classes(session=session, dataset=found) or []
    return ScorerChoices(
        target=target_kind(found.task, classes),
        choices=scorers_for_target(found.task, classes, estimator=estimator),
        default=DEFAULT_SCORING[found.task],
        classes=classes,
        minority_share=minority_share(classes) if classes else None,
    )


def check_scorer(
    scoring: str,
    *,
    task: TaskType,
    classes: Sequence[ClassCount] | None,
    pos_label: Any,
    estimator: str,
    param_grid: Mapping[str, Any],
) -> None:
    """The scorer fits the task, scores these labels with this positive class, and reads an
    output the estimator has with each of the grid's values; InvalidInput otherwise."""
    validate_scoring(scoring, task)
    if classes:
        check_scorer_on_labels(scoring, classes, pos_label)
    usable = scorers_for_target(task, classes, estimator=estimator)
    instead = next((choice.name for choice in usable if choice.recommended), None)
    check_estimator_serves(scoring, estimator, param_grid, instead=instead)
