"""What a person waits for in a browser: the dashboard's pages, and optuna-dashboard's (issue 8).

    make bench-dashboard                                   # = python -m bench.dashboard_browser
    .venv/bin/python -m bench.dashboard_browser --quick    # 500 runs, 500 and 2,000 trials, once

Data: a fresh SQLite database (tests/stack.py) with `--runs` finished runs of one user, made with
tests/factories.py, among them a Ridge run on diabetes per `--trials` size (alpha at size/4 values
x fit_intercept x positive, 5 folds, test and train split scores, fit times, ~2% failed with a
scikit-learn ValueError); an Optuna study per size (SQLite RDB storage) of the same candidates.
Playwright drives Debian's headless /usr/bin/chromium (nothing downloaded) against `streamlit run
dashboard.py` and `optuna-dashboard`. A script in each page (PROBE) times from navigation start:
a chart is drawn when a `.js-plotly-plot` holds a trace and its `.main-svg` or gl canvas has a
size; "first" is the first drawn, "all" the last drawn or redrawn, once nothing changed for 1 s,
no request is in flight and Streamlit's script is done (`data-test-script-state`).

- Results (`/results?run=`) as a link opened in a new tab: a new page in the browser context
  that signed in once by a `?token=` link, so the sign-in cookie is there, as when a user opens
  a run's link (issue 19). A first view per run (the server reads its trials), then `--repeat`
  new tabs, each followed by a click on every section of its selector in that tab, timed from
  the click (the in-page switch; a section without charts: both times are its script's end).
- optuna-dashboard: its study page and its Analytics page in new tabs of the same browser
  context, interleaved with ours (each ours, then theirs), each warmed once; "all" there is the
  plots the page draws by default.
- Runs (`/`): the runs table shown / ready (shown, and the script done).
- A new server, `--repeat` times, in a new browser context: its first element / sign-in form.

Verdicts judge medians against issue 8's targets. The browser, the servers and this script
share the machine's cores. Each page measured is left in /tmp/bench-*.png.
"""

import argparse
import contextlib
import math
import re
import shutil
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import numpy as np
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright
from playwright.sync_api import Error as PlaywrightError
from sklearn.model_selection import ParameterGrid
from sqlmodel import Session

from tests.factories import make_run, make_trial
from tests.stack import HOST, ServerProcess, fresh_database, running_redis
from tuning.config import Settings
from tuning.db import upgrade_database
from tuning.domain import RunStatus, utcnow
from tuning.runtime import create_runtime
from tuning.service import create_user

CHROMIUM = "/usr/bin/chromium"  # and its options, as in tests/test_dashboard_browser.py
OPTIONS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]
STREAMLIT = ["-m", "streamlit", "run", "dashboard_ui/server.py", "--server.address", HOST]
STREAMLIT += ["--server.headless", "true", "--server.fileWatcherType", "none"]
OPTUNA_PAGES = {"optuna-dashboard study": "", "  optuna-dashboard Analytics": "/analytics"}
NEW_TAB = "Results, new tab"
SECTIONS = ["Overview", "Parameters", "Overfitting", "Failures", "Trials"]
N_SPLITS = 5
ERROR = "ValueError: Input X contains infinity or a value too large for dtype('float64')."
TIMEOUT_MS = 180_000
SERVER = {"command": STREAMLIT, "port_option": "--server.port", "ready_path": "/_stcore/health"}
PROBE = """(() => {
const b = window.__bench = {first: null, last: null, n: 0, pending: 0, quietAt: 0, ran: false,
  running: false, marks: {}, seen: new WeakMap()}, now = () => performance.now();
const shown = el => el.getBoundingClientRect().height > 0;
const drawn = el => el.data?.length && el.querySelector('.main-svg, canvas') && shown(el);
const any = sel => [...document.querySelectorAll(sel)].some(shown);
const mark = (name, holds) => { if (holds) b.marks[name] ??= now(); };
b.reset = () => {
  Object.assign(b, {first: null, last: null, ran: false, marks: {}, quietAt: now()});
  document.querySelectorAll('.js-plotly-plot').forEach(el => b.seen.set(el, el.data));
  return b.quietAt;
};
const tick = () => {
  const charts = [...document.querySelectorAll('.js-plotly-plot')].filter(drawn);
  for (const el of charts) if (b.seen.get(el) !== el.data) {
    b.seen.set(el, el.data); b.first ??= now(); b.last = now();
  }
  b.n = charts.length;
  const state = document.querySelector('[data-testid="stApp"]')?.dataset.testScriptState;
  const running = state === 'running' || state === 'rerunRequested';
  if (b.running && !running) b.quietAt = now();
  b.running = running; b.ran ||= running;
  mark('frame', any('[data-testid="stAppViewContainer"] :is(h1, [data-testid="stElementContainer"],'
    + ' [data-testid="stSpinner"])'));
  mark('signIn', any('input[aria-label="API token"]'));
  mark('table', any('[data-testid="stDataFrame"]'));
  mark('ready', b.marks.table != null && b.ran && !running);
};
const loop = () => { tick(); requestAnimationFrame(loop); };
requestAnimationFrame(loop);
new MutationObserver(tick).observe(document,
  {subtree: true, attributeFilter: ['data-test-script-state']});
const done = () => { if (--b.pending === 0) b.quietAt = now(); };
const fetch0 = window.fetch, send0 = XMLHttpRequest.prototype.send;
window.fetch = (...a) => { b.pending++; return fetch0(...a).finally(done); };
XMLHttpRequest.prototype.send = function (...a) {
  b.pending++; this.addEventListener('loadend', done); return send0.apply(this, a);
};
})()"""
SETTLED = """needChart => { const b = window.__bench;
  if (document.querySelector('[data-testid="stException"]')) return true;
  if (!b || (needChart ? b.first == null : !b.ran) || b.pending > 0 || b.running) return false;
  return performance.now() - Math.max(b.last ?? 0, b.quietAt) >= 1000; }"""
