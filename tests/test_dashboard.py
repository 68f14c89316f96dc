"""The dashboard, page by page, through streamlit's AppTest against the real stack.

AppTest runs the scripts in this process: the `dashboard` fixture points the dashboard's own
settings (read from the environment, as in production) at the test database and Redis.
"""

import ast
import base64
import json
import time
import uuid
from collections.abc import Iterator

import numpy as np
import pytest
from sklearn.model_selection import ParameterGrid
from sqlmodel import Session, select
from streamlit.elements.lib import policies
from streamlit.testing.v1 import AppTest
from streamlit.testing.v1.element_tree import Block

from dashboard_ui.support import (
    COMPARE_PAGE,
    MENU,
    MODELS_PAGE,
    NEW_RUN_PAGE,
    RESULTS_PAGE,
    RUN_PAGE,
    RUNS_PAGE,
)
from tuning.config import PROJECT_ROOT, get_settings
from tuning.domain import RunStatus, utcnow
from tuning.errors import Forbidden
from tuning.models import Trial, TuningRun, User
from tuning.service import (
    add_note,
    browser_session_user,
    create_user,
    list_notes,
    list_runs,
    list_training_runs,
    list_trials,
)

from factories import make_hopeless_run, make_run, make_trial, other_user
from helpers import cookie_secret, recorded_queries, submit, wait_until_finished
from messy import churn_csv
from stack import stack_env

pytestmark = pytest.mark.database

# A flow of New run over many AppTest runs, most of a second each: `make test` runs these, and
# `make test-fast` the rest of the pages (tests/test_dashboard_browser.py drives New run in
# Chromium too).
FLOW = pytest.mark.slow

DASHBOARD = PROJECT_ROOT / "dashboard.py"
PAGES = PROJECT_ROOT / "pages"
SUPPORT = PROJECT_ROOT / "dashboard_ui"
SIGN_IN_TITLE = "Hyperparameter tuning"
SIGN_IN_FORM = ["title", "markdown", "text_input", "button", "caption"]  # its elements, in order


@pytest.fixture
def dashboard(settings, monkeypatch) -> Iterator[None]:
    """The dashboard reads its settings from the environment: point them at this test stack."""
    env = stack_env(settings)
    for name in ("DATA_DIR", "DATABASE_URL", "REDIS_URL"):
        monkeypatch.setenv(name, env[name])
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
def account(session: Session, dashboard) -> tuple[User, str]:
    """A user and their API token."""
    return create_user(session=session, name=f"analyst-{uuid.uuid4().hex[:8]}")


def open_app(token: str | None = None, page: str | None = None, **query: str) -> AppTest:
    """The dashboard signed in with `token` through a `?token=` link, on `page` if given."""
    app = new_session()
    if token:
        app.query_params["token"] = token
    app.run()
    if page:
        app.switch_page(page)
        app.query_params.update(query)
        app.run()
    return app


def new_session(page: str | None = None, **query: str) -> AppTest:
    """A new browser session's first request, for `page` (a deep link) with `query`, not run yet."""
    app = AppTest.from_file(str(DASHBOARD), default_timeout=60)
    if page:
        app.switch_page(page)
    app.query_params.update(query)
    return app


def texts(app: AppTest, kind: str) -> list[str]:
    return [str(element.value) for element in getattr(app, kind)]


def charts(app: AppTest) -> list:
    return app.get("plotly_chart")


def points(values: list | dict) -> list:
    """A trace's values from a chart's JSON spec (plotly sends numbers as base64 arrays)."""
    if isinstance(values, dict):
        return np.frombuffer(base64.b64decode(values["bdata"]), values["dtype"]).tolist()
    return values


def run_until(app: AppTest, done, timeout: float = 90) -> AppTest:
    """AppTest fires no timers: rerun the page until `done(app)`, as the refresh would."""
    deadline = time.monotonic() + timeout
    while not done(app):
        assert time.monotonic() < deadline, f"not done after {timeout}s: {app.main}"
        time.sleep(0.5)
        app.run()
    return app


# --- Boundaries -----------------------------------------------------------------------------


def test_pages_import_no_database_queue_or_broker_library():
    forbidden = {"sqlmodel", "sqlalchemy", "celery", "kombu", "redis"}
    for path in [DASHBOARD, *PAGES.glob("*.py"), *SUPPORT.glob("*.py")]:
        tree = ast.parse(path.read_text())
        names = {
            alias.name
            for node in ast.walk(tree)
            if isinstance(node, ast.Import)
            for alias in node.names
        }
        names |= {
            node.module
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.module
        }
        assert not {name.split(".")[0] for name in names} & forbidden, path


def test_the_pages_folder_holds_the_menus_pages_and_nothing_else():
    # Streamlit's classic discovery of pages/ can still serve any file in it by its URL (see
    # dashboard_ui.account.signed_in_user): helpers live in dashboard_ui/.
    files = [str(path.relative_to(PROJECT_ROOT)) for path in PAGES.glob("*.py")]
    assert sorted(files) == sorted(MENU)


# --- Sign-in --------------------------------------------------------------------------------


def test_signing_in_with_a_token_and_out_again(account):
    user, token = account
    app = open_app()
    assert SIGN_IN_TITLE in texts(app, "title")

    app.text_input(key="sign_in.token").set_value("not-a-token")
    app.button[0].click().run()
    assert any("not valid" in error for error in texts(app, "error"))

    app.text_input(key="sign_in.token").set_value(token)
    app.button[0].click().run()
    assert texts(app, "title") == ["Runs"]
    assert any(user.name in caption for caption in texts(app.sidebar, "caption"))

    app.button(key="sign_out").click().run()
    assert SIGN_IN_TITLE in texts(app, "title")
    assert "user" not in app.session_state


def test_a_new_session_sees_only_the_sign_in_form_on_any_page(account, session):
    user, _ = account
    run = make_run(session, user)
    for page in MENU:
        # A deep link, as a new browser session's first request, its parameters filled in.
        app = new_session(page, run=str(run.id), runs=f"{run.id},{run.id}").run()
        assert not app.exception, page
        assert texts(app, "title") == [SIGN_IN_TITLE], page
        assert element_types(app.main) == SIGN_IN_FORM, page  # none of the page
        assert not element_types(app.sidebar), page  # no account, no Sign out
        assert app.query_params["run"] == str(run.id), page  # kept for after the sign-in


