"""A run's name and tags, at launch and later; archived runs, datasets and models leave the
lists and come back; all of it for the owner and admins only."""

import uuid

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from tuning.api.app import create_app
from tuning.errors import Forbidden, InvalidInput, NotFound
from tuning.models import RunTag
from tuning.schemas import RunChange, TuningRunCreate
from tuning.service import (
    archive_dataset,
    archive_model,
    change_run,
    check_submission,
    get_run_summary,
    list_datasets,
    list_runs,
    list_training_runs,
    run_filter_options,
    validate_run,
)
from tuning.service.commands.labels import clean_name, clean_tags

from factories import make_model, make_run, other_user, signed_in, upload_rare_yes

pytestmark = pytest.mark.database


def test_names_are_trimmed_and_limited():
    assert clean_name("  churn baseline  ") == "churn baseline"
    assert clean_name("   ") is None and clean_name(None) is None
    assert clean_name("x" * 200) == "x" * 200
    for bad, words in (("x" * 201, "201 characters"), ("a\nb", "control character")):
        with pytest.raises(InvalidInput) as error:
            clean_name(bad)
        assert error.value.field == "name" and words in error.value.reason


def test_tags_are_trimmed_lower_cased_and_kept_once_in_order():
    assert clean_tags([" Baseline", "churn", "baseline ", "Q3 review"]) == [
        "baseline",
        "churn",
        "q3 review",
    ]
    assert clean_tags(None) == [] and clean_tags([]) == []
    assert clean_tags([f"t{i}" for i in range(20)] + ["T0"]) == [f"t{i}" for i in range(20)]
    cases = [
        (["ok", " "], "tag 2 (' ') is empty"),
        (["x" * 51], "51 characters"),
        (["a,b"], "comma"),
        (["tab\there"], "control character"),
        ([f"t{i}" for i in range(21)], "21 tags; a run has at most 20"),
    ]
    for tags, words in cases:
        with pytest.raises(InvalidInput) as error:
            clean_tags(tags)
        assert error.value.field == "tags" and words in error.value.reason


def submission(**fields) -> TuningRunCreate:
    grid = {"n_estimators": [10]}
    return TuningRunCreate(
        dataset="iris", estimator="RandomForestClassifier", param_grid=grid, **fields
    )


def test_a_submission_carries_its_name_and_tags_and_names_what_is_wrong(session, runtime, user):
    run = validate_run(
        session=session,
        settings=runtime.settings,
        run_in=submission(name=" first look ", tags=["Iris", "iris", "quick"]),
        viewer=user,
    )
    assert run.name == "first look" and run.tags == ["iris", "quick"]

    errors = check_submission(
        session=session,
        settings=runtime.settings,
        run_in=submission(name="x" * 300, tags=["a,b"], cv=1),
        viewer=user,
    )
    assert {"name", "tags", "cv"} <= set(errors)


def tag_rows(session: Session, run_id: uuid.UUID) -> list[str]:
    return sorted(session.exec(select(RunTag.tag).where(RunTag.run_id == run_id)).all())


def test_a_run_is_renamed_retagged_archived_and_restored_by_its_owner_or_an_admin(session, user):
    run = make_run(session, user, n_trials=0)
    change = RunChange(name="forest, first pass", tags=["Baseline", "iris"])
    renamed = change_run(session=session, run_id=run.id, viewer=user, change=change)
    assert renamed.name == "forest, first pass" and renamed.tags == ["baseline", "iris"]
    assert renamed.label == "forest, first pass" and tag_rows(session, run.id) == renamed.tags

    only_tags = change_run(
        session=session, run_id=run.id, viewer=user, change=RunChange(tags=["x"])
    )
    assert only_tags.name == "forest, first pass" and tag_rows(session, run.id) == ["x"]

    stranger, admin = other_user(session), other_user(session, admin=True)
    with pytest.raises(Forbidden):
        change_run(session=session, run_id=run.id, viewer=stranger, change=RunChange(name="mine"))
    with pytest.raises(NotFound):
        change_run(session=session, run_id=uuid.uuid4(), viewer=user, change=RunChange(name="x"))
    archived = change_run(
        session=session, run_id=run.id, viewer=admin, change=RunChange(archived=True)
    )
    assert archived.archived_at is not None and archived.name == "forest, first pass"

    cleared = change_run(
        session=session, run_id=run.id, viewer=user, change=RunChange(name=None, tags=None)
    )
    assert cleared.name is None and cleared.tags == [] and tag_rows(session, run.id) == []
    assert cleared.label == "RandomForestClassifier on iris"
    with pytest.raises(InvalidInput):
        change_run(session=session, run_id=run.id, viewer=user, change=RunChange(tags=["a,b"]))
    assert get_run_summary(session=session, run_id=run.id, viewer=user).archived_at is not None


