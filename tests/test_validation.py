"""A bad submission raises one error naming its field, and nothing is stored or enqueued."""

import pytest
from sqlmodel import Session, func, select

from tuning.errors import InvalidInput
from tuning.models import TuningRun
from tuning.schemas import TuningRunCreate
from tuning.service import submit_run, upload_dataset

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
        max_bytes=10**6,
    )
    run_in = TuningRunCreate(
        **{**GOOD, "dataset": "churn", "cv": 5, "columns": {"group": "region"}}
    )
    with pytest.raises(InvalidInput) as caught:
        submit_run(
            session=session,
            queue=QueueThatMustNotBeCalled(),
            settings=settings,
            owner=user,
            run_in=run_in,
        )
    assert caught.value.field == "cv"
    assert "'region' has only 4 groups" in caught.value.reason