def element_types(block: Block) -> list[str]:
    return [node.type for node in block if not isinstance(node, Block)]


def test_a_deep_link_asks_a_new_session_to_sign_in_then_opens_its_page(account, session):
    user, token = account
    run = make_run(session, user)

    app = new_session(RUN_PAGE, run=str(run.id)).run()
    assert texts(app, "title") == [SIGN_IN_TITLE]
    app.text_input(key="sign_in.token").set_value(token)
    app.button[0].click().run()
    assert texts(app, "title") == ["RandomForestClassifier on iris"]
    assert app.query_params["run"] == str(run.id)
    assert any(user.name in caption for caption in texts(app.sidebar, "caption"))

    app = new_session(RESULTS_PAGE, run=str(run.id), token=token).run()  # a sign-in link
    assert texts(app, "title") == ["Results: RandomForestClassifier on iris"]
    assert any("searchParams.delete('token')" in script for script in scripts(app))


def test_a_sign_in_link_signs_in_keeps_it_in_a_cookie_and_replaces_the_address(account, session):
    user, token = account
    app = open_app(token)

    assert texts(app, "title") == ["Runs"]
    # The browser is told to keep the sign-in and to load the address without the token in
    # place of the one with it (the browser test follows this through Back and a reload).
    (script,) = scripts(app)
    assert "window.location.replace(" in script and "searchParams.delete('token')" in script
    secret = cookie_secret(script)
    assert secret is not None
    assert browser_session_user(session=session, secret=secret).id == user.id
    assert "document.cookie" not in script  # the server sets it, HttpOnly

    app.button(key="sign_out").click().run()
    assert browser_session_user(session=session, secret=secret) is None


def test_a_wrong_sign_in_link_is_dropped_from_the_address_too(account):
    app = open_app("not-a-token")
    assert texts(app, "title") == [SIGN_IN_TITLE]
    (script,) = scripts(app)
    assert "window.location.replace(" in script and cookie_secret(script) is None


def scripts(app: AppTest) -> list[str]:
    """The scripts the page runs in the browser (st.html with JavaScript)."""
    return [element.proto.body for element in app.get("html")]


# --- Runs -----------------------------------------------------------------------------------


def test_runs_lists_the_users_runs_with_filters_and_a_click_opens_one(account, session):
    user, token = account
    finished = make_run(session, user, dataset="wine")
    running = make_run(session, user, status=RunStatus.PROGRESS, n_trials=2)
    make_run(session, other_user(session))  # someone else's: not listed

    app = open_app(token)
    table = app.dataframe[0].value
    assert list(table["id"]) == [str(running.id), str(finished.id)]
    assert list(table["status"]) == ["PROGRESS", "SUCCESS"]
    assert list(table["dataset"]) == ["iris", "wine"]
    assert table["progress"][0] == pytest.approx(100 * 2 / 6, abs=0.01)
    assert app.session_state["runs.live"]  # refreshing while a listed run is active

    app.multiselect(key="runs.status").set_value([RunStatus.SUCCESS]).run()
    assert list(app.dataframe[0].value["id"]) == [str(finished.id)]
    assert not app.session_state["runs.live"]  # no active run listed: the timer stops

    app.session_state["runs.table"] = {"selection": {"rows": [0], "columns": [], "cells": []}}
    app.run()
    assert app.query_params["run"] == str(finished.id)
    assert texts(app, "title") == ["RandomForestClassifier on wine"]


# --- New run ----------------------------------------------------------------------------------


@FLOW
def test_new_run_shows_candidates_and_fits_before_launch(account):
    _, token = account
    app = open_app(token, NEW_RUN_PAGE)

    assert app.selectbox(key="new.dataset").value == "breast_cancer"
    assert app.selectbox(key="new.estimator.classification").value == "RandomForestClassifier"
    assert texts(app, "metric")[:2] == ["6", "30"]  # n_estimators 2 x max_depth 3, x 5 folds

    app.number_input(key="new.cv").set_value(3).run()
    assert texts(app, "metric")[:2] == ["6", "18"]

    app.segmented_control(key="new.search").set_value("random").run()
    app.number_input(key="new.n_iter").set_value(4).run()
    assert texts(app, "metric")[:2] == ["4", "12"]


def test_new_run_shows_each_validation_error_next_to_its_field(account):
    _, token = account
    app = open_app(token, NEW_RUN_PAGE)
    grid = "new.grid.RandomForestClassifier"

    app.text_input(key=f"{grid}.n_estimators.text").set_value("0, 50")
    app.text_input(key=f"{grid}.max_depth.text").set_value("deep").run()

    for param, reason in [("n_estimators", "below the minimum 1"), ("max_depth", "'deep' is not")]:
        panel = panel_of(app, f"{grid}.{param}.text")
        assert any(reason in error.value for error in panel.error), (param, panel)
    launch = next(button for button in app.button if button.label == "Launch run")
    assert launch.disabled

    app.text_input(key=f"{grid}.n_estimators.text").set_value("50")
    app.text_input(key=f"{grid}.max_depth.text").set_value("None, 5")
    app.checkbox(key=f"{grid}.min_samples_split.on").check().run()
    app.segmented_control(key=f"{grid}.min_samples_split.mode").set_value("Range").run()
    app.number_input(key=f"{grid}.min_samples_split.low").set_value(1).run()
    panel = panel_of(app, f"{grid}.min_samples_split.low")
    assert any("below the minimum 2" in error.value for error in panel.error)

    app.number_input(key=f"{grid}.min_samples_split.low").set_value(2)
    app.number_input(key=f"{grid}.min_samples_split.high").set_value(32)
    app.segmented_control(key=f"{grid}.min_samples_split.spacing").set_value("log").run()
    assert not app.error
    assert texts(app, "metric")[:2] == ["8", "40"]  # 1 x 2 x 4 values: 2, 5, 13, 32