def test_archived_runs_leave_the_list_and_return_and_tags_filter_it(session, user):
    tagged = make_run(session, user, n_trials=0)
    change_run(session=session, run_id=tagged.id, viewer=user, change=RunChange(tags=["churn"]))
    other = make_run(session, user, n_trials=0)
    change_run(session=session, run_id=other.id, viewer=user, change=RunChange(tags=["q3"]))
    plain = make_run(session, user, n_trials=0)

    def listed(**filters) -> set[uuid.UUID]:
        return {run.id for run in list_runs(session=session, viewer=user, **filters).items}

    assert listed() == {tagged.id, other.id, plain.id}
    assert listed(tags=["Churn"]) == {tagged.id}
    assert listed(tags=["churn", "q3"]) == {tagged.id, other.id}
    assert listed(tags=["nothing"]) == set()
    assert run_filter_options(session=session, viewer=user).tags == ["churn", "q3"]
    stranger = other_user(session)
    assert run_filter_options(session=session, viewer=stranger).tags == []

    change_run(session=session, run_id=tagged.id, viewer=user, change=RunChange(archived=True))
    assert listed() == {other.id, plain.id}
    assert listed(archived=True) == {tagged.id}
    assert listed(archived=None) == {tagged.id, other.id, plain.id}
    assert listed(tags=["churn"]) == set() and listed(tags=["churn"], archived=True) == {tagged.id}
    change_run(session=session, run_id=tagged.id, viewer=user, change=RunChange(archived=False))
    assert listed() == {tagged.id, other.id, plain.id}


def test_archived_uploads_leave_the_dataset_lists_and_return(session, user):
    upload = upload_rare_yes(session, user)

    def names(**kwargs) -> set[str]:
        return {d.name for d in list_datasets(session=session, viewer=user, **kwargs)}

    assert upload.name in names()
    with pytest.raises(NotFound):  # another user's upload does not exist for them
        archive_dataset(
            session=session, dataset_id=upload.id, viewer=other_user(session), archived=True
        )
    archive_dataset(session=session, dataset_id=upload.id, viewer=user, archived=True)
    assert upload.name not in names() and names(archived=True) == {upload.name}
    assert upload.name not in {c.name for c in list_datasets(session=session, viewer=user)}
    admin = other_user(session, admin=True)
    archive_dataset(session=session, dataset_id=upload.id, viewer=admin, archived=False)
    assert upload.name in names() and names(archived=True) == set()
    iris = next(d for d in list_datasets(session=session, viewer=user) if d.name == "iris")
    with pytest.raises(Forbidden):
        archive_dataset(session=session, dataset_id=iris.id, viewer=admin, archived=True)


def test_archived_models_leave_the_models_list_and_return(session, user):
    model = make_model(session, make_run(session, user), user)

    def listed(**kwargs) -> set[uuid.UUID]:
        trainings = list_training_runs(session=session, viewer=user, **kwargs)
        return {training.id for training in trainings}

    assert model.training_run_id in listed()
    with pytest.raises(Forbidden):
        archive_model(session=session, model_id=model.id, viewer=other_user(session), archived=True)
    archive_model(session=session, model_id=model.id, viewer=user, archived=True)
    assert model.training_run_id not in listed() and model.training_run_id in listed(archived=True)
    archive_model(session=session, model_id=model.id, viewer=user, archived=False)
    assert model.training_run_id in listed()


