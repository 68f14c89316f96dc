"""Names, tags, archive and delete on the dashboard's pages, through AppTest."""

import uuid

import pytest
from sqlmodel import Session
from test_dashboard import account, dashboard, open_app, texts  # noqa: F401 - fixtures

from dashboard_ui.support import COMPARE_PAGE, MODELS_PAGE, NEW_RUN_PAGE, RUN_PAGE
from tuning.domain import RunStatus
from tuning.models import TuningRun
from tuning.schemas import RunChange
from tuning.service import change_run, create_user, get_run_summary, list_datasets, list_runs

from factories import make_model, make_run, upload_rare_yes

pytestmark = pytest.mark.database


@pytest.fixture
def analyst(request: pytest.FixtureRequest):
    """test_dashboard's `account`: a user and their token, the dashboard on the test stack."""
    return request.getfixturevalue("account")


def named(session: Session, run: TuningRun, user, **change) -> None:
    change_run(session=session, run_id=run.id, viewer=user, change=RunChange(**change))


def test_runs_shows_names_and_tags_filters_by_tag_and_shows_archived_on_request(analyst, session):
    user, token = analyst
    plain_run = make_run(session, user, n_trials=0)
    tagged = make_run(session, user, n_trials=0)
    named(session, tagged, user, name="churn *first*", tags=["churn", "q3"])
    archived = make_run(session, user, n_trials=0)
    named(session, archived, user, tags=["churn"], archived=True)

    app = open_app(token)
    table = app.dataframe[0].value
    assert list(table["id"]) == [str(tagged.id), str(plain_run.id)]
    assert list(table["name"]) == ["churn *first*", "RandomForestClassifier on iris"]
    assert list(table["tags"][0]) == ["churn", "q3"]
    assert app.multiselect(key="runs.tags").options == ["churn", "q3"]

    app.multiselect(key="runs.tags").set_value(["churn"]).run()
    assert list(app.dataframe[0].value["id"]) == [str(tagged.id)]
    app.toggle(key="runs.archived").set_value(True).run()
    shown = app.dataframe[0].value
    assert list(shown["id"]) == [str(archived.id), str(tagged.id)]
    assert list(shown["archived"]) == [True, False]


def monitor(token: str, run: TuningRun):
    return open_app(token, RUN_PAGE, run=str(run.id))


def test_the_monitor_renames_tags_archives_and_deletes_after_asking(analyst, session):
    user, token = analyst
    run = make_run(session, user)
    app = monitor(token, run)
    assert texts(app, "title") == ["RandomForestClassifier on iris"]

    app.text_input[0].set_value("forest, first pass")
    app.text_input[1].set_value("Baseline, iris, a,")
    app.button[[b.label for b in app.button].index("Save")].click().run()
    assert texts(app, "title") == ["forest, first pass"]
    summary = get_run_summary(session=session, run_id=run.id, viewer=user)
    assert summary.name == "forest, first pass" and summary.tags == ["baseline", "iris", "a"]

    app.button(key="run.archive").click().run()
    assert get_run_summary(session=session, run_id=run.id, viewer=user).archived_at is not None
    assert app.button(key="run.archive").label == "Restore"
    app.button(key="run.archive").click().run()
    assert get_run_summary(session=session, run_id=run.id, viewer=user).archived_at is None

    app.button(key="run.delete").click().run()
    assert any("cannot be undone" in w for w in texts(app, "warning"))
    app.button(key="run.delete.no").click().run()
    assert session.get(TuningRun, run.id) is not None
    app.button(key="run.delete").click().run()
    app.button(key="run.delete.yes").click().run()
    session.expunge_all()
    assert session.get(TuningRun, run.id) is None