def test_an_uploaded_csv_is_previewed_stored_and_then_used(account):
    _, token = account
    rows = [f"{i},{'red' if i % 3 else 'blue'},1,{100 + 7.5 * i}" for i in range(40)]
    content = ("size,colour,constant,price\n" + "\n".join(rows)).encode()
    app = open_app(token, NEW_RUN_PAGE)
    app.segmented_control(key="new.source").set_value("Upload a CSV").run()
    app.file_uploader(key="upload.file").upload("houses.csv", content, "text/csv").run()

    assert app.selectbox(key="new.target").value == "price"  # the last column to start with
    assert any("40 rows" in m and "regression" in m for m in texts(app, "markdown"))
    preview, profile = (frame.value for frame in app.dataframe)
    assert len(preview) == 10 and list(preview.columns) == ["size", "colour", "constant", "price"]
    assert dict(zip(profile["column"], profile["kind"], strict=True))["colour"] == "categorical"
    assert dict(zip(profile["column"], profile["role"], strict=True))["constant"] == "left out"
    assert any("constant" in w for w in texts(app, "warning"))

    app.selectbox(key="new.target").set_value("constant").run()
    assert any("has a single value" in error for error in texts(app, "error"))

    name = f"houses-{uuid.uuid4().hex[:6]}"
    app.selectbox(key="new.target").set_value("price").run()
    app.text_input(key="new.name").set_value(name).run()
    next(b for b in app.button if b.label == "Save dataset and use it").click().run()
    assert app.selectbox(key="new.dataset").value == name
    assert app.selectbox(key="new.estimator.regression").value == "RandomForestRegressor"
    assert app.selectbox(key=f"new.scoring.{name}").value == "r2"
    assert texts(app, "metric")[:2] == ["6", "30"]

    app.segmented_control(key="new.source").set_value("Upload a CSV").run()
    app.file_uploader(key="upload.file").upload("houses.csv", content, "text/csv").run()
    app.text_input(key="new.name").set_value(name).run()
    next(b for b in app.button if b.label == "Save dataset and use it").click().run()
    assert any("you already have a dataset named" in error for error in texts(app, "error"))


def test_the_upload_step_says_what_it_refuses_and_what_it_drops(account):
    _, token = account

    def said(kind: str) -> list[str]:  # as the reader sees it: without markdown's escapes
        return [text.replace("\\", "").replace("\u2060", "") for text in texts(app, kind)]

    rows = [f"{i},{'inf' if i == 4 else i / 2},,{'yes' if i % 2 else 'no'}" for i in range(20)]
    content = ("size,weight,notes,label\n" + "\n".join(rows)).encode()
    app = open_app(token, NEW_RUN_PAGE)
    app.segmented_control(key="new.source").set_value("Upload a CSV").run()
    app.file_uploader(key="upload.file").upload("pets.csv", content, "text/csv").run()
    refused = "column 'weight' holds infinity in 1 row (the first: inf in row 5 under the header)"
    assert any(refused in error for error in said("error")), said("error")
    assert not any(b.label == "Save dataset and use it" for b in app.button)

    fixed = content.replace(b",inf,", b",2.5,")
    app.file_uploader(key="upload.file").upload("pets.csv", fixed, "text/csv").run()
    assert not app.error
    dropped = "**notes**: dropped: every value is missing, so it cannot be a feature"
    assert any(dropped in w for w in said("warning")), said("warning")

    save = "Save dataset and use it"
    app.text_input(key="new.name").set_value("\u0456ris").run()
    next(b for b in app.button if b.label == save).click().run()
    assert any("looks like 'iris', a bundled dataset's name" in e for e in said("error"))
    app.text_input(key="new.name").set_value("pets\u200b").run()
    next(b for b in app.button if b.label == save).click().run()
    assert any("U+200B ZERO WIDTH SPACE, is invisible" in e for e in said("error"))


def shown_grid(app: AppTest, estimator: str) -> dict:
    """The grid the editor shows for `estimator`: the ticked parameters and their values."""
    grid = {}
    prefix = f"new.grid.{estimator}."
    for box in app.checkbox:
        if box.key and box.key.startswith(prefix) and box.key.endswith(".on") and box.value:
            name = box.key[len(prefix) : -len(".on")]
            key = f"{prefix}{name}"
            if key + ".choices" in app.session_state:
                grid[name] = list(app.multiselect(key=key + ".choices").value)
            else:
                text = app.text_input(key=key + ".text").value
                grid[name] = [ast.literal_eval(value.strip()) for value in text.split(",")]
    return grid


def launch_and_read(app: AppTest, session: Session, user: User) -> TuningRun:
    what = next(m for m in texts(app, "markdown") if m.startswith("Will run:"))
    next(b for b in app.button if b.label == "Launch run").click().run()
    run = session.get(TuningRun, list_runs(session=session, viewer=user).items[0].id)
    assert run.estimator in what and f"{run.cv}-fold" in what and run.scoring in what, what
    return run


@FLOW
def test_new_run_launches_exactly_what_it_shows_after_an_upload(account, session):
    user, token = account
    app = open_app(token, NEW_RUN_PAGE)
    app.segmented_control(key="new.source").set_value("Upload a CSV").run()
    app.file_uploader(key="upload.file").upload("churn.csv", churn_csv(200), "text/csv").run()
    app.selectbox(key="new.target").set_value("churn").run()
    name = f"churn-{uuid.uuid4().hex[:6]}"
    app.text_input(key="new.name").set_value(name).run()
    next(b for b in app.button if b.label == "Save dataset and use it").click().run()

    # Right after the save, every entry shows what Launch would submit.
    assert app.selectbox(key="new.dataset").value == name
    estimator = app.selectbox(key="new.estimator.classification").value
    assert estimator == "RandomForestClassifier"
    assert shown_grid(app, estimator) == {"n_estimators": [50, 100], "max_depth": [None, 5, 10]}
    assert app.segmented_control(key="new.search").value == "grid"
    assert app.number_input(key="new.cv").value == 5
    ignored = app.multiselect(key=f"new.columns.{name}.ignore").value
    assert set(ignored) == {"customer_id", "account_code", "country"}
    assert any("imbalanced" in w for w in texts(app, "warning"))
    # A rare "yes": scored by average precision, "yes" the positive class, to start with.
    assert app.selectbox(key=f"new.scoring.{name}").value == "average_precision"
    assert app.selectbox(key=f"new.pos_label.{name}").value == "yes"
    assert "accuracy" in app.selectbox(key=f"new.scoring.{name}").options

    # Change the estimator, the folds and the search, back and forth, then a column's role.
    app.selectbox(key="new.estimator.classification").set_value("LogisticRegression").run()
    app.number_input(key="new.cv").set_value(3).run()
    app.segmented_control(key="new.search").set_value("random").run()
    app.segmented_control(key="new.search").set_value("grid").run()
    app.selectbox(key=f"new.columns.{name}.group").set_value("region").run()
    assert not app.error, texts(app, "error")
    shown = {
        "estimator": app.selectbox(key="new.estimator.classification").value,
        "param_grid": shown_grid(app, "LogisticRegression"),
        "cv": app.number_input(key="new.cv").value,
        "scoring": app.selectbox(key=f"new.scoring.{name}").value,
        "search": app.segmented_control(key="new.search").value,
    }
    run = launch_and_read(app, session, user)
    assert {
        "estimator": run.estimator,
        "param_grid": run.param_grid,
        "cv": run.cv,
        "scoring": run.scoring,
        "search": run.search,
    } == shown
    assert run.column_roles == {"ignore": ignored, "group": "region", "time": None}
    assert run.pos_label == "yes"


