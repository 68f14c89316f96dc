"""Sharing a run or an upload through the API and the CLI: what its owner, a reader, a
contributor, a stranger and an admin may each do; a share with everyone; withdrawing a share;
the lists. On the real database (SQLite, and PostgreSQL in its pass), without a worker but for
the last test, where a reader tunes on a shared upload."""

import uuid
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session
from test_dashboard import recorded_queries

from tuning.api.app import create_app
from tuning.cli import main
from tuning.config import get_settings
from tuning.domain import RunStatus
from tuning.errors import InvalidInput
from tuning.models import User
from tuning.service import create_user, list_runs, run_shares, share_dataset, share_run

from factories import make_run, rare_yes_csv, upload_rare_yes
from helpers import submit, wait_until_finished
from stack import stack_env

pytestmark = pytest.mark.database

ROLES = ("owner", "reader", "contributor", "stranger", "admin")


@pytest.fixture(scope="module")
def client(runtime) -> TestClient:
    return TestClient(create_app(runtime))


@dataclass
class Cast:
    users: dict[str, User]
    headers: dict[str, dict[str, str]]


@pytest.fixture
def cast(runtime) -> Cast:
    """A user per role; the roles' shares are made by `shared_run` and `shared_upload`."""
    users, headers = {}, {}
    with Session(runtime.engine, expire_on_commit=False) as session:
        for role in ROLES:
            name = f"{role}-{uuid.uuid4().hex[:8]}"
            users[role], token = create_user(session=session, name=name, is_admin=role == "admin")
            headers[role] = {"Authorization": f"Bearer {token}"}
    return Cast(users, headers)


def _share_both(runtime, cast: Cast, share, key: dict, levels: tuple[str, str]) -> None:
    """The reader at the first level, the contributor at the second."""
    owner = cast.users["owner"]
    with Session(runtime.engine) as session:
        for role, level in zip(("reader", "contributor"), levels, strict=True):
            share(session=session, user=cast.users[role].name, level=level, by=owner, **key)


@pytest.fixture
def shared_run(runtime, cast: Cast) -> str:
    """A finished run of the owner's, shared with the reader to read, the contributor to
    contribute."""
    with Session(runtime.engine, expire_on_commit=False) as session:
        run = make_run(session, cast.users["owner"])
    _share_both(runtime, cast, share_run, {"run_id": run.id}, ("read", "contribute"))
    return str(run.id)


# Who may do what with a shared run: readers read; contributors also note and train; only
# the owner and admins cancel, change, delete and share it; a stranger nothing.
ALLOWED = {
    "read": {"owner", "reader", "contributor", "admin"},
    "note": {"owner", "contributor", "admin"},
    "train": {"owner", "contributor", "admin"},
    "manage": {"owner", "admin"},
}
RUN_ACTIONS = {
    "results": ("read", "GET", "/api/v1/tuning/tune/{id}/results", None, 200),
    "trials csv": ("read", "GET", "/api/v1/tuning/tune/{id}/results?format=csv", None, 200),
    "notes": ("read", "GET", "/api/v1/tuning/tune/{id}/notes", None, 200),
    "status": ("read", "GET", "/api/v1/tuning/tune/{id}/status", None, 200),
    "add a note": ("note", "POST", "/api/v1/tuning/tune/{id}/notes", {"text": "seen"}, 201),
    "train": ("train", "POST", "/api/v1/models/train", {"tuning_run_id": "{id}"}, 202),
    "cancel": ("manage", "POST", "/api/v1/tuning/tune/{id}/cancel", None, 200),
    "rename": ("manage", "PATCH", "/api/v1/tuning/tune/{id}", {"name": "mine now"}, 200),
    "delete": ("manage", "DELETE", "/api/v1/tuning/tune/{id}", None, 204),
    "list shares": ("manage", "GET", "/api/v1/tuning/tune/{id}/shares", None, 200),
    "share": ("manage", "PUT", "/api/v1/tuning/tune/{id}/shares/{reader}", {}, 200),
    "unshare": ("manage", "DELETE", "/api/v1/tuning/tune/{id}/shares/{reader}", None, 204),
}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("action", RUN_ACTIONS)
def test_who_may_do_what_with_a_shared_run(client, cast, shared_run, role, action):
    need, method, url, body, ok = RUN_ACTIONS[action]
    if body is not None:
        body = {k: v.format(id=shared_run) for k, v in body.items()}
    answer = client.request(
        method,
        url.format(id=shared_run, reader=cast.users["reader"].name),
        json=body,
        headers=cast.headers[role],
    )
    if role in ALLOWED[need]:
        assert answer.status_code == ok, answer.text
    else:
        assert answer.status_code == 403, answer.text
        detail = answer.json()["detail"]
        if role == "stranger":
            assert detail.endswith("belongs to another user")
        else:
            assert "is shared with you to read it" in detail, detail


