"""Scorers: the list a form offers per target, the run's one scorer with its positive class,
and what a scorer asks of the estimator. Pure scikit-learn, no database."""

import functools
import inspect
import warnings
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import (
    average_precision_score,
    f1_score,
    get_scorer,
    get_scorer_names,
)
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from tuning.domain import TaskType
from tuning.errors import InvalidInput
from tuning.ml import catalog
from tuning.ml.checks import check_scorer_on_labels, resolve_pos_label
from tuning.ml.datasets import Table
from tuning.ml.scorer_choices import (
    IMBALANCED_BELOW,
    scorers_by_target,
    scorers_for_target,
    target_kind,
)
from tuning.ml.scoring import (
    POSITIVE_CLASS_METRICS,
    check_estimator_serves,
    make_run_scorer,
    response_methods,
)
from tuning.ml.training import train_model

CLF, REG = TaskType.CLASSIFICATION, TaskType.REGRESSION
CLUSTERING = {
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
BALANCED = [("no", 50), ("yes", 50)]
RARE_YES = [("no", 87), ("yes", 13)]
THREE = [(0, 50), (1, 50), (2, 50)]


# --- The scorers a form offers ------------------------------------------------------------


@pytest.mark.parametrize(
    ("task", "classes", "recommended"),
    [
        (CLF, RARE_YES, ["average_precision", "roc_auc"]),
        (CLF, BALANCED, ["roc_auc", "accuracy", "f1"]),
        (CLF, THREE, ["balanced_accuracy", "f1_macro", "roc_auc_ovr", "accuracy", "neg_log_loss"]),
        (REG, None, ["neg_root_mean_squared_error", "r2", "neg_mean_absolute_error"]),
    ],
    ids=["imbalanced binary", "balanced binary", "multiclass", "regression"],
)
def test_the_recommended_scorers_come_first_each_with_a_reason(task, classes, recommended):
    choices = scorers_for_target(task, classes)
    names = [choice.name for choice in choices]

    assert [c.name for c in choices if c.recommended] == recommended
    assert names[: len(recommended)] == recommended, "recommended first"
    assert names[len(recommended) :] == sorted(names[len(recommended) :]), "then by name"
    assert len(set(names)) == len(names)
    assert all(choice.reason and "\n" not in choice.reason for choice in choices)
    assert not CLUSTERING & set(names)
    assert not [name for name in names if name.endswith("_samples")], "multilabel only"


def test_accuracy_is_not_recommended_on_a_rare_class_and_says_why():
    (accuracy,) = [c for c in scorers_for_target(CLF, RARE_YES) if c.name == "accuracy"]

    assert not accuracy.recommended
    assert accuracy.reason == (
        "accuracy is misleading when one class is rare: always answering the majority class "
        "scores 0.87"
    )


def test_a_binary_target_is_imbalanced_below_the_threshold_only():
    at = [("a", int(100 * IMBALANCED_BELOW)), ("b", 100 - int(100 * IMBALANCED_BELOW))]
    below = [("a", int(100 * IMBALANCED_BELOW) - 1), ("b", 101 - int(100 * IMBALANCED_BELOW))]

    assert scorers_for_target(CLF, at)[0].name == "roc_auc"
    assert scorers_for_target(CLF, below)[0].name == "average_precision"


def test_target_kinds():
    assert target_kind(CLF, BALANCED) == "binary"
    assert target_kind(CLF, THREE) == "multiclass"
    assert target_kind(REG, None) == "regression"


@functools.cache
def _fitted(kind: str) -> tuple[Any, np.ndarray, np.ndarray]:
    """A model fitted on a bundled dataset of that kind of target, with its rows."""
    if kind == "regression":
        X, y = load_diabetes(return_X_y=True)
        return Ridge().fit(X, y), X, y
    X, y = (load_breast_cancer if kind == "binary" else load_iris)(return_X_y=True)
    return make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y), X, y


