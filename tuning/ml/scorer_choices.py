"""The scorers that fit a target, recommended ones first, each with a one-line reason.

A target is binary, multiclass or regression. A scorer is offered when it can score that kind
of target: clustering scorers (which compare groupings, not labels) and multilabel-only ones
(`*_samples`) never are, nor two-class scorers for three classes, nor `top_k_accuracy` for two
(its k=2 always scores 1), nor the one-vs-rest and one-vs-one AUCs for two (they equal roc_auc).

What is recommended follows the target. A binary target is imbalanced when its smaller class
holds under `IMBALANCED_BELOW` of the rows: there accuracy rewards always answering the
majority class, so average precision and ROC AUC are recommended instead.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from tuning.domain import TaskType
from tuning.ml import catalog
from tuning.ml.checks import ClassCount
from tuning.ml.scoring import scorers_for, serves

TargetKind = Literal["binary", "multiclass", "regression"]

# A binary target whose smaller class holds fewer rows than this share is imbalanced. 30 %:
# below it a model that always answers the majority scores over 0.7 accuracy while finding
# no positive at all, and rare-class scorers tell candidates apart where accuracy barely moves.
IMBALANCED_BELOW = 0.30

# What each scorer measures, in a line. The two-class scorers of the positive class say so.
_MEANS = {
    "accuracy": "share of rows predicted right",
    "balanced_accuracy": "mean recall per class: every class counts the same, whatever its size",
    "average_precision": "precision over every threshold, weighted by recall, of the positive "
    "class; stays informative when that class is rare",
    "roc_auc": "how well scores rank a positive above a negative, at every threshold",
    "f1": "balance of precision and recall on the positive class",
    "precision": "share of rows predicted positive that are positive",
    "recall": "share of positive rows found",
    "jaccard": "overlap of predicted and true positives (intersection over union)",
    "matthews_corrcoef": "correlation of predictions with the truth; fair under imbalance",
    "neg_log_loss": "how probable the model found the true class (needs probabilities)",
    "neg_brier_score": "squared error of the positive class's probability",
    "d2_brier_score": "Brier score as a share of a constant predictor's (1 is perfect)",
    "d2_log_loss_score": "log loss as a share of a constant predictor's (1 is perfect)",
    "positive_likelihood_ratio": "how much a positive prediction raises the odds; takes the "
    "larger label as positive",
    "neg_negative_likelihood_ratio": "how much a negative prediction lowers the odds; takes the "
    "larger label as positive",
    "top_k_accuracy": "share of rows whose class is among the two most likely",
    "roc_auc_ovr": "ROC AUC of each class against the rest, averaged (needs probabilities)",
    "roc_auc_ovr_weighted": "ROC AUC of each class against the rest, weighted by class size",
    "roc_auc_ovo": "ROC AUC of each pair of classes, averaged (needs probabilities)",
    "roc_auc_ovo_weighted": "ROC AUC of each pair of classes, weighted by class size",
    "r2": "share of the target's variance explained (1 is perfect, 0 is the mean)",
    "explained_variance": "like r2, but ignores a constant bias",
    "neg_root_mean_squared_error": "typical error in the target's own units; large errors "
    "weigh more",
    "neg_mean_squared_error": "mean squared error (the target's units squared)",
    "neg_mean_absolute_error": "mean error in the target's own units; robust to outliers",
    "neg_median_absolute_error": "median error: ignores the worst rows entirely",
    "neg_max_error": "the single worst error",
    "neg_mean_absolute_percentage_error": "mean relative error; unstable near zero targets",
    "neg_mean_squared_log_error": "squared error of log(1 + y): relative errors; no negative "
    "targets or predictions",
    "neg_root_mean_squared_log_error": "root of the squared log error: relative errors; no "
    "negative targets or predictions",
    "neg_mean_poisson_deviance": "for counts: needs positive predictions",
    "neg_mean_gamma_deviance": "for positive amounts: needs positive targets and predictions",
    "d2_absolute_error_score": "absolute error as a share of the median's (1 is perfect)",
}
_MULTICLASS_MEANS = {
    "average_precision": "average precision of each class against the rest, averaged",
    "neg_brier_score": "squared error of the predicted probabilities of every class",
}
# Micro averages of single-label precision, recall and f1 all equal accuracy.
_MEANS.update(
    {
        f"{metric}_micro": "equals accuracy when each row has one label"
        for metric in ("f1", "precision", "recall")
    }
)
_AVERAGED = {"_macro": "averaged over classes equally", "_weighted": "weighted by class size"}
_CLUSTERING = {
    "adjusted_mutual_info_score",
    "adjusted_rand_score",
    "completeness_score",
    "fowlkes_mallows_score",
    "homogeneity_score",
    "mutual_info_score",
    "normalized_mutual_info_score",
    "rand_score",
    "v_measure_score",
}
_TWO_CLASSES_ONLY = {
    "f1",
    "precision",
    "recall",
    "jaccard",
    "roc_auc",
    "positive_likelihood_ratio",
    "neg_negative_likelihood_ratio",
}
# Left out for two classes: the same as roc_auc there, or (top 2 of 2) always 1.
_MANY_CLASSES_ONLY = {
    "top_k_accuracy",
    "roc_auc_ovr",
    "roc_auc_ovr_weighted",
    "roc_auc_ovo",
    "roc_auc_ovo_weighted",
}

# Recommended scorers per target, in order, and why each is recommended there.
_RECOMMENDED: dict[str, dict[str, str]] = {
    "imbalanced": {
        "average_precision": "focuses on the rare positive class, at every threshold",
        "roc_auc": "ranks positives above negatives whatever the balance and the threshold",
    },
    "binary": {
        "roc_auc": "ranks positives above negatives at every threshold, not just one",
        "accuracy": "share of rows predicted right; meaningful as the classes are balanced",
        "f1": "balance of precision and recall on the positive class",
    },
    "multiclass": {
        "balanced_accuracy": "mean recall per class: every class counts the same",
        "f1_macro": "precision and recall of each class, averaged equally",
        "roc_auc_ovr": "ranking quality of each class against the rest (needs probabilities)",
        "accuracy": "share of rows predicted right; easy to explain",
        "neg_log_loss": "rewards well-calibrated probabilities (needs probabilities)",
    },
    "regression": {
        "neg_root_mean_squared_error": "typical error in the target's units; large errors "
        "weigh more",
        "r2": "share of variance explained: comparable across targets",
        "neg_mean_absolute_error": "mean error in the target's units; robust to outliers",
    },
}


@dataclass(frozen=True)
class ScorerChoice:
    """A scorer offered for a target: its scikit-learn name, whether it is recommended for
    this target, and why (or what it measures)."""

    name: str
    recommended: bool
    reason: str


def target_kind(task: TaskType, classes: Sequence[ClassCount] | None) -> TargetKind:
    """binary or multiclass (by the number of class labels), or regression."""
    if task is TaskType.REGRESSION:
        return "regression"
    return "binary" if classes is not None and len(classes) == 2 else "multiclass"


def minority_share(classes: Sequence[ClassCount]) -> float:
    """The smallest class's share of the rows."""
    total = sum(count for _, count in classes)
    return min(count for _, count in classes) / total if total else 0.0