@FLOW
def test_new_run_keeps_its_entries_across_pages_and_run_again_refills_it(account, session):
    user, token = account
    app = open_app(token, NEW_RUN_PAGE)
    app.selectbox(key="new.dataset").set_value("wine").run()
    app.number_input(key="new.cv").set_value(4).run()
    app.switch_page(RUNS_PAGE).run()
    app.switch_page(NEW_RUN_PAGE).run()
    assert app.selectbox(key="new.dataset").value == "wine"
    assert app.number_input(key="new.cv").value == 4

    run = launch_and_read(app, session, user)
    other = open_app(token, NEW_RUN_PAGE)  # a new tab: an empty form
    assert other.number_input(key="new.cv").value == 5
    other.switch_page(RUN_PAGE)
    other.query_params["run"] = str(run.id)
    other.run()
    other.button(key="run.again").click().run()
    assert other.selectbox(key="new.dataset").value == "wine"
    assert other.number_input(key="new.cv").value == 4
    assert other.selectbox(key="new.estimator.classification").value == run.estimator
    assert shown_grid(other, run.estimator) == run.param_grid


def panel_of(app: AppTest, key: str):
    """The bordered panel of the grid editor that holds the widget with `key`."""
    for block in app.main.children.values():
        for panel in _blocks(block):
            if any(getattr(w, "key", None) == key for w in _widgets(panel)):
                return panel
    raise AssertionError(f"no panel holds {key}")


def _blocks(block) -> Iterator:
    children = getattr(block, "children", {})
    if (
        getattr(getattr(block, "proto", None), "flex_container", None)
        and block.proto.flex_container.border
    ):
        yield block
    for child in children.values():
        yield from _blocks(child)


def _widgets(block) -> Iterator:
    for child in getattr(block, "children", {}).values():
        yield child
        yield from _widgets(child)


# --- Launch, monitor, results: a run on the real worker ------------------------------------


def test_a_launched_run_is_followed_to_success_and_its_results_are_charted(account, worker):
    _, token = account
    app = open_app(token, NEW_RUN_PAGE)
    app.selectbox(key="new.dataset").set_value("iris")
    app.number_input(key="new.cv").set_value(3)
    app.text_input(key="new.grid.RandomForestClassifier.n_estimators.text").set_value("5, 10").run()
    assert texts(app, "metric")[:2] == ["6", "18"]

    next(button for button in app.button if button.label == "Launch run").click().run()
    assert texts(app, "title") == ["RandomForestClassifier on iris"]  # the run's own page
    run_id = app.query_params["run"]
    app.switch_page(RUN_PAGE)  # AppTest would otherwise rerun the page it last switched to

    run_until(app, lambda a: any("Finished" in s for s in texts(a, "success")))
    assert app.get("progress")[0].value == 100
    assert "100% · Completed 6 parameter combinations" in app.get("progress")[0].proto.text
    assert texts(app, "metric")[0] == "6 / 6"
    assert len(charts(app)) == 1 and len(app.dataframe[0].value) == 6
    assert app.session_state[f"monitor.status.{run_id}"] is RunStatus.SUCCESS

    app.switch_page(RESULTS_PAGE)
    app.query_params["run"] = run_id
    app.run()
    assert not app.exception
    assert len(charts(app)) == 2  # the overview: importance, best so far
    show(app, "Parameters")  # 2 parameter panels, heatmap, fit time
    assert len(charts(app)) == 4 and not app.exception
    app.toggle(key="results.parallel.on").set_value(True).run()  # and parallel coordinates
    assert len(charts(app)) == 5 and not app.exception
    show(app, "Overfitting")  # train against validation, the gap by a parameter
    assert len(charts(app)) == 2 and not app.exception
    show(app, "Failures")
    assert texts(app, "success") == ["No candidate failed."]
    show(app, "Trials")
    assert len(app.dataframe[0].value) == 6
    assert {"split0_test_score", "split2_test_score"} <= set(app.dataframe[0].value.columns)
    assert "RandomForestClassifier(" in app.code[0].value
    assert app.download_button[0].label == "Download all trials (CSV)"
    assert app.query_params["view"] == "Trials"  # a link to this section

    # The next similar run now comes with an estimated duration.
    app.switch_page(NEW_RUN_PAGE).run()
    app.selectbox(key="new.dataset").set_value("iris").run()
    assert texts(app, "metric")[2] != "—"


def test_the_monitor_sees_candidates_stored_out_of_order(account, session):
    user, token = account
    run = make_run(session, user, status=RunStatus.PROGRESS, n_trials=4)  # trials 0 to 3
    candidates = list(ParameterGrid(run.param_grid))
    late = [make_trial(run.id, i, candidates[i], 0.9, run.cv, utcnow()) for i in (5, 4)]
    session.add(late[0])  # another worker's chunk stores trial 5 first
    session.commit()

    app = open_app(token, RUN_PAGE, run=str(run.id))
    assert texts(app, "metric")[0] == "5 / 6"
    session.add(late[1])  # then trial 4 lands
    session.commit()
    app.run()
    assert texts(app, "metric")[0] == "6 / 6"
    assert list(app.dataframe[0].value["trial"]) == [5, 4, 3, 2, 1, 0]


