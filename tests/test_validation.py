"""A bad submission raises one error naming its field, and nothing is stored or enqueued."""

import pytest
from sqlmodel import Session, func, select

from tuning.errors import InvalidInput
from tuning.ml.training import train_model
from tuning.models import TuningRun
from tuning.schemas import TrainingRunCreate, TuningRunCreate
from tuning.service import (
    check_submission,
    execute_training,
    get_training_run,
    load_table,
    scorer_choices,
    submit_run,
    submit_training,
    upload_dataset,
    validate_run,
)

from factories import make_run, upload_rare_yes
from messy import churn_csv

pytestmark = pytest.mark.database

GOOD = {
    "dataset": "iris",
    "estimator": "RandomForestClassifier",
    "param_grid": {"n_estimators": [10, 50], "max_depth": [None, 5]},
}


class QueueThatMustNotBeCalled:
    def enqueue_chunk(self, run_id, index, *, task_id):
        raise AssertionError("an invalid run reached the queue")


@pytest.mark.parametrize(
    ("change", "field", "reason"),
    [
        ({"estimator": "os.system"}, "estimator", "unknown estimator 'os.system'"),
        ({"estimator": "Ridge"}, "estimator", "Ridge is for regression"),
        ({"dataset": "nope"}, "dataset", "unknown dataset 'nope'"),
        ({"scoring": "accuracyy"}, "scoring", "unknown scorer 'accuracyy'"),
        ({"scoring": "r2"}, "scoring", "'r2' scores regressors"),
        ({"param_grid": {"n_trees": [1]}}, "param_grid.n_trees", "unknown parameter 'n_trees'"),
        ({"param_grid": {"n_estimators": []}}, "param_grid.n_estimators", "non-empty list"),
        ({"param_grid": {"n_estimators": ["ten"]}}, "param_grid.n_estimators", "'ten'"),
        ({"param_grid": {"n_estimators": [0]}}, "param_grid.n_estimators", "below the minimum"),
        ({"param_grid": {"n_estimators": [1.5]}}, "param_grid.n_estimators", "not an integer"),
        ({"param_grid": {"max_features": ["all"]}}, "param_grid.max_features", "'all'"),
        ({"param_grid": {}}, "param_grid", "empty"),
        (
            {"param_grid": {"n_estimators": list(range(1, 200)), "max_depth": list(range(1, 100))}},
            "param_grid",
            "the limit is 10,000",
        ),
        ({"cv": 1}, "cv", "choose between 2 and"),
        ({"cv": 200}, "cv", "choose between 2 and"),
        ({"search": "random"}, "n_iter", "needs n_iter"),
        ({"search": "random", "n_iter": 20_000}, "n_iter", "the limit is 10,000"),
        # The positive class: one of a two-class target's labels.
        ({"pos_label": 1}, "pos_label", "this dataset has 3 classes (0, 1, 2)"),
        (
            {"dataset": "breast_cancer", "pos_label": "maybe"},
            "pos_label",
            "'maybe' is not one of this dataset's classes: 0, 1",
        ),
        (
            {
                "dataset": "diabetes",
                "estimator": "Ridge",
                "param_grid": {"alpha": [1.0]},
                "pos_label": 1,
            },
            "pos_label",
            "numeric target (regression)",
        ),
        # A scorer reading an output the estimator does not have.
        (
            {"estimator": "SVC", "param_grid": {"C": [1.0]}, "scoring": "neg_log_loss"},
            "scoring",
            "'neg_log_loss' needs predicted probabilities; SVC has no predict_proba here; "
            "choose e.g. 'balanced_accuracy' or an estimator with probabilities",
        ),
    ],
)
def test_bad_submission_names_the_field(settings, session: Session, user, change, field, reason):
    before = session.exec(select(func.count()).select_from(TuningRun)).one()
    run_in = TuningRunCreate(**{**GOOD, **change})

    with pytest.raises(InvalidInput) as caught:
        submit_run(
            session=session,
            queue=QueueThatMustNotBeCalled(),
            settings=settings,
            owner=user,
            run_in=run_in,
        )

    assert caught.value.field == field
    assert reason in caught.value.reason, caught.value.reason
    assert session.exec(select(func.count()).select_from(TuningRun)).one() == before