def test_new_run_takes_a_name_and_tags_and_run_again_carries_the_tags_only(analyst, session):
    user, token = analyst
    app = open_app(token, NEW_RUN_PAGE)
    app.text_input(key="new.tags").set_value("ok, " + "x" * 51).run()
    assert any("51 characters" in e for e in texts(app, "error"))
    app.text_input(key="new.run_name").set_value("  iris, quick  ").run()
    app.text_input(key="new.tags").set_value("Smoke, iris").run()
    assert not texts(app, "error")
    app.button[[b.label for b in app.button].index("Launch run")].click().run()
    run = list_runs(session=session, viewer=user, limit=1).items[0]
    assert run.name == "iris, quick" and run.tags == ["smoke", "iris"]

    again = open_app(token, RUN_PAGE, run=str(run.id))
    again.button(key="run.again").click().run()
    assert again.text_input(key="new.tags").value == "smoke, iris"
    assert again.text_input(key="new.run_name").value == ""


def test_compare_labels_runs_by_name_and_shows_the_parent(analyst, session):
    user, token = analyst
    parent = make_run(session, user)
    named(session, parent, user, name="wide grid")
    child = make_run(session, user, parent_id=parent.id)
    named(session, child, user, name="wide grid")  # alike: told apart by number and short id

    app = open_app(token, COMPARE_PAGE, runs=f"{parent.id},{child.id}")
    table = app.dataframe[0].value
    first = f"1. wide grid ({str(parent.id)[:8]})"
    assert list(table["run"]) == [first, f"2. wide grid ({str(child.id)[:8]})"]
    assert table["refines"].isna()[0] and table["refines"][1] == first


def test_models_hides_archived_models_and_restores_them(analyst, session):
    user, token = analyst
    model = make_model(session, make_run(session, user), user)
    app = open_app(token, MODELS_PAGE)
    key = f"models.archive.{model.id}"
    app.button(key=key).click().run()
    assert not [b for b in app.button if b.key == key]
    app.toggle(key="models.archived").set_value(True).run()
    app.button(key=key).click().run()
    session.expire_all()
    assert session.get(type(model), model.id).archived_at is None


def test_new_run_lists_the_users_uploads_to_archive_restore_and_delete(analyst, session):
    user, token = analyst
    unused, used = upload_rare_yes(session, user), upload_rare_yes(session, user)
    make_run(session, user, dataset=used.name, n_trials=0)
    app = open_app(token, NEW_RUN_PAGE)
    app.segmented_control(key="new.source").set_value("Upload a CSV").run()
    assert f"**{unused.name}**" in " ".join(texts(app, "markdown"))

    app.button(key=f"archive.{unused.id}").click().run()
    assert unused.name not in [d.name for d in list_datasets(session=session, viewer=user)]
    app.button(key=f"archive.{unused.id}").click().run()  # now "Restore"
    assert unused.name in [d.name for d in list_datasets(session=session, viewer=user)]

    app.button(key=f"delete.{used.id}").click().run()
    app.button(key=f"delete.sure.{used.id}").click().run()
    assert "use dataset" in " ".join(e.value for e in app.error)  # in use: refused, kept
    app.button(key=f"delete.{unused.id}").click().run()
    app.button(key=f"delete.sure.{unused.id}").click().run()
    names = [d.name for d in list_datasets(session=session, viewer=user)]
    assert unused.name not in names and used.name in names


def test_an_admin_sets_a_runs_priority_on_the_monitor_and_an_analyst_sees_no_such_box(
    analyst, session
):
    user, token = analyst
    run = make_run(session, user, status=RunStatus.PROGRESS, n_trials=2)
    assert [n.label for n in monitor(token, run).number_input] == []
    admin, admin_token = create_user(
        session=session, name=f"boss-{uuid.uuid4().hex[:8]}", is_admin=True
    )
    app = monitor(admin_token, run)
    [box] = app.number_input
    assert box.label == "Priority (admins)"
    box.set_value(3)
    app.button[[b.label for b in app.button].index("Save")].click().run()
    assert get_run_summary(session=session, run_id=run.id, viewer=admin).priority == 3
