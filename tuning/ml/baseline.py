"""The model to beat, and plain words where a model does not beat it."""

from typing import Any

from sklearn.base import BaseEstimator
from sklearn.dummy import DummyClassifier, DummyRegressor

from tuning.domain import TaskType

# Metrics where less is better; every other one (and every scorer) is greater-is-better.
LOWER_IS_BETTER = frozenset({"log_loss", "rmse", "mae"})


def make_baseline(task: TaskType) -> BaseEstimator:
    """The model to beat: always the most frequent class, or always the mean."""
    if task is TaskType.REGRESSION:
        return DummyRegressor(strategy="mean")
    return DummyClassifier(strategy="most_frequent")


def beside_baseline(evaluation: dict[str, Any]) -> list[dict[str, Any]]:
    """Each metric of the model beside the baseline's on the same rows (None where the
    baseline has none), and whether the model beats it (lower is better for losses)."""
    base = evaluation["baseline"]["metrics"]
    rows = []
    for metric, value in evaluation["metrics"].items():
        baseline = base.get(metric)
        beats = None
        if baseline is not None:
            beats = value < baseline if metric in LOWER_IS_BETTER else value > baseline
        rows.append({"metric": metric, "model": value, "baseline": baseline, "beats": beats})
    return rows


def verdict(evaluation: dict[str, Any]) -> list[str]:
    """Plain sentences for each figure, the run's scorer first, where the model does not beat
    the baseline on the same rows."""
    name = evaluation["baseline"]["name"]
    sentences = []
    for row in beside_baseline(evaluation):
        if row["beats"] is False:
            metric = row["metric"]
            scorer = " (the run's scorer)" if metric == evaluation["scoring"] else ""
            sentences.append(
                f"Its {metric}{scorer} is {row['model']:.4f}, no better than "
                f"{row['baseline']:.4f} from {name}: on this figure the model does not beat "
                "the baseline."
            )
    return sentences