def test_more_folds_than_groups_is_refused_naming_the_group(settings, session: Session, user):
    upload_dataset(
        session=session,
        owner=user,
        name="churn",
        content=churn_csv(120),
        target="churn",
        settings=settings,
    )
    with pytest.raises(InvalidInput) as caught:
        validated(settings, session, user, dataset="churn", cv=5, columns={"group": "region"})
    assert caught.value.field == "cv"
    assert "'region' has only 4 groups" in caught.value.reason


def validated(settings, session: Session, user, **change) -> TuningRun:
    return validate_run(
        session=session,
        settings=settings,
        run_in=TuningRunCreate(**{**GOOD, **change}),
        viewer=user,
    )


def test_scorers_read_from_what_the_estimator_has(settings, session: Session, user):
    ridge = {"estimator": "RidgeClassifier", "param_grid": {"alpha": [1.0]}}
    assert validated(settings, session, user, dataset="breast_cancer", scoring="roc_auc", **ridge)
    knn = {"estimator": "KNeighborsClassifier", "param_grid": {"n_neighbors": [3, 5]}}
    assert validated(settings, session, user, scoring="neg_log_loss", **knn)


def test_the_positive_class_is_stored_as_the_labels_hold_it(settings, session: Session, user):
    run = validated(settings, session, user, dataset="breast_cancer", scoring="f1", pos_label="1")
    assert run.pos_label == 1 and type(run.pos_label) is int

    words = upload_rare_yes(session, user)
    run = validated(settings, session, user, dataset=words.name, scoring="f1", pos_label="yes")
    assert run.pos_label == "yes"
    with pytest.raises(InvalidInput) as caught:
        validated(settings, session, user, dataset=words.name, scoring="f1")
    assert caught.value.field == "scoring"
    assert "give pos_label, one of 'no', 'yes'" in caught.value.reason


def test_the_live_checks_show_a_scorer_the_estimator_cannot_serve(settings, session, user):
    run_in = TuningRunCreate(
        **{**GOOD, "estimator": "SVC", "param_grid": {"C": [1.0]}, "scoring": "roc_auc_ovr"}
    )
    errors = check_submission(session=session, settings=settings, run_in=run_in, viewer=user)
    assert list(errors) == ["scoring"]
    assert "SVC has no predict_proba here" in errors["scoring"]


def test_a_form_is_offered_the_scorers_that_fit_the_dataset(session: Session, user):
    words = upload_rare_yes(session, user)

    offered = scorer_choices(session=session, dataset=words.name, viewer=user)

    assert offered.target == "binary" and offered.default == "accuracy"
    assert offered.recommended == ["average_precision", "roc_auc"]
    assert offered.positive_labels == ["no", "yes"]
    assert offered.minority_share == pytest.approx(20 / 150)
    iris = scorer_choices(session=session, dataset="iris", viewer=user, estimator="SVC")
    assert iris.target == "multiclass" and iris.positive_labels == []
    assert "neg_log_loss" not in [choice.name for choice in iris.choices]
    with pytest.raises(InvalidInput, match="Ridge is for regression"):
        scorer_choices(session=session, dataset="iris", viewer=user, estimator="Ridge")


class QueueThatTakesTrainings:
    def enqueue_training(self, training_run_id, *, task_id):
        pass


def test_a_training_from_a_run_scores_its_positive_class(runtime, session: Session, user):
    words = upload_rare_yes(session, user)
    tuned = make_run(
        session,
        user,
        estimator="LogisticRegression",
        dataset=words.name,
        param_grid={"C": [0.1, 1.0]},
        scoring="f1",
        pos_label="yes",
    )
    training = submit_training(
        session=session,
        queue=QueueThatTakesTrainings(),
        owner=user,
        request=TrainingRunCreate(tuning_run_id=str(tuned.id)),
    )

    execute_training(engine=runtime.engine, training_run_id=training.id)

    done = get_training_run(session=session, training_run_id=training.id)
    session.refresh(done)
    table = load_table(session=session, dataset_id=words.id)
    expected = train_model(
        "LogisticRegression", tuned.best_params, table, scoring="f1", pos_label="yes"
    )
    assert done.metrics == expected.metrics


def test_a_training_checks_what_the_estimator_has(session: Session, user):
    tuned = make_run(session, user, estimator="SVC", param_grid={"C": [0.1, 1.0]})
    with pytest.raises(InvalidInput, match="SVC has no predict_proba"):
        submit_training(
            session=session,
            queue=QueueThatTakesTrainings(),
            owner=user,
            request=TrainingRunCreate(tuning_run_id=str(tuned.id), scoring="neg_log_loss"),
        )