HEADER = f"{'page':30} {'trials':>6} {'first: median max':>17}  {'all: median max':>15} charts"


@dataclass
class Row:
    page: str
    size: str = ""
    first: list[float] = field(default_factory=list)  # seconds, one per repeat
    ready: list[float] = field(default_factory=list)
    charts: int | str = "-"
    targets: tuple[float | None, float | None] = (None, None)

    def line(self) -> str:
        cells, verdicts = [], []
        for times, target in zip((self.first, self.ready), self.targets, strict=True):
            cells.append(f"{median(times):8.2f} {max(times, default=math.nan):6.2f}")
            if target:
                verdicts.append(f"<= {target:g} s {'met' if median(times) <= target else 'MISSED'}")
        figures = f"{cells[0]}  {cells[1]} {self.charts!s:>6}"
        return f"{self.page:30} {self.size:>6} {figures}  {', '.join(verdicts)}"


def median(times: list[float]) -> float:
    return statistics.median(times) if times else math.nan


def ridge_trials(n_trials: int, seed: int = 0) -> list[tuple[dict, dict]]:
    """The Ridge grid's candidates in grid order, each with what a worker would have stored."""
    grid = {"alpha": [float(a) for a in np.logspace(-4, 4, n_trials // 4)]}
    grid |= {"fit_intercept": [True, False], "positive": [False, True]}
    rng, out = np.random.default_rng(seed), []
    for params in ParameterGrid(grid):
        if params["positive"] and rng.random() < 0.04:  # about 2% of all candidates
            nans = [None] * N_SPLITS
            failed = {"split_scores": nans, "split_train_scores": nans, "mean_fit_time": 0.0}
            out.append((params, failed | {"mean_test_score": None, "error": ERROR}))
            continue
        log_alpha = math.log10(params["alpha"])
        test = 0.48 - 0.006 * (log_alpha - 0.5) ** 2 - 0.35 * (not params["fit_intercept"])
        test -= 0.03 * params["positive"]
        train = test + 0.02 + 0.06 / (1 + math.exp(log_alpha))  # a small alpha overfits
        splits = test + rng.normal(0, 0.03, N_SPLITS)
        stored = {"mean_test_score": float(splits.mean()), "std_test_score": float(splits.std())}
        stored |= {"split_scores": splits.tolist(), "mean_score_time": 0.001, "error": None}
        stored["split_train_scores"] = (train + rng.normal(0, 0.005, N_SPLITS)).tolist()
        stored["mean_fit_time"] = 0.004 * (3 if params["positive"] else 1) * rng.lognormal(0, 0.2)
        out.append((params, stored))
    return out


def store_run(session: Session, owner, candidates: list[tuple[dict, dict]]) -> str:
    """A finished Ridge run of `candidates` as a worker would have left it; its id."""
    scores = [stored["mean_test_score"] or -math.inf for _, stored in candidates]
    best = int(np.argmax(scores))
    grid = {name: list(dict.fromkeys(p[name] for p, _ in candidates)) for name in candidates[0][0]}
    done = {"progress_current": len(candidates), "tuning_time": len(candidates) * 0.05}
    done |= {"best_params": candidates[best][0], "best_score": scores[best]}
    ridge = {"estimator": "Ridge", "dataset": "diabetes", "param_grid": grid, "scoring": "r2"}
    run = make_run(session, owner, **ridge, n_trials=0, cv=N_SPLITS, best_trial_index=best, **done)
    for index, (params, stored) in enumerate(candidates):
        trial = make_trial(run.id, index, params, 0.0, N_SPLITS, run.created_at)
        for name, value in stored.items():
            setattr(trial, name, value)
        session.add(trial)
    session.commit()
    return str(run.id)


def build(settings: Settings, n_runs: int, sizes: list[int]) -> tuple[str, dict[int, str]]:
    """The user's token and the Ridge run's id per size, among `n_runs` runs."""
    upgrade_database(settings)
    engine = create_runtime(settings).engine
    statuses = [RunStatus.SUCCESS] * 8 + [RunStatus.FAILURE, RunStatus.REVOKED]
    with Session(engine) as session:
        owner, token = create_user(session=session, name="bench")
        for i in range(n_runs - len(sizes)):
            ago = timedelta(minutes=i + 10)
            make_run(session, owner, status=statuses[i % 10], created_at=utcnow() - ago)
        runs = {n: store_run(session, owner, ridge_trials(n)) for n in sizes}
    engine.dispose()
    return token, runs


def optuna_studies(path: Path, sizes: list[int]) -> tuple[str, dict[int, int]]:
    """A storage URL and, per size, the id of a study of the same candidates and scores."""
    import optuna  # from requirements-bench.txt

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    both = optuna.distributions.CategoricalDistribution([False, True])
    space = {"alpha": optuna.distributions.FloatDistribution(1e-4, 1e4, log=True)}
    space |= {"fit_intercept": both, "positive": both}
    fail, done = optuna.trial.TrialState.FAIL, optuna.trial.TrialState.COMPLETE
    url, ids = f"sqlite:///{path}", {}
    for n in sizes:
        study = optuna.create_study(storage=url, study_name=f"ridge-{n}", direction="maximize")
        study.add_trials(
            optuna.trial.create_trial(
                params=params,
                distributions=space,
                value=stored["mean_test_score"],
                state=fail if stored["error"] else done,
            )
            for params, stored in ridge_trials(n)
        )
        ids[n] = study._study_id
    return url, ids


def new_page(browser: Browser) -> Page:
    """A page of a new browser context (no cookie, empty cache) with the probe."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    context.add_init_script(PROBE)
    return context.new_page()


@contextlib.contextmanager
def new_tab(context: BrowserContext, url: str, name: str, row: Row) -> Iterator[Page]:
    """`url` opened in a new tab of `context` (its cookies and cache), timed to `row`; closed
    on exit."""
    page = context.new_page()
    try:
        load(page, url, name, row)
        yield page
    finally:
        page.close()


def settle(page: Page, name: str, row: Row, since: float = 0.0, need_chart: bool = True) -> None:
    """Once the page settled (see SETTLED), its times from `since` go to `row`: the first and
    last chart drawn, or the script's end where none was; the page goes to /tmp/bench-NAME.png."""
    try:
        page.wait_for_function(SETTLED, arg=need_chart, polling=100, timeout=TIMEOUT_MS)
    finally:
        page.screenshot(path=f"/tmp/bench-{name}.png", full_page=True)
    if page.get_by_test_id("stException").count():
        raise RuntimeError(page.get_by_test_id("stException").first.inner_text())
    first, last, row.charts, quiet_at = page.evaluate(
        "[__bench.first, __bench.last, __bench.n, __bench.quietAt]"
    )
    row.first.append(((quiet_at if first is None else first) - since) / 1000)
    row.ready.append(((quiet_at if last is None else last) - since) / 1000)


def load(page: Page, url: str, name: str, row: Row) -> None:
    page.goto(url, wait_until="commit")
    settle(page, name, row)


def marks_at(page: Page, url: str, marks: tuple[str, str], row: Row) -> None:
    """Open `url`; the times of both marks of the probe go to `row`."""
    page.goto(url, wait_until="commit")
    found = f"__bench.marks.{marks[1]} != null && __bench.marks"
    seen = page.wait_for_function(found, polling=50, timeout=TIMEOUT_MS).json_value()
    row.first.append(seen[marks[0]] / 1000)
    row.ready.append(seen[marks[1]] / 1000)


def click(page: Page, section: str, size: int, row: Row) -> None:
    """Click `section` of the Results page's selector: from the click to its charts drawn."""
    selector = page.get_by_test_id("stButtonGroup").filter(has_text=SECTIONS[0])
    since = page.evaluate("__bench.reset()")
    selector.locator("button", has_text=re.compile(f"^{section}")).click()
    settle(page, f"results-{size}-{section}", row, since, need_chart=False)


def show_parallel(page: Page, size: int, row: Row) -> None:
    """In Parameters, turn on the parallel coordinates: from the click to the chart drawn."""
    since = page.evaluate("__bench.reset()")
    page.get_by_text("Show the parallel coordinates").click()
    settle(page, f"results-{size}-parallel", row, since)


@dataclass
class Peer:
    """optuna-dashboard's server and its study id per size, timed beside ours."""

    url: str
    ids: dict[int, int]
    rows: list[Row] = field(default_factory=list)

    def pages(self, size: int) -> dict[str, str]:
        study = f"{self.url}/dashboard/studies/{self.ids[size]}"
        return {name: study + path for name, path in OPTUNA_PAGES.items()}


def time_results(
    context: BrowserContext, url: str, run_id: str, size: int, repeat: int, peer: Peer
) -> list[Row]:
    """Results of a run as a link opened in new tabs, its sections switched in each tab, and
    optuna-dashboard's pages of the same trials in new tabs between ours."""
    targets = (1.5, 4.0) if size <= 5000 else (3.0, 8.0)  # twice the time past 5,000 trials
    address, label = f"{url}/results?run={run_id}", f"{size:,}"
    first, row = (Row(name, label, targets=targets) for name in ("Results, first view", NEW_TAB))
    clicks = {section: Row(f"  click {section}", label) for section in [*SECTIONS[1:], SECTIONS[0]]}
    parallel = Row("  + parallel coordinates", label)
    theirs = {name: Row(name, label) for name in peer.pages(size)}
    with new_tab(context, address, f"results-{size}-first", first):
        pass
    for page_url in peer.pages(size).values():  # warmed once, not counted
        with new_tab(context, page_url, f"optuna-{size}-warm", Row("")):
            pass
    for _ in range(repeat):
        with new_tab(context, address, f"results-{size}", row) as page:
            if page.get_by_test_id("stButtonGroup").filter(has_text=SECTIONS[0]).count():
                for section, clicked in clicks.items():
                    click(page, section, size, clicked)
                    if section == "Parameters":  # the toggle is off again once the page moves on
                        show_parallel(page, size, parallel)
        for name, page_url in peer.pages(size).items():
            with new_tab(context, page_url, f"optuna-{size}{name.split()[-1]}", theirs[name]):
                pass
    peer.rows += theirs.values()
    sections = [clicked for clicked in clicks.values() if clicked.first]
    return [first, row, *sections[:1], *([parallel] if parallel.first else []), *sections[1:]]


def time_new_server(browser: Browser, settings: Settings, tmp: Path, repeat: int) -> list[Row]:
    """The first page of new servers, each in a new browser context."""
    row = Row("New server: frame/sign-in", targets=(1.0, None))
    for i in range(repeat):
        with ServerProcess(settings, tmp / f"new{i}.log", **SERVER) as server:
            page = new_page(browser)
            marks_at(page, server.url + "/", ("frame", "signIn"), row)
            page.screenshot(path="/tmp/bench-new-server.png")
            page.context.close()
    return [row]


def time_signed_in(browser: Browser, settings: Settings, tmp: Path, args) -> Iterator[Callable]:
    """Steps over one server, signed in: the Results page of each big run beside
    optuna-dashboard's, optuna-dashboard's rows, then Runs."""
    token, runs = build(settings, args.runs, args.trials)
    storage, ids = optuna_studies(tmp / "optuna.db", args.trials)
    yield lambda: time_new_server(browser, settings, tmp, args.repeat)
    command = [str(Path(sys.executable).with_name("optuna-dashboard")), storage, "--host", HOST]
    with (
        ServerProcess(settings, tmp / "streamlit.log", **SERVER) as server,
        ServerProcess(settings, tmp / "o.log", command=command, ready_path="/api/meta") as theirs,
    ):
        page, url, peer = new_page(browser), server.url, Peer(theirs.url, ids)
        page.goto(f"{url}/?token={token}")  # then a cookie, and the address without the token
        page.wait_for_url(lambda address: "token" not in address, timeout=TIMEOUT_MS)
        page.get_by_text("Signed in as").wait_for(timeout=TIMEOUT_MS)
        for n, run_id in runs.items():
            yield lambda n=n, run_id=run_id: time_results(
                page.context, url, run_id, n, args.repeat, peer
            )
        yield lambda: peer.rows
        yield lambda: time_runs(page, url, args.runs, args.repeat)


def time_runs(page: Page, url: str, n_runs: int, repeat: int) -> list[Row]:
    row = Row(f"Runs of {n_runs:,}: shown/ready", targets=(None, 1.5))
    for _ in range(repeat):
        marks_at(page, url + "/", ("table", "ready"), row)
    page.screenshot(path="/tmp/bench-runs.png")
    return [row]


def ratios(rows: list[Row]) -> Iterator[str]:
    """Ours over optuna-dashboard's, on the medians: issue 8 asks for half its times."""
    by_name = {(row.page.strip(), row.size): row for row in rows}
    for (page, size), theirs in by_name.items():
        if page.startswith("optuna") and (ours := by_name.get((NEW_TAB, size))):
            first = median(ours.first) / median(theirs.first)
            ready = median(ours.ready) / median(theirs.ready)
            verdict = "met" if max(first, ready) <= 0.5 else "MISSED"
            figures = f"first {first:.2f}x, all {ready:.2f}x (target <= 0.5x: {verdict})"
            yield f"Results in a new tab / {page} at {size} trials: {figures}"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small data, one repeat")
    parser.add_argument("--runs", type=int, default=10_000, help="runs of the user [10000]")
    parser.add_argument("--trials", default="5000,20000", help="sizes of the big runs")
    parser.add_argument("--repeat", type=int, default=3, help="loads per page [3]")
    args = parser.parse_args(argv)
    args.trials = [int(n) for n in args.trials.split(",")]
    if args.quick:
        args.runs, args.trials, args.repeat = 500, [500, 2000], 1
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):  # so that the servers stop
        signal.signal(signum, _interrupt)
    began, rows, failures = time.monotonic(), [], 0
    print(f"{args.runs:,} runs; runs of {args.trials} trials; {args.repeat} repeats\n{HEADER}")
    try:
        with contextlib.ExitStack() as exits:
            tmp = Path(tempfile.mkdtemp(prefix="tfb-", dir="/tmp"))  # a Unix socket path is short
            exits.callback(shutil.rmtree, tmp, ignore_errors=True)
            urls = {"database_url": exits.enter_context(fresh_database(tmp, prefix="bench"))}
            urls["redis_url"] = exits.enter_context(running_redis(tmp))
            settings = Settings(_env_file=None, data_dir=tmp, **urls)
            chromium = exits.enter_context(sync_playwright()).chromium
            browser = chromium.launch(executable_path=CHROMIUM, headless=True, args=OPTIONS)
            for step in time_signed_in(browser, settings, tmp, args):
                try:
                    got = step()
                except (PlaywrightError, RuntimeError, TimeoutError) as exc:  # e.g. a page's error
                    failures += 1
                    print(f"FAILED (see /tmp/bench-*.png): {str(exc)[:800]}", flush=True)
                    continue
                rows += got
                print(*(row.line() for row in got), sep="\n", flush=True)
    except KeyboardInterrupt:
        print("\ninterrupted: stopped the servers and removed the temp dir", file=sys.stderr)
        return 130
    print("", HEADER, *(row.line() for row in rows), "", *ratios(rows), sep="\n")
    print(f"\nwall time {(time.monotonic() - began) / 60:.1f} min")
    return 1 if failures else 0


def _interrupt(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


if __name__ == "__main__":
    sys.exit(main())
