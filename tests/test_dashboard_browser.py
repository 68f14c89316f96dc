"""One real browser: Debian's headless Chromium, driven by Playwright, against `streamlit run`.

Nothing is downloaded here: Playwright launches /usr/bin/chromium, which `make test` installs
with apt-get when it runs as root. UPDATE_SCREENSHOTS=1 also writes each page to docs/.
"""

import os
import re
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from tuning.config import PROJECT_ROOT
from tuning.domain import RunStatus
from tuning.models import TuningRun
from tuning.service import (
    create_user,
    get_training_run,
    list_training_runs,
    read_model,
    upload_dataset,
)

from helpers import submit, wait_until_finished
from messy import as_csv, churn_csv, customers
from stack import ServerProcess, wait_until

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
DOCS = PROJECT_ROOT / "docs"
# Every Plotly chart on the page has drawn its SVG.
CHARTS_DRAWN = """() => [...document.querySelectorAll('.js-plotly-plot')]
    .every(chart => chart.querySelector('.main-svg') !== null)"""

# Not repeated on PostgreSQL: the pages read the database through the same service calls as
# their AppTest tests (tests/test_dashboard.py), which .ci/run repeats there.
pytestmark = [
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="no /usr/bin/chromium: `make test` installs Debian's chromium when run as root",
    ),
]
sync_api = pytest.importorskip(
    "playwright.sync_api", reason="playwright is not installed: run `make test` (requirements-dev)"
)


@pytest.fixture
def dashboard_url(settings, worker, tmp_path) -> Iterator[str]:
    """`streamlit run dashboard_ui/server.py` (dashboard.py and its cookie route) on a free
    port, on the test database, Redis and worker."""
    command = ["-m", "streamlit", "run", "dashboard_ui/server.py", "--server.address", "127.0.0.1"]
    with ServerProcess(
        settings,
        tmp_path / "streamlit.log",
        command=[*command, "--server.headless", "true"],
        port_option="--server.port",
        ready_path="/_stcore/health",
    ) as server:
        yield server.url


@pytest.fixture
def browser_page() -> Iterator:
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        # A context of its own, so that a test may open a second tab with the same cookies.
        context = browser.new_context(viewport={"width": 1400, "height": 900})
        context.set_default_timeout(30_000)
        yield context.new_page()
        browser.close()


def idle(page) -> None:
    """Wait until the script run of the last interaction is over: a click that lands while a run
    is still streaming its elements can be dropped by Streamlit."""
    page.locator('[data-testid="stApp"][data-test-script-state="notRunning"]').wait_for()


def menu(page, label: str):
    """The sidebar menu's link to a page (st.navigation's, drawn by the frame once signed in)."""
    return page.get_by_test_id("stSidebarNav").get_by_text(label, exact=True)


class Shots:
    """Full-page screenshots into the test's folder, and into docs/ when asked to."""

    def __init__(self, page, folder: Path) -> None:
        self.page, self.folder = page, folder
        self.to_docs = os.environ.get("UPDATE_SCREENSHOTS") == "1"

    def take(self, name: str) -> None:
        self.page.mouse.move(0, 0)  # no hover effects in the picture
        idle(self.page)
        self.page.wait_for_function(CHARTS_DRAWN)
        height = self.page.evaluate(
            "document.querySelector('[data-testid=\"stMain\"]')?.scrollHeight ?? 900"
        )
        self.page.set_viewport_size({"width": 1400, "height": min(max(height, 900), 4000)})
        path = self.folder / f"dashboard-{name}.png"
        self.page.screenshot(path=str(path))
        self.page.set_viewport_size({"width": 1400, "height": 900})
        if self.to_docs:
            shutil.copy(path, DOCS / path.name)