@pytest.mark.parametrize("kind", ["binary", "multiclass", "regression"])
def test_every_scorer_offered_scores_a_real_model_on_that_target(kind: str):
    model, X, y = _fitted(kind)
    offered = scorers_by_target()[kind]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name in offered:
            assert np.isfinite(get_scorer(name)(model, X, y)), name


def test_the_offered_lists_agree_with_the_choices():
    for task, classes in [(CLF, RARE_YES), (CLF, BALANCED), (CLF, THREE), (REG, None)]:
        kind = target_kind(task, classes)
        assert sorted(c.name for c in scorers_for_target(task, classes)) == sorted(
            scorers_by_target()[kind]
        )


def test_given_an_estimator_only_the_scorers_it_serves_are_offered():
    names = [c.name for c in scorers_for_target(CLF, THREE, estimator="SVC")]

    assert "roc_auc_ovr" not in names and "neg_log_loss" not in names
    assert names[:3] == ["balanced_accuracy", "f1_macro", "accuracy"]
    assert "neg_log_loss" in [
        c.name for c in scorers_for_target(CLF, THREE, estimator="KNeighborsClassifier")
    ]


# --- One scorer per run, with its positive class ------------------------------------------


def test_without_a_positive_class_the_run_scorer_is_scikit_learns():
    for name in ["accuracy", "f1", "average_precision", "roc_auc", "r2"]:
        assert repr(make_run_scorer(name)) == repr(get_scorer(name))
    assert repr(make_run_scorer("accuracy", "yes")) == repr(get_scorer("accuracy"))


@pytest.mark.parametrize("name", sorted(POSITIVE_CLASS_METRICS))
def test_a_positive_class_of_1_scores_as_scikit_learns_own_scorer(name: str):
    model, X, y = _fitted("binary")
    assert make_run_scorer(name, 1)(model, X, y) == get_scorer(name)(model, X, y)


def test_every_scikit_learn_scorer_of_one_class_takes_a_positive_class():
    takes_one = {
        name
        for name in get_scorer_names()
        if "pos_label" in inspect.signature(get_scorer(name)._score_func).parameters
        and get_scorer(name)._kwargs.get("pos_label", "unset") is not None
    }
    assert takes_one == set(POSITIVE_CLASS_METRICS)


def _words() -> tuple[pd.DataFrame, pd.Series]:
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    return X, y.map({0: "no", 1: "yes"})


def test_the_positive_class_picks_its_column_of_probabilities_and_its_side_of_decisions():
    X, y = _words()
    neighbours = KNeighborsClassifier().fit(X, y)  # probabilities only
    margin = SVC().fit(X, y)  # decisions only

    no_proba = neighbours.predict_proba(X)[:, list(neighbours.classes_).index("no")]
    assert make_run_scorer("average_precision", "no")(neighbours, X, y) == (
        average_precision_score(y == "no", no_proba)
    )
    assert make_run_scorer("average_precision", "no")(margin, X, y) == (
        average_precision_score(y == "no", -margin.decision_function(X))
    )
    assert make_run_scorer("f1", "no")(margin, X, y) == f1_score(
        y, margin.predict(X), pos_label="no"
    )


def test_training_metrics_score_the_positive_class():
    X, y = _words()
    table = Table(X=X, y=y, task=CLF)

    trained = train_model("LogisticRegression", {"C": 1.0}, table, scoring="f1", pos_label="no")

    assert set(trained.metrics) == {"f1", "accuracy"}
    as_yes = train_model("LogisticRegression", {"C": 1.0}, table, scoring="f1", pos_label="yes")
    assert trained.metrics["f1"] != as_yes.metrics["f1"]
    assert trained.metrics["accuracy"] == as_yes.metrics["accuracy"]


# --- The positive class against the labels ------------------------------------------------