def test_a_run_shared_with_me_is_listed_apart_and_withdrawn(client, cast, shared_run):
    owner = cast.headers["owner"]

    def shared_with(role: str) -> list[str]:
        page = client.get("/api/v1/tuning/tune?shared=with_me", headers=cast.headers[role])
        assert set(page.json()) == {"items", "total", "limit", "offset"}
        return [item["id"] for item in page.json()["items"]]

    def own(role: str) -> list[str]:
        page = client.get("/api/v1/tuning/tune", headers=cast.headers[role]).json()
        return [item["id"] for item in page["items"]]

    # Other tests share runs with everyone meanwhile: this run's place is what is checked.
    assert shared_run in shared_with("reader") and shared_run not in own("reader")
    assert shared_run not in shared_with("stranger") + shared_with("owner")
    assert shared_run in own("owner") and shared_run in own("admin")

    everyone = f"/api/v1/tuning/tune/{shared_run}/shares/everyone"
    assert client.put(everyone, json={}, headers=owner).status_code == 200
    assert shared_run in shared_with("stranger")  # every signed-in user, new ones too
    stranger = cast.headers["stranger"]
    results = f"/api/v1/tuning/tune/{shared_run}/results"
    assert client.get(results, headers=stranger).status_code == 200
    note = f"/api/v1/tuning/tune/{shared_run}/notes"
    assert client.post(note, json={"text": "x"}, headers=stranger).status_code == 403

    shares = client.get(f"/api/v1/tuning/tune/{shared_run}/shares", headers=owner).json()
    assert [(s["user"], s["level"]) for s in shares] == [
        (cast.users["reader"].name, "read"),
        (cast.users["contributor"].name, "contribute"),
        ("everyone", "read"),
    ]
    assert {s["created_by"] for s in shares} == {cast.users["owner"].name}

    for user in ("everyone", cast.users["reader"].name):
        url = f"/api/v1/tuning/tune/{shared_run}/shares/{user}"
        assert client.delete(url, headers=owner).status_code == 204
    assert shared_run not in shared_with("reader") + shared_with("stranger")
    refused = client.get(results, headers=cast.headers["reader"])
    assert refused.status_code == 403 and "belongs to another user" in refused.json()["detail"]
    gone = client.delete(everyone, headers=owner)
    assert gone.status_code == 404 and "is not shared with 'everyone'" in gone.json()["detail"]


def test_a_share_is_raised_in_place_and_refuses_what_it_cannot_mean(client, cast, shared_run):
    owner = cast.headers["owner"]
    base = f"/api/v1/tuning/tune/{shared_run}/shares"
    reader = cast.users["reader"].name
    raised = client.put(f"{base}/{reader}", json={"level": "contribute"}, headers=owner)
    assert raised.status_code == 200 and raised.json()["level"] == "contribute"
    note = client.post(
        f"/api/v1/tuning/tune/{shared_run}/notes",
        json={"text": "ok"},
        headers=cast.headers["reader"],
    )
    assert note.status_code == 201
    assert len(client.get(base, headers=owner).json()) == 2  # raised, not added

    bad_level = client.put(f"{base}/{reader}", json={"level": "admin"}, headers=owner)
    assert bad_level.status_code == 422
    nobody = client.put(f"{base}/nobody-{uuid.uuid4().hex[:6]}", json={}, headers=owner)
    assert nobody.status_code == 404 and "no user named" in nobody.json()["detail"]
    itself = client.put(f"{base}/{cast.users['owner'].name}", json={}, headers=owner)
    assert itself.status_code == 422 and "owns it" in itself.json()["detail"][0]["msg"]
    assert (
        client.put(
            f"/api/v1/tuning/tune/{uuid.uuid4()}/shares/x", json={}, headers=owner
        ).status_code
        == 404
    )