def test_a_person_signs_in_launches_a_run_watches_it_finish_and_reads_the_charts(
    dashboard_url, browser_page, session, runtime, tmp_path
):
    user, token = create_user(session=session, name=f"browser-{uuid.uuid4().hex[:8]}")
    page, shots = browser_page, Shots(browser_page, tmp_path)
    expect = sync_api.expect

    # The first page this new server runs is a deep link: the sign-in form, and nothing else.
    page.goto(f"{dashboard_url}/run?run={uuid.uuid4()}")
    page.get_by_label("API token").fill(token)
    expect(page.get_by_test_id("stSidebar")).to_have_count(0)
    shots.take("sign-in")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_text("There is no run with that id.")).to_be_visible()  # the linked page
    menu(page, "Runs").click()
    expect(page.get_by_role("heading", name="Runs")).to_be_visible()

    menu(page, "New run").click()
    expect(page.get_by_text("Candidates", exact=True)).to_be_visible()  # 6 candidates, 30 fits
    shots.take("new-run")
    idle(page)
    page.get_by_role("button", name="Launch run").click()

    page.wait_for_url("**/run?run=*")
    run_id = parse_qs(urlsplit(page.url).query)["run"][0]
    progress = page.get_by_test_id("stProgress").first  # a stale copy may linger a moment
    expect(progress).to_be_visible()
    expect(progress).to_contain_text("100%", timeout=120_000)
    expect(page.get_by_text("Finished. Best accuracy")).to_be_visible()
    shots.take("run")

    page.get_by_text("Open the results").click()
    page.wait_for_url("**/results?run=*")
    charts = page.locator(".js-plotly-plot")
    expect(charts).to_have_count(2)  # the overview: importance, best so far
    expect(page.get_by_text("Parameter importance")).to_be_visible()
    shots.take("results")
    page.get_by_text("Parameters", exact=True).click()
    expect(charts).to_have_count(4)  # 2 parameter panels, heatmap, fit time
    page.get_by_text("Show the parallel coordinates").click()
    expect(charts).to_have_count(5)  # and the parallel coordinates, when asked for
    shots.take("results-parameters")
    page.get_by_text("Overfitting", exact=True).click()
    expect(charts).to_have_count(2)  # train against validation, gap by a parameter
    shots.take("results-overfitting")

    menu(page, "Runs").click()
    expect(page.get_by_text("1 of 1 runs")).to_be_visible()
    if shots.to_docs:
        document_runs_and_compare(page, shots, runtime, user, token, dashboard_url, run_id)


def document_runs_and_compare(
    page, shots: Shots, runtime, user, token: str, url: str, first_id: str
) -> None:
    """More runs for the Runs, monitor and Compare screenshots; a cancel through the page.

    A page load is a new Streamlit session: these pages are opened with sign-in links.
    """
    expect = sync_api.expect
    second = submit(
        runtime,
        user,
        dataset="breast_cancer",
        estimator="RandomForestClassifier",
        cv=5,
        param_grid={"max_depth": [None, 2, 5, 10], "min_samples_leaf": [1, 5, 20]},
    )
    wait_until_finished(runtime, second)
    running = submit(
        runtime,
        user,
        dataset="breast_cancer",
        estimator="RandomForestClassifier",
        cv=5,
        param_grid={"n_estimators": list(range(100, 400, 20)), "max_depth": [None, 5]},
    )
    open_link(page, f"{url}/run?run={running}&token={token}")
    done = page.get_by_test_id("stMetricValue").first  # "Candidates done"
    expect(done).to_have_text(re.compile(r"([4-9]|\d\d) / 30"), timeout=60_000)
    expect(page.locator(".js-plotly-plot").first).to_be_visible()
    shots.take("run-live")
    open_link(page, f"{url}/?token={token}")
    expect(page.get_by_text("3 of 3 runs")).to_be_visible()
    shots.take("runs")

    open_link(page, f"{url}/run?run={running}&token={token}")
    idle(page)
    page.get_by_role("button", name="Cancel run").click()
    page.get_by_role("button", name="Yes, cancel the run").wait_for()
    idle(page)
    page.get_by_role("button", name="Yes, cancel the run").click()
    expect(page.get_by_text("Cancelled after")).to_be_visible()
    assert wait_until_finished(runtime, running).status.value == "REVOKED"

    open_link(page, f"{url}/compare?runs={first_id},{second}&token={token}")
    expect(page.locator(".js-plotly-plot")).to_have_count(2)  # history, max_depth
    shots.take("compare")