@pytest.fixture(scope="module")
def client(runtime) -> TestClient:
    return TestClient(create_app(runtime))


def test_names_tags_and_archive_through_the_api(client, runtime):
    _, headers = signed_in(runtime)
    _, stranger = signed_in(runtime)
    _, admin = signed_in(runtime, admin=True)
    body = {
        "dataset": "iris",
        "estimator": "RandomForestClassifier",
        "param_grid": {"n_estimators": [10]},
        "cv": 3,
        "name": "  quick look ",
        "tags": ["Iris", "smoke"],
    }
    accepted = client.post("/api/v1/tuning/tune", json=body, headers=headers)
    assert accepted.status_code == 202, accepted.text
    run_id = accepted.json()["tuning_run_id"]
    listed = client.get("/api/v1/tuning/tune?tags=SMOKE,other", headers=headers).json()["items"]
    assert [(r["id"], r["name"], r["tags"]) for r in listed] == [
        (run_id, "quick look", ["iris", "smoke"])
    ]

    refused = client.post("/api/v1/tuning/tune", json={**body, "tags": ["a,b"]}, headers=headers)
    assert refused.status_code == 422 and refused.json()["detail"][0]["loc"] == ["body", "tags"]
    refused = client.post("/api/v1/tuning/tune", json={**body, "name": "x" * 201}, headers=headers)
    assert refused.status_code == 422 and refused.json()["detail"][0]["loc"] == ["body", "name"]

    url = f"/api/v1/tuning/tune/{run_id}"
    assert client.patch(url, json={"name": "theirs"}, headers=stranger).status_code == 403
    assert client.patch(url, json={"colour": "red"}, headers=headers).status_code == 422
    changed = client.patch(url, json={"tags": ["final"], "archived": True}, headers=admin)
    assert changed.status_code == 200, changed.text
    assert changed.json()["name"] == "quick look" and changed.json()["tags"] == ["final"]
    assert changed.json()["archived_at"] is not None
    live = client.get("/api/v1/tuning/tune", headers=headers).json()["items"]
    archived = client.get("/api/v1/tuning/tune?archived=true", headers=headers).json()["items"]
    assert run_id not in {r["id"] for r in live} and [r["id"] for r in archived] == [run_id]
    restored = client.patch(url, json={"archived": False, "name": None}, headers=headers).json()
    assert restored["archived_at"] is None and restored["name"] is None
    assert (
        client.patch(f"/api/v1/tuning/tune/{uuid.uuid4()}", json={}, headers=headers).status_code
        == 404
    )


def test_datasets_and_models_are_archived_through_the_api(client, runtime, session):
    owner, headers = signed_in(runtime)
    _, stranger = signed_in(runtime)
    upload = upload_rare_yes(session, owner)
    url = f"/api/v1/datasets/{upload.id}"
    assert client.patch(url, json={"archived": True}, headers=stranger).status_code == 404
    archived = client.patch(url, json={"archived": True}, headers=headers)
    assert archived.status_code == 200 and archived.json()["archived_at"] is not None
    names = {d["name"] for d in client.get("/api/v1/datasets", headers=headers).json()}
    assert upload.name not in names
    hidden = client.get("/api/v1/datasets?archived=true", headers=headers).json()
    assert [d["name"] for d in hidden] == [upload.name]
    assert (
        client.patch(url, json={"archived": False}, headers=headers).json()["archived_at"] is None
    )

    model = make_model(session, make_run(session, owner), owner)
    url = f"/api/v1/models/{model.id}"
    assert client.patch(url, json={"archived": True}, headers=stranger).status_code == 403
    answer = client.patch(url, json={"archived": True}, headers=headers)
    assert answer.status_code == 200 and answer.json()["archived_at"] is not None