@pytest.mark.parametrize(
    ("given", "classes", "resolved"),
    [
        ("yes", RARE_YES, "yes"),
        ("1", [(0, 9), (1, 3)], 1),
        (1, [(0, 9), (1, 3)], 1),
        ("1", [(0.0, 9), (1.0, 3)], 1.0),
        ("true", [(False, 9), (True, 3)], True),
        (True, [(False, 9), (True, 3)], True),
        (None, RARE_YES, None),
        (None, THREE, None),
    ],
)
def test_a_positive_class_is_read_as_the_labels_hold_it(given, classes, resolved):
    found = resolve_pos_label(given, task=CLF, classes=classes)
    assert found == resolved and type(found) is type(resolved)


@pytest.mark.parametrize(
    ("given", "task", "classes", "reason"),
    [
        ("maybe", CLF, RARE_YES, "'maybe' is not one of this dataset's classes: 'no', 'yes'"),
        (1, CLF, [(False, 9), (True, 3)], "not one of this dataset's classes: False, True"),
        (True, CLF, [(0, 9), (1, 3)], "not one of this dataset's classes: 0, 1"),
        (1, CLF, THREE, "for a target of two classes; this dataset has 3 classes (0, 1, 2)"),
        (1.5, REG, None, "this dataset has a numeric target (regression)"),
    ],
)
def test_a_positive_class_that_is_not_one_of_two_classes_is_refused(given, task, classes, reason):
    with pytest.raises(InvalidInput) as caught:
        resolve_pos_label(given, task=task, classes=classes)
    assert caught.value.field == "pos_label"
    assert reason in caught.value.reason


@pytest.mark.parametrize("scoring", ["f1", "precision", "recall", "average_precision"])
def test_word_labels_need_a_positive_class_and_score_with_one(scoring: str):
    with pytest.raises(InvalidInput) as caught:
        check_scorer_on_labels(scoring, RARE_YES)
    assert caught.value.field == "scoring"
    assert "give pos_label, one of 'no', 'yes'" in caught.value.reason

    check_scorer_on_labels(scoring, RARE_YES, "yes")
    check_scorer_on_labels(scoring, [(0, 9), (1, 3)])  # 1 is positive, as before


# --- What a scorer asks of the estimator --------------------------------------------------


def test_the_output_each_scorer_reads():
    assert response_methods("accuracy") == ("predict",)
    assert response_methods("neg_log_loss") == ("predict_proba",)
    assert response_methods("roc_auc") == ("decision_function", "predict_proba")


def test_a_scorer_the_estimator_cannot_serve_is_refused_and_says_what_is_missing():
    with pytest.raises(InvalidInput) as caught:
        check_estimator_serves("neg_log_loss", "SVC", {"C": [1.0]}, instead="roc_auc")

    assert caught.value.field == "scoring"
    assert caught.value.reason == (
        "'neg_log_loss' needs predicted probabilities; SVC has no predict_proba here; "
        "choose e.g. 'roc_auc' or an estimator with probabilities"
    )
    check_estimator_serves("roc_auc", "RidgeClassifier", {"alpha": [1.0]})  # decision_function
    check_estimator_serves("neg_log_loss", "KNeighborsClassifier", {"n_neighbors": [3, 5]})
    check_estimator_serves("accuracy", "SVC", {"C": [1.0]})


def test_each_grid_value_is_checked_for_what_it_changes(monkeypatch):
    """No catalog parameter turns probabilities off today; an entry that tunes SVC's
    `probability` shows that a value doing so would be named."""
    spec = catalog.get_estimator("SVC")
    probability = catalog.ParamSpec("bool", suggested=(True, False))
    tunable = replace(
        spec, params={**spec.params, "probability": probability}, fixed={"probability": True}
    )
    monkeypatch.setitem(catalog.ESTIMATORS, "SVC", tunable)

    check_estimator_serves("neg_log_loss", "SVC", {"probability": [True], "C": [1.0, 10.0]})
    with pytest.raises(InvalidInput, match="SVC has no predict_proba with probability=False"):
        check_estimator_serves("neg_log_loss", "SVC", {"C": [1.0], "probability": [True, False]})