@FLOW
def test_a_monitor_tick_draws_a_bounded_window_however_many_trials(account, session):
    user, token = account
    grid = {"n_estimators": list(range(10, 410, 10)), "max_depth": list(range(1, 51))}
    run = make_run(session, user, param_grid=grid, status=RunStatus.PROGRESS, n_trials=1_500)

    app = open_app(token, RUN_PAGE, run=str(run.id))

    assert texts(app, "metric")[0] == "1500 / 2000"
    dots, line = json.loads(charts(app)[0].proto.spec)["data"]
    assert len(points(dots["x"])) == 500  # the newest candidates only
    assert points(dots["x"])[-1] == 1_499 and len(points(line["x"])) < 100  # the line: steps
    assert len(app.dataframe[0].value) == 100


def test_cancel_asks_first_then_keeps_the_finished_candidates(account, runtime, worker):
    user, token = account
    run_id = submit(
        runtime,
        user,
        estimator="RandomForestClassifier",
        param_grid={"n_estimators": list(range(100, 300, 10))},
    )
    wait_for_a_trial(runtime, run_id)

    app = open_app(token, RUN_PAGE, run=str(run_id))
    app.button(key="monitor.cancel").click().run()
    assert any("Cancel this run?" in w for w in texts(app, "warning"))
    app.button(key="monitor.no").click().run()
    assert not app.warning

    app.button(key="monitor.cancel").click().run()
    app.button(key="monitor.yes").click().run()
    assert app.session_state[f"monitor.status.{run_id}"] is RunStatus.REVOKED
    cancelled = [w for w in texts(app, "warning") if "Cancelled after" in w]
    assert cancelled and "Best accuracy among them: **" in cancelled[0], cancelled
    assert not [b for b in app.button if b.key == "monitor.cancel"]
    assert len(app.dataframe[0].value) >= 1  # the partial results stay
    assert wait_until_finished(runtime, run_id).status is RunStatus.REVOKED