# A sign-in link loads the page twice (the second time without the token); on a busy machine
# each load can take seconds.
WAIT_MS = 30_000


def open_link(page, address: str) -> None:
    """Open a sign-in link and wait for the page the browser loads in its place, without the
    token: a click on the first load, before that, would be lost with it."""
    page.goto(address)
    page.wait_for_url(lambda url: "token=" not in url, timeout=WAIT_MS)


def test_a_sign_in_link_leaves_no_token_in_history_and_the_sign_in_survives_a_reload(
    dashboard_url, browser_page, session
):
    user, token = create_user(session=session, name=f"history-{uuid.uuid4().hex[:8]}")
    page, expect = browser_page, sync_api.expect
    signed_in = page.get_by_text(f"Signed in as {user.name}")

    page.goto(f"{dashboard_url}/_stcore/health")  # somewhere to go Back to
    page.goto(f"{dashboard_url}/?token={token}")
    expect(signed_in).to_be_visible(timeout=WAIT_MS)
    page.wait_for_url(lambda url: "token" not in url, timeout=WAIT_MS)
    page.go_back()
    assert page.url == f"{dashboard_url}/_stcore/health", "Back returned to the token's address"
    page.go_forward()
    expect(signed_in).to_be_visible(timeout=WAIT_MS)
    assert "token" not in page.url

    page.reload()  # a new Streamlit session: the cookie signs it in
    expect(signed_in).to_be_visible(timeout=WAIT_MS)
    expect(page.get_by_label("API token")).to_have_count(0)

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_label("API token")).to_be_visible(timeout=WAIT_MS)
    page.reload()
    expect(page.get_by_label("API token")).to_be_visible(timeout=WAIT_MS)
    expect(signed_in).to_have_count(0)


def test_new_run_launches_what_it_shows_after_an_upload_in_a_browser(
    dashboard_url, browser_page, session, tmp_path
):
    """The upload step hides the rest of the form; when it comes back, the browser must show
    the values the page submits (it once showed LogisticRegression and 2 folds while the page
    meant RandomForestClassifier and 5, and then launched the browser's)."""
    _, token = create_user(session=session, name=f"upload-{uuid.uuid4().hex[:8]}")
    page, expect = browser_page, sync_api.expect
    csv = tmp_path / "churn.csv"
    csv.write_bytes(churn_csv(200))

    open_link(page, f"{dashboard_url}/new_run?token={token}")
    expect(page.get_by_text("Will run:")).to_be_visible(timeout=WAIT_MS)
    idle(page)
    page.get_by_label("CV folds").fill("4")
    page.get_by_label("CV folds").press("Enter")
    idle(page)
    page.get_by_text("Upload a CSV", exact=True).click()
    page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(str(csv))

    page.get_by_text("Target column").wait_for(timeout=WAIT_MS)
    idle(page)
    page.get_by_role("button", name="Save dataset and use it").click()
    expect(page.get_by_text("Will run:")).to_be_visible(timeout=WAIT_MS)
    idle(page)

    estimator = page.get_by_role("combobox", name="Estimator (for classification)")
    expect(estimator).to_have_value("RandomForestClassifier")
    expect(page.get_by_label("CV folds")).to_have_value("4")
    will_run = page.get_by_text("Will run:")
    expect(will_run).to_contain_text("RandomForestClassifier")
    expect(will_run).to_contain_text("4-fold cross-validation")
    expect(will_run).to_contain_text("customer_id")

    page.get_by_role("button", name="Launch run").click()
    page.wait_for_url("**/run?run=*", timeout=WAIT_MS)
    run_id = parse_qs(urlsplit(page.url).query)["run"][0]
    run = session.get(TuningRun, uuid.UUID(run_id))
    assert (run.estimator, run.cv, run.search) == ("RandomForestClassifier", 4, "grid")
    assert run.param_grid == {"n_estimators": [50, 100], "max_depth": [None, 5, 10]}
    assert "customer_id" in run.column_roles["ignore"]

    page.go_back()  # from the monitor: New run as it was, not an empty form
    expect(page.get_by_text("Will run:")).to_contain_text("4-fold", timeout=WAIT_MS)
    expect(page.get_by_label("CV folds")).to_have_value("4")


