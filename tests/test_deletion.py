"""Deleting a run removes what is its own and nothing of other runs; a dataset is deleted only
once nothing uses it; both for the owner and admins only."""

import uuid

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func
from sqlmodel import Session, col, select

from tuning.api.app import create_app
from tuning.config import Settings
from tuning.domain import RunStatus
from tuning.errors import Conflict, Forbidden, NotFound
from tuning.models import (
    Chunk,
    Dataset,
    DatasetFile,
    Model,
    ModelFile,
    Proposal,
    RunNote,
    RunTag,
    TrainingRun,
    Trial,
    TuningRun,
)
from tuning.schemas import RunChange
from tuning.service import add_note, change_run, delete_dataset, delete_run, get_run_summary

from factories import make_model, make_run, other_user, signed_in, upload_rare_yes

pytestmark = pytest.mark.database
OWNED = (Trial, Chunk, Proposal, RunNote, RunTag)


def furnished_run(session: Session, owner, **fields) -> TuningRun:
    """A finished run with trials, a chunk, a proposal, a note, tags and a trained model."""
    run = make_run(session, owner, **fields)
    session.add(Chunk(run_id=run.id, index=0, start=0, stop=6, task_id="t", state="done"))
    session.add(Proposal(run_id=run.id, index=0, chunk=0, params={"n_estimators": 10}))
    session.commit()
    add_note(
        session=session,
        settings=Settings(_env_file=None),
        run_id=run.id,
        author=owner,
        text="looks fine",
    )
    change_run(session=session, run_id=run.id, viewer=owner, change=RunChange(tags=["keep"]))
    make_model(session, run, owner)
    return run


def counts(session: Session, run_id: uuid.UUID) -> dict[str, int]:
    """How many rows each table holds for the run."""
    found = {
        kind.__name__: session.exec(
            select(func.count()).select_from(kind).where(col(kind.run_id) == run_id)
        ).one()
        for kind in OWNED
    }
    trainings = select(TrainingRun.id).where(TrainingRun.tuning_run_id == run_id)
    found["TrainingRun"] = len(session.exec(trainings).all())
    found["Model"] = session.exec(
        select(func.count()).select_from(Model).where(col(Model.training_run_id).in_(trainings))
    ).one()
    models = select(Model.id).where(col(Model.training_run_id).in_(trainings))
    found["ModelFile"] = session.exec(
        select(func.count()).select_from(ModelFile).where(col(ModelFile.model_id).in_(models))
    ).one()
    found["TuningRun"] = 0 if session.get(TuningRun, run_id) is None else 1
    return found


def test_deleting_a_run_removes_its_own_rows_and_nothing_of_other_runs(session, user):
    doomed = furnished_run(session, user)
    kept = furnished_run(session, user)
    child = make_run(session, user, n_trials=0, parent_id=doomed.id)
    before = counts(session, kept.id)
    assert all(before.values()) and all(counts(session, doomed.id).values())

    delete_run(session=session, run_id=doomed.id, viewer=user)

    session.expire_all()
    assert set(counts(session, doomed.id).values()) == {0}
    assert counts(session, kept.id) == before
    assert get_run_summary(session=session, run_id=child.id, viewer=user).parent_id is None


def test_only_the_owner_or_an_admin_deletes_a_run_and_never_an_active_one(session, user):
    run = make_run(session, user)
    with pytest.raises(Forbidden):
        delete_run(session=session, run_id=run.id, viewer=other_user(session))
    going = make_run(session, user, status=RunStatus.PROGRESS, n_trials=2)
    with pytest.raises(Conflict, match="cancel it first"):
        delete_run(session=session, run_id=going.id, viewer=user)
    training = make_model(session, run, user)
    session.get(TrainingRun, training.training_run_id).status = RunStatus.PROGRESS
    session.commit()
    with pytest.raises(Conflict, match="still being trained"):
        delete_run(session=session, run_id=run.id, viewer=user)

    admin = other_user(session, admin=True)
    finished = make_run(session, user)
    delete_run(session=session, run_id=finished.id, viewer=admin)
    with pytest.raises(NotFound):
        delete_run(session=session, run_id=finished.id, viewer=user)


def test_a_dataset_is_deleted_only_when_no_run_uses_it(session, user):
    upload = upload_rare_yes(session, user)
    run = make_run(session, user, dataset=upload.name, n_trials=0)
    with pytest.raises(NotFound):
        delete_dataset(session=session, dataset_id=upload.id, viewer=other_user(session))
    with pytest.raises(Conflict, match="1 tuning run"):
        delete_dataset(session=session, dataset_id=upload.id, viewer=user)

    delete_run(session=session, run_id=run.id, viewer=user)
    delete_dataset(session=session, dataset_id=upload.id, viewer=user)
    session.expire_all()
    assert session.get(Dataset, upload.id) is None
    assert session.get(DatasetFile, upload.id) is None  # its file with it
    iris = session.exec(select(Dataset).where(Dataset.name == "iris")).one()
    with pytest.raises(Forbidden, match="bundled"):
        delete_dataset(session=session, dataset_id=iris.id, viewer=other_user(session, admin=True))


@pytest.fixture(scope="module")
def client(runtime) -> TestClient:
    return TestClient(create_app(runtime))


def test_deleting_through_the_api(client, runtime, session):
    owner, headers = signed_in(runtime)
    _, stranger = signed_in(runtime)
    _, admin = signed_in(runtime, admin=True)
    run = furnished_run(session, owner)
    url = f"/api/v1/tuning/tune/{run.id}"
    assert client.delete(url, headers=stranger).status_code == 403
    assert client.delete("/api/v1/tuning/tune/not-an-id", headers=headers).status_code == 400
    going = make_run(session, owner, status=RunStatus.PENDING, n_trials=0)
    refused = client.delete(f"/api/v1/tuning/tune/{going.id}", headers=headers)
    assert refused.status_code == 409 and "cancel it first" in refused.json()["detail"]
    assert client.delete(url, headers=admin).status_code == 204
    assert client.get(f"{url}/status", headers=headers).status_code == 404

    upload = upload_rare_yes(session, owner)
    make_run(session, owner, dataset=upload.name, n_trials=0)
    make_run(session, owner, dataset=upload.name, n_trials=0)
    dataset_url = f"/api/v1/datasets/{upload.id}"
    assert client.delete(dataset_url, headers=stranger).status_code == 404
    in_use = client.delete(dataset_url, headers=headers)
    assert in_use.status_code == 409 and "2 tuning run(s)" in in_use.json()["detail"]
    unused = upload_rare_yes(session, owner)
    assert client.delete(f"/api/v1/datasets/{unused.id}", headers=headers).status_code == 204
    assert client.get(f"/api/v1/datasets/{unused.id}", headers=headers).status_code == 404
