"""Bundled and uploaded datasets: clear errors, stored in the database, tuned for real."""

import uuid

import numpy as np
import pandas as pd
import pytest
from sqlmodel import Session

from tuning.config import Settings
from tuning.domain import RunStatus, TaskType
from tuning.errors import InvalidInput, NotFound
from tuning.ml.checks import label_counts
from tuning.ml.datasets import BUNDLED, load_bundled, profile_of, read_csv
from tuning.models import Dataset, DatasetFile, User
from tuning.service import (
    create_user,
    get_dataset,
    get_dataset_by_id,
    list_datasets,
    load_table,
    upload_dataset,
)
from tuning.service.data.datasets import dataset_classes

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


def upload_customers(session: Session, owner: User, name: str) -> Dataset:
    """`customers_csv()` uploaded by `owner` as `name`, its target the churn column."""
    return upload_dataset(
        session=session,
        owner=owner,
        name=name,
        content=customers_csv(),
        target="churn",
        settings=Settings(_env_file=None),
    )


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


def test_task_and_column_kinds_are_read_from_the_data():
    table = read_csv(customers_csv(), "churn")
    assert table.task is TaskType.CLASSIFICATION
    kinds = {c["name"]: c["kind"] for c in profile_of(table, "churn")["columns"]}
    assert kinds == {"age": "numeric", "plan": "categorical", "monthly_spend": "numeric"}
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
    dataset = upload_customers(session, user, f"churn-{user.id}")
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
        upload_customers(session, user, dataset.name)


@pytest.mark.database
def test_a_name_means_your_own_upload_and_an_admin_gives_an_id_when_two_share_it(session, user):
    other, _ = create_user(session=session, name=f"other-{uuid.uuid4().hex[:8]}")
    admin, _ = create_user(session=session, name=f"admin-{uuid.uuid4().hex[:8]}", is_admin=True)
    name = f"sales-{uuid.uuid4().hex[:6]}"
    mine, theirs = (upload_customers(session, owner, name) for owner in (user, other))

    assert get_dataset(session=session, name=name, viewer=user).id == mine.id
    assert get_dataset(session=session, name=name, viewer=other).id == theirs.id
    with pytest.raises(InvalidInput, match="2 users have a dataset named"):
        get_dataset(session=session, name=name, viewer=admin)
    assert get_dataset(session=session, name=str(theirs.id), viewer=admin).id == theirs.id
    with pytest.raises(InvalidInput, match="unknown dataset"):
        get_dataset(session=session, name=str(theirs.id), viewer=user)
    with pytest.raises(NotFound):
        get_dataset_by_id(session=session, dataset_id=theirs.id, viewer=user)


@pytest.mark.database
def test_class_counts_are_read_once_and_kept_on_the_row(session, user):
    uploaded = upload_customers(session, user, f"counts-{uuid.uuid4().hex[:6]}")
    expected = [
        (label, int(count)) for label, count in label_counts(read_csv(customers_csv(), "churn").y)
    ]
    assert dataset_classes(session=session, dataset=uploaded) == expected

    # A row stored before counts were kept (as after the migration) gets them on first use.
    uploaded.classes = None
    session.add(uploaded)
    session.commit()
    assert dataset_classes(session=session, dataset=uploaded) == expected
    session.expire_all()
    assert session.get(Dataset, uploaded.id).classes == [list(pair) for pair in expected]


@pytest.mark.database
def test_a_file_stored_before_the_target_checks_still_loads(session: Session, user):
    """Uploads are judged once, at upload: a file stored under older rules (here a class of a
    single row, refused today) is read with its stored task, so its runs keep working."""
    rows = "\n".join(f"{i},{'b' if i == 0 else 'a' if i % 2 else 'c'}" for i in range(30))
    content = f"x,kind\n{rows}\n".encode()
    with pytest.raises(InvalidInput, match="single row"):
        read_csv(content, "kind")
    dataset = Dataset(
        name=f"old-{uuid.uuid4().hex[:6]}",
        kind="csv",
        task=TaskType.CLASSIFICATION,
        target="kind",
        n_rows=30,
        n_columns=1,
        owner_id=user.id,
    )
    session.add(dataset)
    session.flush()
    session.add(DatasetFile(dataset_id=dataset.id, content=content))
    session.commit()

    table = load_table(session=session, dataset_id=dataset.id)
    assert table.task is TaskType.CLASSIFICATION and len(table.y) == 30