def wait_for_a_trial(runtime, run_id, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    with Session(runtime.engine) as session:
        while not list_trials(session=session, run_id=run_id):
            assert time.monotonic() < deadline
            time.sleep(0.2)


def test_a_monitor_tick_reads_the_status_and_only_the_new_trials(account, session):
    user, token = account
    run = make_run(session, user, status=RunStatus.PROGRESS, n_trials=2)
    app = open_app(token, RUN_PAGE, run=str(run.id))
    assert texts(app, "metric")[0] == "2 / 6"

    session.add(make_trial(run.id, 2, {"max_depth": 3, "n_estimators": 10}, 0.9, 3, utcnow()))
    session.commit()
    with recorded_queries() as queries:
        app.run()

    # The frame checks the sign-in (one read), a page load reads the run once; the live part's
    # tick then reads its status and the trials from the first one it has not seen: two reads
    # whatever the run's size. (The notes under the page are two more reads, and its owner's
    # Share control three (the run, its shares, the users' names), once per page load, not per
    # tick.)
    assert len(queries) == 9, queries
    assert "browser_session.secret_hash = " in queries[0][0]
    status_read, trials_read = queries[5:7]  # after the Share control's, drawn above
    assert "FROM tuning_run" in status_read[0] and "FROM trial" in trials_read[0]
    assert all("run_note" not in query for query, _ in queries[:7])
    assert 1 in trials_read[1]  # trials with index > 1: only the new one
    assert texts(app, "metric")[0] == "3 / 6"
    assert len(app.dataframe[0].value) == 3


def test_a_failed_run_shows_its_error_type_and_message(account, runtime, worker):
    user, token = account
    run_id = submit(
        runtime, user, estimator="KNeighborsClassifier", param_grid={"n_neighbors": [500]}
    )
    assert wait_until_finished(runtime, run_id).status is RunStatus.FAILURE

    app = open_app(token, RUN_PAGE, run=str(run_id))
    assert any("ValueError" in e and "all 1 candidates failed" in e for e in texts(app, "error"))

    app.switch_page(RESULTS_PAGE)
    app.query_params["run"] = str(run_id)
    app.run()
    assert any("ValueError" in e for e in texts(app, "error"))
    assert any("nothing to chart" in i for i in texts(app, "info"))


def test_a_run_in_which_nothing_scored_says_so_and_why_on_the_monitor_and_results(account, session):
    user, token = account
    run = make_hopeless_run(session, user, n_tried=12)
    nothing = (
        "**Nothing scored**: 12 of 200 candidates were tried and every one failed with the "
        "same error; the other 188 were not tried."
    )

    app = open_app(token, RUN_PAGE, run=str(run.id))
    error = texts(app, "error")[0]
    assert error.startswith(nothing)
    assert "**ValueError**: the first 12 candidates all failed with the same error" in error
    assert "Expected n\\_neighbors" in error
    assert not any("Stopped early" in i for i in texts(app, "info"))  # the error says it

    app = open_app(token, RESULTS_PAGE, run=str(run.id), view="Failures")
    assert texts(app, "error")[0].startswith(nothing)
    assert any("No candidate scored, so there is nothing to chart" in i for i in texts(app, "info"))
    captions = texts(app, "caption")
    assert any("No candidate scored, so no value can be blamed on its own" in c for c in captions)
    assert not any("also scored in another combination" in c for c in captions)
    assert not [b for b in app.button if b.label == "Relaunch without them"]


def test_another_users_run_is_refused_and_an_admin_may_open_it(account, session):
    _, token = account
    theirs = make_run(session, other_user(session))

    for page in (RUN_PAGE, RESULTS_PAGE):
        app = open_app(token, page, run=str(theirs.id))
        assert any("belongs to another user" in e for e in texts(app, "error")), page
        assert not charts(app)

    _, admin_token = create_user(
        session=session, name=f"admin-{uuid.uuid4().hex[:8]}", is_admin=True
    )
    app = open_app(admin_token, RESULTS_PAGE, run=str(theirs.id))
    assert not app.error and charts(app)


def test_results_of_a_revoked_run_cover_its_finished_candidates(account, session):
    user, token = account
    run = make_run(session, user, status=RunStatus.REVOKED, n_trials=3)

    app = open_app(token, RESULTS_PAGE, run=str(run.id))

    assert any("cancelled" in w for w in texts(app, "warning"))
    assert charts(app)
    show(app, "Trials")
    assert len(app.dataframe[0].value) == 3


def test_results_group_failed_candidates_and_relaunch_without_the_values_that_never_scored(
    account, session
):
    user, token = account
    grid = {"n_estimators": [10, 100], "max_depth": [None, 3, 6]}
    run = make_run(session, user, param_grid=grid)
    failing = "ValueError: max_depth 6 is not supported with 10 trees (trial 4)"
    for trial in session.exec(select(Trial).where(Trial.run_id == run.id)).all():
        if trial.params["max_depth"] == 6:
            trial.mean_test_score = trial.std_test_score = None
            trial.split_scores = [None, None, None]
            trial.error = failing.replace("trial 4", f"trial {trial.index}")
            session.add(trial)
    session.commit()

    app = open_app(token, RESULTS_PAGE, run=str(run.id), view="Failures")

    assert app.segmented_control(key="results.view").value == "Failures"
    group = next(m for m in texts(app, "markdown") if "2 candidates" in m)
    assert "ValueError" in group and "max\\_depth 6 is not supported" in group
    assert any("max\\_depth = 6: fails every time" in c for c in texts(app, "caption"))
    next(b for b in app.button if b.label == "Relaunch without them").click().run()
    relaunched = list_runs(session=session, viewer=user).items[0]
    assert relaunched.id != run.id
    assert relaunched.param_grid == {"n_estimators": [10, 100], "max_depth": [None, 3]}


def test_notes_on_a_run_are_shared_with_whoever_may_see_it_and_shown_as_typed(account, session):
    user, token = account
    run = make_run(session, user)
    admin, admin_token = create_user(
        session=session, name=f"admin-{uuid.uuid4().hex[:8]}", is_admin=True
    )

    app = open_app(token, RESULTS_PAGE, run=str(run.id))
    for text in ("   ", "depth 3 is **enough**"):  # a form sends its fields on submit only
        app.text_area(key=f"notes.text.{run.id}").set_value(text)
        next(b for b in app.button if b.label == "Add note").click().run()
        if not text.strip():
            assert "a note needs some text" in texts(app, "error")

    other = open_app(admin_token, RUN_PAGE, run=str(run.id))
    assert "depth 3 is \\*\\*enough\\*\\*" in texts(other, "markdown")
    assert any(user.name in caption for caption in texts(other, "caption"))
    assert [n.text for n in list_notes(session=session, run_id=run.id, viewer=admin)] == [
        "depth 3 is **enough**"
    ]
    stranger, _ = create_user(session=session, name=f"stranger-{uuid.uuid4().hex[:8]}")
    with pytest.raises(Forbidden):
        add_note(
            session=session,
            settings=get_settings(),
            run_id=run.id,
            author=stranger,
            text="mine now",
        )


def show(app: AppTest, view: str) -> None:
    """Open one section of the Results page."""
    app.segmented_control(key="results.view").set_value(view).run()


def test_compare_puts_two_runs_side_by_side(account, session):
    user, token = account
    first = make_run(session, user)
    second = make_run(
        session, user, param_grid={"max_depth": [None, 3], "min_samples_leaf": [1, 5]}
    )
    third = make_run(session, user, dataset="wine")

    app = open_app(token, COMPARE_PAGE, runs=f"{first.id},{second.id}")

    assert len(app.dataframe[0].value) == 2
    assert set(app.dataframe[0].value["best score"].round(4)) == {0.92, 0.82}
    assert len(charts(app)) == 2  # the history overlay and the one shared parameter, max_depth
    assert app.multiselect(key="compare.runs").value == [str(first.id), str(second.id)]

    app.multiselect(key="compare.runs").set_value([str(second.id), str(third.id)]).run()

    assert app.query_params["runs"] == f"{second.id},{third.id}"  # the link follows the choice
    assert set(app.dataframe[0].value["best score"].round(4)) == {0.82, 0.92}


def test_a_run_page_without_a_run_offers_the_users_runs(account, session):
    user, token = account
    run: TuningRun = make_run(session, user)

    app = open_app(token, RUN_PAGE)
    app.selectbox[0].set_value(str(run.id)).run()

    assert app.query_params["run"] == str(run.id)
    assert texts(app, "title") == ["RandomForestClassifier on iris"]


def test_models_trains_a_runs_best_parameters_and_offers_the_file(account, runtime, worker):
    user, token = account
    run_id = submit(
        runtime, user, estimator="RandomForestClassifier", param_grid={"n_estimators": [5, 10]}
    )
    wait_until_finished(runtime, run_id)
    app = open_app(token, MODELS_PAGE, run=str(run_id))
    assert texts(app, "title") == ["Models"]

    next(b for b in app.button if b.label == "Train with these parameters").click().run()
    run_until(app, lambda a: any(b.label == "Prepare download" for b in a.button))
    assert any("test rows: accuracy" in text for text in texts(app, "markdown"))
    app.run()  # the newest model opens below the list, with its evaluation
    assert texts(app, "header")[0].startswith("RandomForestClassifier · trial #")
    assert any("optimistic" in text for text in texts(app, "warning"))
    assert len(app.get("plotly_chart")) == 2  # three classes: the confusion matrix, importance

    next(b for b in app.button if b.label == "Prepare download").click().run()
    assert app.download_button[0].label == "Download .skops"


def test_results_trains_the_simpler_choice_and_models_says_which_trial(account, session):
    user, token = account
    run = make_run(session, user, score=lambda p: 0.9 + 0.001 * (p["n_estimators"] == 100))
    app = open_app(token, RESULTS_PAGE, run=str(run.id))
    button = next(b for b in app.button if b.label.startswith("Train trial #"))
    picked = int(button.label.removeprefix("Train trial #"))
    assert picked != run.best_trial_index

    button.click().run()

    assert texts(app, "title") == ["Models"]
    trainings = list_training_runs(session=session, viewer=user)
    assert [t.trial_index for t in trainings] == [picked]
    assert trainings[0].params == list(ParameterGrid(run.param_grid))[picked]
    assert any(f"trial #{picked} of run" in text for text in texts(app, "markdown"))


# --- Refine and relaunch ----------------------------------------------------------------------


@pytest.fixture
def widget_warnings(monkeypatch) -> list[str]:
    """Streamlit's warnings about a widget given a default while its key holds a value already
    (it logs the first one of a process only: counted from here)."""
    logged: list[str] = []
    monkeypatch.setattr(policies, "_shown_default_value_warning", False)
    monkeypatch.setattr(policies._LOGGER, "warning", lambda msg, *a, **kw: logged.append(msg % a))
    return logged


def svc_score(params: dict) -> float:
    """Best at C = 1, and with the rbf kernel a little better."""
    return 0.9 - 0.1 * abs(np.log10(params["C"])) + (0.01 if params["kernel"] == "rbf" else 0)


def page_links(app: AppTest) -> list[str]:
    return [element.proto.label for element in app.get("page_link")]


@FLOW
def test_refine_opens_new_run_filled_in_and_the_launched_run_links_its_parent(
    account, session, widget_warnings
):
    user, token = account
    grid = {"C": [0.01, 0.1, 1, 10, 100], "kernel": ["linear", "rbf"]}
    run = make_run(session, user, estimator="SVC", param_grid=grid, score=svc_score)

    app = open_app(token, RESULTS_PAGE, run=str(run.id), view="Refine")
    app.number_input(key=f"results.refine.top_k.{run.id}").set_value(2).run()
    table = app.dataframe[0].value
    assert dict(zip(table["parameter"], table["refined values"], strict=True)) == {
        "C": "0.215, 0.464, 1, 2.15, 4.64",
        "kernel": "linear, rbf",
    }
    assert texts(app, "metric")[:2] == ["10", "30"]
    assert texts(app, "metric")[2] != "—"  # this run took 6 s for as many fits
    next(b for b in app.button if b.label == "Open in New run").click().run()

    assert texts(app, "title") == ["New run"]
    app.switch_page(NEW_RUN_PAGE)  # AppTest would otherwise rerun the page it last switched to
    assert app.selectbox(key="new.dataset").value == "iris"
    assert app.selectbox(key="new.estimator.classification").value == "SVC"
    assert app.text_input(key="new.grid.SVC.C.text").value == "0.215, 0.464, 1, 2.15, 4.64"
    assert app.multiselect(key="new.grid.SVC.kernel.choices").value == ["linear", "rbf"]
    assert not app.checkbox(key="new.grid.SVC.gamma.on").value
    assert app.number_input(key="new.cv").value == run.cv
    assert app.segmented_control(key="new.search").value == "grid"
    assert any(f"Refines run `{str(run.id)[:8]}`" in m for m in texts(app, "markdown"))
    assert texts(app, "metric")[:2] == ["10", "30"]
    assert not widget_warnings, widget_warnings

    next(b for b in app.button if b.label == "Launch run").click().run()
    child = list_runs(session=session, viewer=user).items[0]
    assert child.id != run.id and child.parent_id == run.id
    assert child.param_grid == {"C": [0.215, 0.464, 1, 2.15, 4.64], "kernel": ["linear", "rbf"]}
    assert f"run {str(run.id)[:8]} (finished, best 0.9100)" in page_links(app)  # the monitor
    assert "new.parent" not in app.session_state  # the next new run refines nothing

    parent = open_app(token, RESULTS_PAGE, run=str(run.id))
    assert any(
        f"run {str(child.id)[:8]} (" in link for link in page_links(parent)
    )  # queued, or started where a worker is up


def test_the_link_to_the_refined_run_can_be_dropped_before_launch(account, session):
    user, token = account
    run = make_run(session, user)
    app = open_app(token, RESULTS_PAGE, run=str(run.id), view="Refine")
    next(b for b in app.button if b.label == "Open in New run").click().run()
    assert any("Refines run" in m for m in texts(app, "markdown"))
    app.switch_page(NEW_RUN_PAGE)

    app.button(key="refine.unlink").click().run()
    assert not any("Refines run" in m for m in texts(app, "markdown"))
    next(b for b in app.button if b.label == "Launch run").click().run()
    launched = list_runs(session=session, viewer=user).items[0]
    assert launched.id != run.id and launched.parent_id is None


def test_a_run_still_going_is_not_refined_yet(account, session):
    user, token = account
    run = make_run(session, user, status=RunStatus.PROGRESS, n_trials=3)
    app = open_app(token, RESULTS_PAGE, run=str(run.id), view="Refine")
    assert any("refine it once it finishes" in i for i in texts(app, "info"))
    assert not [b for b in app.button if b.label == "Open in New run"]


# --- Searches beyond a grid: halving, sampled ranges, early stopping --------------------------


def make_halving_run(session: Session, user: User, status: RunStatus, **fields) -> TuningRun:
    """A halving run over the factories' grid: rung 1 on 50 samples (6 candidates), rung 2 on
    150 (2 candidates, stored as trials 6 and 7 when the run is finished)."""
    halving = {
        "candidates": "grid",
        "factor": 3,
        "min_resources": "exhaust",
        "aggressive_elimination": False,
        "n_candidates": [6, 2],
        "n_resources": [50, 150],
    }
    run = make_run(session, user, status=status, search="halving", halving=halving, **fields)
    survivors = [{"n_estimators": 100, "max_depth": None}, {"n_estimators": 100, "max_depth": 6}]
    for trial in session.exec(select(Trial).where(Trial.run_id == run.id)):
        trial.rung, trial.n_resources = 0, 50
        session.add(trial)
    n_second = 2 if status.is_finished else 1
    for offset, params in enumerate(survivors[:n_second]):
        trial = make_trial(run.id, 6 + offset, params, 0.8 - offset / 100, run.cv, utcnow())
        trial.rung, trial.n_resources = 1, 150
        session.add(trial)
    run.rung, run.total_combinations, run.progress_total = 1, 8, 8
    if status is RunStatus.SUCCESS:  # the best of the last rung, as the worker records it
        run.best_trial_index, run.best_score, run.best_params = 6, 0.8, survivors[0]
    session.add(run)
    session.commit()
    session.refresh(run)
    return run


def test_new_run_with_halving_shows_its_schedule_and_launches_a_halving_run(account, session):
    user, token = account
    app = open_app(token, NEW_RUN_PAGE)
    app.segmented_control(key="new.search").set_value("halving").run()

    assert any("Scores many candidates on a few samples" in c for c in texts(app, "caption"))
    schedule = app.dataframe[-1].value  # the profile comes first
    assert list(schedule.columns) == ["rung", "candidates", "samples"]
    assert schedule["candidates"].iloc[0] == 6 and schedule["rung"].iloc[0] == 1
    assert schedule["samples"].is_monotonic_increasing
    assert texts(app, "metric")[0] == str(schedule["candidates"].sum())

    app.number_input(key="new.halving.factor").set_value(2.0)
    app.selectbox(key="new.halving.min_samples.grid").set_value("number").run()
    app.number_input(key="new.halving.min_number").set_value(60).run()
    assert app.dataframe[-1].value["samples"].iloc[0] == 60
    assert not app.error
    next(b for b in app.button if b.label == "Launch run").click().run()

    launched = list_runs(session=session, viewer=user).items[0]
    assert launched.search == "halving"
    assert launched.halving is not None
    assert launched.halving["factor"] == 2 and launched.halving["min_resources"] == 60


@FLOW
def test_a_continuous_range_for_a_random_search_submits_a_range(account, session):
    user, token = account
    app = open_app(token, NEW_RUN_PAGE)
    grid = "new.grid.RandomForestClassifier.n_estimators"
    app.segmented_control(key=f"{grid}.mode").set_value("Range").run()
    assert f"{grid}.how" not in [w.key for w in app.segmented_control]  # a grid takes values

    app.segmented_control(key="new.search").set_value("random").run()
    app.segmented_control(key=f"{grid}.how").set_value("Sample continuously").run()
    app.number_input(key=f"{grid}.low").set_value(10)
    app.number_input(key=f"{grid}.high").set_value(300)
    app.segmented_control(key=f"{grid}.spacing").set_value("log").run()
    app.number_input(key="new.n_iter").set_value(5).run()
    assert not app.error
    assert texts(app, "metric")[0] == "5"
    next(b for b in app.button if b.label == "Launch run").click().run()

    launched = list_runs(session=session, viewer=user).items[0]
    assert launched.search == "random" and launched.n_iter == 5
    assert launched.param_grid["n_estimators"] == {"low": 10, "high": 300, "log": True}


@FLOW
def test_early_stopping_fields_reach_the_stored_run(account, session):
    user, token = account
    app = open_app(token, NEW_RUN_PAGE)
    app.number_input(key="new.stop_after").set_value(3)
    app.checkbox(key="new.train_scores").uncheck()
    app.number_input(key="new.time_budget").set_value(120.0).run()
    assert not app.error
    next(b for b in app.button if b.label == "Launch run").click().run()

    launched = list_runs(session=session, viewer=user).items[0]
    assert launched.stop_after_no_improvement == 3 and launched.time_budget_s == 120.0
    assert launched.return_train_score is False

    app = open_app(token, NEW_RUN_PAGE)
    app.segmented_control(key="new.search").set_value("halving").run()
    assert "new.stop_after" not in [w.key for w in app.number_input]  # explained instead
    assert any("scores do not compare" in c for c in texts(app, "caption"))


def test_the_monitor_of_a_halving_run_shows_its_rungs(account, session):
    user, token = account
    run = make_halving_run(session, user, RunStatus.PROGRESS)

    app = open_app(token, RUN_PAGE, run=str(run.id))

    rungs = app.dataframe[0].value
    assert list(rungs["stored"]) == ["6 / 6", "1 / 2"]
    assert list(rungs["now"]) == ["", "◀ current"]
    assert charts(app)  # best so far


def test_results_of_a_halving_run_show_each_candidates_rung(account, session):
    user, token = account
    reason = "the time budget of 60 s was reached"
    run = make_halving_run(session, user, RunStatus.SUCCESS, stop_reason=reason)

    app = open_app(token, RESULTS_PAGE, run=str(run.id))
    assert any("time budget of 60 s" in i for i in texts(app, "info"))
    assert any(
        "best of the last rung (rung 2, on 150 samples)" in m for m in texts(app, "markdown")
    )
    show(app, "Trials")
    table = app.dataframe[0].value
    assert list(table["rung"]) == [1] * 6 + [2] * 2
    assert list(table["samples"]) == [50] * 6 + [150] * 2


@FLOW
def test_halving_over_a_random_sample_takes_continuous_ranges(account, session):
    user, token = account
    app = open_app(token, NEW_RUN_PAGE)
    grid = "new.grid.RandomForestClassifier.n_estimators"
    app.segmented_control(key="new.search").set_value("halving").run()
    app.segmented_control(key="new.halving.candidates").set_value("random").run()
    app.segmented_control(key=f"{grid}.mode").set_value("Range").run()
    app.segmented_control(key=f"{grid}.how").set_value("Sample continuously").run()
    assert not app.error, texts(app, "error")
    assert app.number_input(key="new.halving.n_iter").value is None  # as the data allows
    app.number_input(key="new.halving.n_iter").set_value(9).run()
    assert app.dataframe[-1].value["candidates"].iloc[0] == 9
    next(b for b in app.button if b.label == "Launch run").click().run()

    launched = list_runs(session=session, viewer=user).items[0]
    assert launched.search == "halving" and launched.halving["candidates"] == "random"
    assert isinstance(launched.param_grid["n_estimators"], dict)


def test_results_of_a_run_over_a_continuous_range_chart_the_values_tried(account, session):
    user, token = account
    run = make_run(session, user, search="random", n_iter=6)
    run.param_grid = {"n_estimators": {"low": 10, "high": 100, "log": True}, "max_depth": [3, 6]}
    session.add(run)
    session.commit()

    app = open_app(token, RESULTS_PAGE, run=str(run.id))
    for view in ("Parameters", "Overfitting", "Trials"):
        show(app, view)
        assert not app.exception, (view, app.exception)
        assert charts(app) or view == "Trials", view
    assert len(app.dataframe[0].value) == 6