def test_nobody_may_be_named_everyone(session):
    with pytest.raises(InvalidInput, match="means every user"):
        create_user(session=session, name="Everyone")


@pytest.fixture
def shared_upload(runtime, cast: Cast) -> str:
    """An upload of the owner's, shared with the reader to use, the contributor to download."""
    with Session(runtime.engine, expire_on_commit=False) as session:
        upload = upload_rare_yes(session, cast.users["owner"])
    _share_both(runtime, cast, share_dataset, {"dataset_id": upload.id}, ("use", "download"))
    return str(upload.id)


# An upload: anyone it is shared with lists it and tunes on it; only a "download" share (here
# the contributor's), its owner and admins download it; its owner and admins share it.
DATASET_ALLOWED = {
    "use": {"owner", "reader", "contributor", "admin"},
    "download": {"owner", "contributor", "admin"},
    "manage": {"owner", "admin"},
}
DATASET_ACTIONS = {
    "profile": ("use", "GET", "/api/v1/datasets/{id}", None, 200),
    "tune on": ("use", "POST", "/api/v1/tuning/tune", None, 202),
    "download": ("download", "GET", "/api/v1/datasets/{id}/download", None, 200),
    "archive": ("manage", "PATCH", "/api/v1/datasets/{id}", {"archived": True}, 200),
    "list shares": ("manage", "GET", "/api/v1/datasets/{id}/shares", None, 200),
    "share": ("manage", "PUT", "/api/v1/datasets/{id}/shares/{reader}", {"level": "download"}, 200),
}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("action", DATASET_ACTIONS)
def test_who_may_do_what_with_a_shared_upload(client, cast, shared_upload, role, action):
    need, method, url, body, ok = DATASET_ACTIONS[action]
    if action == "tune on":
        body = {
            "dataset": shared_upload,
            "estimator": "LogisticRegression",
            "param_grid": {"C": [1.0]},
            "cv": 3,
        }
    url = url.format(id=shared_upload, reader=cast.users["reader"].name)
    answer = client.request(method, url, json=body, headers=cast.headers[role])
    if role in DATASET_ALLOWED[need]:
        assert answer.status_code == ok, answer.text
        if action == "download":
            assert answer.content == rare_yes_csv()
    elif role == "stranger":  # not shared with them: it does not exist for them
        assert answer.status_code == (422 if action == "tune on" else 404), answer.text
    else:
        assert answer.status_code == 403, answer.text


def test_a_shared_upload_is_listed_and_withdrawn(client, cast, shared_upload):
    def listed(role: str) -> set[str]:
        return {d["id"] for d in client.get("/api/v1/datasets", headers=cast.headers[role]).json()}

    assert shared_upload in listed("reader") and shared_upload not in listed("stranger")
    owner = cast.headers["owner"]
    everyone = f"/api/v1/datasets/{shared_upload}/shares/everyone"
    assert client.put(everyone, json={}, headers=owner).json()["level"] == "use"
    assert shared_upload in listed("stranger")
    download = f"/api/v1/datasets/{shared_upload}/download"
    assert client.get(download, headers=cast.headers["stranger"]).status_code == 403
    assert client.delete(everyone, headers=owner).status_code == 204
    reader = f"/api/v1/datasets/{shared_upload}/shares/{cast.users['reader'].name}"
    assert client.delete(reader, headers=owner).status_code == 204
    assert shared_upload not in listed("stranger") and shared_upload not in listed("reader")

    bundled = client.get("/api/v1/datasets", headers=owner).json()
    iris = next(d["id"] for d in bundled if d["name"] == "iris")
    refused = client.put(f"/api/v1/datasets/{iris}/shares/everyone", json={}, headers=owner)
    assert refused.status_code == 403 and "bundled" in refused.json()["detail"]
    no_file = client.get(f"/api/v1/datasets/{iris}/download", headers=owner)
    assert no_file.status_code == 404 and "no uploaded file" in no_file.json()["detail"]


