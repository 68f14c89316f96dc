"""Bundled and uploaded datasets: clear errors, stored in the database, tuned for real."""

import numpy as np
import pandas as pd
import pytest
from sqlmodel import Session

from tuning.domain import RunStatus, TaskType
from tuning.errors import InvalidInput
from tuning.ml.datasets import BUNDLED, column_types, load_bundled, read_csv
from tuning.service import list_datasets, load_table, upload_dataset

from helpers import submit, wait_until_finished


def customers_csv(n_rows: int = 120, seed: int = 0) -> bytes:
    """A small table with numbers, text categories, gaps and a yes/no target."""
    rng = np.random.default_rng(seed)
    age = rng.integers(18, 80, n_rows).astype(float)
    age[::17] = np.nan
    plan = rng.choice(["basic", "plus", "pro"], n_rows).astype(object)
    plan[::23] = None
    spend = rng.normal(50, 15, n_rows).round(2)
    churn = np.where((spend < 45) | (plan == "basic"), "yes", "no")
    frame = pd.DataFrame({"age": age, "plan": plan, "monthly_spend": spend, "churn": churn})
    return frame.to_csv(index=False).encode()


@pytest.mark.parametrize(
    ("content", "target", "field", "reason"),
    [
        (b"", "y", "file", "empty"),
        (b"a,b\n1,2\n", "y", "target", "no column named 'y'"),
        (b"a,y\n1,\n2,\n", "y", "target", "has no values"),
        (b"a,y\n1,3\n2,3\n", "y", "target", "single value"),
        (b"y\n1\n2\n", "y", "file", "no feature columns"),
        (b'a,b\n"1,2\n', "b", "file", "not a readable CSV"),
        (b"\xff\xfe\x00bad", "y", "file", "not a readable CSV"),
    ],
)
def test_bad_csv_files_are_refused_with_the_reason(content, target, field, reason):
    with pytest.raises(InvalidInput) as caught:
        read_csv(content, target)
    assert caught.value.field == field
    assert reason in caught.value.reason, caught.value.reason


def test_a_file_over_the_limit_is_refused_before_parsing():
    with pytest.raises(InvalidInput, match="limit is 10 bytes"):
        read_csv(b"a,y\n1,2\n3,4\n", "y", max_bytes=10)


def test_task_and_column_types_are_read_from_the_data():
    table = read_csv(customers_csv(), "churn")
    assert table.task is TaskType.CLASSIFICATION
    assert column_types(table.X) == {
        "age": "numeric",
        "plan": "categorical",
        "monthly_spend": "numeric",
    }
    numeric_target = read_csv(b"x,y\n1,0.5\n2,1.7\n3,2.9\n4,3.1\n", "y")
    assert numeric_target.task is TaskType.REGRESSION


@pytest.mark.parametrize("name", list(BUNDLED))
def test_bundled_datasets_load_offline(name):
    table = load_bundled(name)
    assert len(table.X) == len(table.y) > 100
    assert table.task is BUNDLED[name].task


@pytest.mark.database
def test_bundled_datasets_are_listed(session: Session, user):
    names = {d.name for d in list_datasets(session=session, viewer=user)}
    assert set(BUNDLED) <= names


@pytest.mark.database
@pytest.mark.usefixtures("worker")
def test_an_uploaded_csv_is_stored_in_the_database_and_tuned(runtime, session, user):
    dataset = upload_dataset(
        session=session,
        owner=user,
        name=f"churn-{user.id}",
        content=customers_csv(),
        target="churn",
        max_bytes=10_000,
    )
    assert dataset.kind == "csv" and dataset.task is TaskType.CLASSIFICATION
    assert dataset.n_rows == 120 and dataset.n_columns == 3
    assert len(load_table(session=session, dataset_id=dataset.id).y) == 120

    run_id = submit(
        runtime,
        user,
        dataset=dataset.name,
        estimator="LogisticRegression",
        param_grid={"C": [0.1, 1.0]},
        scoring="f1_macro",
    )
    status = wait_until_finished(runtime, run_id)
    assert status.status is RunStatus.SUCCESS, status.error
    assert status.result.best_score > 0.5

    with pytest.raises(InvalidInput, match="you already have a dataset named"):
        upload_dataset(
            session=session,
            owner=user,
            name=dataset.name,
            content=customers_csv(),
            target="churn",
            max_bytes=10_000,
        )