def scorers_for_target(
    task: TaskType, classes: Sequence[ClassCount] | None, *, estimator: str | None = None
) -> list[ScorerChoice]:
    """The scorers that can score this target, recommended first (in order), then the rest
    alphabetically; each with a one-line reason. Given a catalog estimator, only the scorers
    it can serve (SVC has no probabilities for neg_log_loss)."""
    kind = target_kind(task, classes)
    share = minority_share(classes) if kind == "binary" and classes else 0.5
    imbalanced = kind == "binary" and share < IMBALANCED_BELOW
    offered = [name for name in scorers_for(task) if _fits(name, kind)]
    if estimator is not None:
        model = catalog.make_estimator(estimator)
        offered = [name for name in offered if serves(model, name)]
    recommended = {
        name: why
        for name, why in _RECOMMENDED["imbalanced" if imbalanced else kind].items()
        if name in offered
    }
    chosen = [ScorerChoice(name, True, why) for name, why in recommended.items()]
    rest = [
        ScorerChoice(name, False, _reason(name, kind, share))
        for name in sorted(offered)
        if name not in recommended
    ]
    return chosen + rest


def scorers_by_target() -> dict[TargetKind, list[str]]:
    """The scorer names that can score each kind of target, by name (what is recommended
    depends on a dataset's classes: see `scorers_for_target`)."""
    tasks: dict[TargetKind, TaskType] = {
        "binary": TaskType.CLASSIFICATION,
        "multiclass": TaskType.CLASSIFICATION,
        "regression": TaskType.REGRESSION,
    }
    return {kind: [n for n in scorers_for(task) if _fits(n, kind)] for kind, task in tasks.items()}


def _fits(name: str, kind: TargetKind) -> bool:
    if name in _CLUSTERING or name.endswith("_samples"):
        return False
    if kind == "binary":
        return name not in _MANY_CLASSES_ONLY
    if kind == "multiclass":
        return name not in _TWO_CLASSES_ONLY
    return True


def _reason(name: str, kind: TargetKind, minority: float) -> str:
    if name == "accuracy" and kind == "binary" and minority < IMBALANCED_BELOW:
        return (
            "accuracy is misleading when one class is rare: always answering the majority "
            f"class scores {1 - minority:.2f}"
        )
    if kind == "multiclass" and name in _MULTICLASS_MEANS:
        return _MULTICLASS_MEANS[name]
    if name in _MEANS:
        return _MEANS[name]
    base, _, average = name.rpartition("_")
    if f"_{average}" in _AVERAGED:
        return f"{base.replace('_', ' ')} of each class, {_AVERAGED[f'_{average}']}"
    if average == "micro":
        return f"{base.replace('_', ' ')} pooled over all rows"
    return name.replace("_", " ")
