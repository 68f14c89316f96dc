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


def verdict(evaluation: dict[str, Any]) -> list[str]:
    """Plain sentences for each figure, the run's scorer first, where the model does not beat
    the baseline on the same rows."""
    model, base = evaluation["metrics"], evaluation["baseline"]["metrics"]
    name = evaluation["baseline"]["name"]
    sentences = []
    for metric, value in model.items():
        if metric not in base:
            continue
        worse = value >= base[metric] if metric in LOWER_IS_BETTER else value <= base[metric]
        if worse:
            scorer = " (the run's scorer)" if metric == evaluation["scoring"] else ""
            sentences.append(
                f"Its {metric}{scorer} is {value:.4f}, no better than {base[metric]:.4f} from "
                f"{name}: on this figure the model does not beat the baseline."
            )
    return sentences