def test_a_models_evaluation_threshold_and_predictions_in_a_browser(
    dashboard_url, browser_page, session, runtime, tmp_path
):
    """A trial trained from Results' table, then on the Models page: its evaluation drawn, its
    threshold moved to reach a recall, and a new file predicted, as a person sees them."""
    user, token = create_user(session=session, name=f"models-{uuid.uuid4().hex[:8]}")
    dataset = upload_dataset(
        session=session,
        owner=user,
        name="churn",
        content=churn_csv(),
        target="churn",
        settings=runtime.settings,
    )
    run_id = submit(
        runtime,
        user,
        dataset=dataset.name,
        estimator="LogisticRegression",
        param_grid={"C": [0.1, 1.0]},
        scoring="average_precision",
        pos_label="yes",
    )
    wait_until_finished(runtime, run_id)
    page, shots = browser_page, Shots(browser_page, tmp_path)
    expect = sync_api.expect

    # Results' Trials: select the second trial's row, then "Train this".
    open_link(page, f"{dashboard_url}/results?run={run_id}&view=Trials&token={token}")
    grid = page.get_by_test_id("stDataFrame").first
    grid.wait_for()
    idle(page)
    box = grid.bounding_box()
    assert box is not None
    page.mouse.click(box["x"] + 14, box["y"] + 35 * 2 + 17)  # the row marker of the second row
    page.get_by_role("button", name="Train trial #1").click()
    expect(page.get_by_role("heading", name="Models")).to_be_visible()
    training = list_training_runs(session=session, viewer=user)[0]
    assert training.trial_index == 1 and training.params == {"C": 1.0}

    def trained() -> str | None:
        session.expire_all()
        row = get_training_run(session=session, training_run_id=training.id)
        return str(row.model_id) if row.status is RunStatus.SUCCESS else None

    model_id = wait_until(trained, 120, 0.2, "the training did not finish")
    open_link(page, f"{dashboard_url}/models?model={model_id}&token={token}")
    page.locator(".js-plotly-plot").nth(3).wait_for()  # Plotly's script arrives with the first
    shots.take("models")
    expect(page.get_by_text("Confusion matrix (test rows)")).to_be_visible()
    expect(page.get_by_text("Precision-recall curve")).to_be_visible()
    expect(page.get_by_text("Permutation importance of the columns")).to_be_visible()
    expect(page.get_by_text("the figures are optimistic", exact=False)).to_be_visible()

    page.get_by_label("Recall at least").fill("0.9")
    page.get_by_role("button", name="Reach it").nth(1).click()
    idle(page)
    expect(page.get_by_text("reaching a recall of 0.9", exact=False)).to_be_visible()
    expect(page.get_by_text("trial #1 of run", exact=False).first).to_be_visible()
    session.expire_all()
    moved = read_model(session=session, model_id=model_id)
    assert moved.evaluation["metrics"]["recall"] >= 0.9

    page.get_by_role("tab", name="Predict a file").click()
    new = tmp_path / "new-customers.csv"
    new.write_bytes(as_csv(customers(30, seed=21).drop(columns=["churn"])))
    page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(str(new))
    expect(page.get_by_text("Download the predictions (CSV)")).to_be_visible()
    expect(page.get_by_text("Not used by the model", exact=False)).to_be_visible()
    shots.take("models-predict")