def test_the_status_of_a_pending_shared_run_reads_as_the_spec_says(client, runtime, cast):
    with Session(runtime.engine, expire_on_commit=False) as session:
        run = make_run(session, cast.users["owner"], status=RunStatus.PENDING, n_trials=0)
        share_run(session=session, run_id=run.id, user=cast.users["reader"].name, by=None)
    answer = client.get(f"/api/v1/tuning/tune/{run.id}/status", headers=cast.headers["reader"])
    assert answer.status_code == 200 and answer.json()["status"] in ("PENDING", "PROGRESS")
    # The spec's fields, and a queued run's place beside them.
    assert set(answer.json()) - {"queue"} == {
        "tuning_run_id",
        "task_id",
        "status",
        "progress",
        "result",
        "error",
    }


def test_the_cli_shares_and_withdraws_as_the_run_s_owner(
    runtime, settings, cast, monkeypatch, capsys
):
    for name, value in stack_env(settings).items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    with Session(runtime.engine, expire_on_commit=False) as session:
        run = make_run(session, cast.users["owner"])
    reader = cast.users["reader"].name
    try:
        assert main(["share", str(run.id), reader, "--level", "contribute"]) == 0
        assert f"shared with {reader} (contribute)" in capsys.readouterr().out
        with Session(runtime.engine) as session:
            shares = run_shares(session=session, run_id=run.id, viewer=None)
        assert [(s.user, s.level, s.created_by) for s in shares] == [
            (reader, "contribute", cast.users["owner"].name)
        ]
        assert main(["unshare", str(run.id), reader]) == 0
        assert main(["unshare", str(run.id), reader]) == 2
        assert "is not shared with" in capsys.readouterr().err
    finally:
        get_settings.cache_clear()


@pytest.mark.usefixtures("worker")
def test_a_reader_tunes_on_a_shared_upload_with_a_real_worker(client, runtime, cast):
    """The reader names the upload by id; the worker reads the owner's file; the run is the
    reader's own, and the owner sees it only if the reader shares it back."""
    owner, reader = cast.users["owner"], cast.users["reader"]
    with Session(runtime.engine, expire_on_commit=False) as session:
        upload = upload_rare_yes(session, owner)
        share_dataset(session=session, dataset_id=upload.id, user=reader.name, by=owner)
    run_id = submit(
        runtime,
        reader,
        dataset=str(upload.id),
        estimator="LogisticRegression",
        param_grid={"C": [0.1, 1.0]},
    )
    assert wait_until_finished(runtime, run_id).status is RunStatus.SUCCESS
    results = client.get(f"/api/v1/tuning/tune/{run_id}/results", headers=cast.headers["reader"])
    assert results.status_code == 200 and results.json()["total_trials"] == 2
    assert results.json()["run"]["dataset"] == upload.name
    theirs = client.get(f"/api/v1/tuning/tune/{run_id}/results", headers=cast.headers["owner"])
    assert theirs.status_code == 403
    download = client.get(f"/api/v1/datasets/{upload.id}/download", headers=cast.headers["reader"])
    assert download.status_code == 403 and "download" in download.json()["detail"]


def test_runs_shared_with_me_are_one_query_whatever_their_number(runtime, cast):
    reader = cast.users["reader"]
    with Session(runtime.engine, expire_on_commit=False) as session:
        for n in range(30):
            run = make_run(session, cast.users["owner"], n_trials=0)
            level = "contribute" if n % 2 else "read"
            share_run(session=session, run_id=run.id, user=reader.name, level=level, by=None)
        with recorded_queries() as queries:
            page = list_runs(session=session, viewer=reader, shared_with_me=True, limit=20)
    assert len(queries) == 1 and "EXISTS" in queries[0][0].upper()
    assert page.total == 30 and len(page.items) == 20
