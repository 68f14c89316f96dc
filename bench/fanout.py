"""A run fanned out over worker processes, against scikit-learn itself (issue 7's benchmark).

    make bench-fanout                           # = python -m bench.fanout
    .venv/bin/python -m bench.fanout --quick    # small grids: checks the wiring in about 1 min
    .venv/bin/python -m bench.fanout --cases 2 --database-url postgresql+psycopg://… \\
        --redis-url redis://127.0.0.1:6379/14

Each configuration gets a throwaway stack of its own from `tests/stack.py` under /tmp (a fresh
SQLite file or a fresh database on `--database-url`'s server; the embedded Redis or the given
one, flushed), migrated, with a user and the case's workers; all stopped and removed after. A run
is submitted through the service layer and timed from `submit_run` to the first `get_status`
that says SUCCESS (polled every 0.1 s). In the same sitting `GridSearchCV` is timed on the same
pipeline, splits and grid, and the run's best must equal its best. Both sides first do a
one-candidate warm-up (a `make run` worker is long-lived; so is loky's pool of processes).

1. RandomForestClassifier, 36 candidates x 5 folds on breast_cancer; one worker, a process per
   core (as `make run` starts it) / GridSearchCV(n_jobs=-1): target <= 1.05x.
2. Ridge, 5,000 candidates x 3 folds on diabetes; one worker of concurrency 1 - GridSearchCV(
   n_jobs=1), per candidate: target <= 2 ms; and the worker's peak RSS per process (VmHWM).
3. Case 1's grid on workers "a" and "b" of concurrency 1 / one such worker: target <= 0.6x, and
   the trials name both workers.
"""

import argparse
import contextlib
import os
import shutil
import signal
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.model_selection import GridSearchCV

from tests.stack import WorkerProcess, fresh_database, running_redis, wait_until
from tuning.config import Settings
from tuning.db import session_scope, upgrade_database
from tuning.domain import RunStatus
from tuning.ml.datasets import load_bundled
from tuning.ml.search import default_pipeline, make_splits, pipeline_params
from tuning.models import User
from tuning.runtime import Runtime, create_runtime
from tuning.schemas import TuningResult, TuningRunCreate, TuningStatus
from tuning.service import create_user, get_status, list_trials, live_workers, submit_run

ALPHAS = [float(alpha) for alpha in np.logspace(-4, 4, 2500)]  # plain floats, JSON as given
FOREST_GRID = {
    "n_estimators": [50, 100, 150, 200],
    "max_depth": [None, 5, 10],
    "min_samples_leaf": [1, 2, 4],
}


FOREST = TuningRunCreate(
    dataset="breast_cancer",
    estimator="RandomForestClassifier",
    param_grid=FOREST_GRID,
    cv=5,
    scoring="accuracy",
    random_state=0,
)
RIDGE = FOREST.model_copy(
    update={"dataset": "diabetes", "estimator": "Ridge", "cv": 3, "scoring": "r2"}
    | {"param_grid": {"alpha": ALPHAS, "fit_intercept": [True, False]}}
)
QUICK_FOREST = FOREST.model_copy(
    update={"param_grid": {"n_estimators": [10, 20], "max_depth": [None, 5]}}
)
QUICK_RIDGE = RIDGE.model_copy(
    update={"param_grid": {"alpha": ALPHAS[::125], "fit_intercept": [True, False]}}
)


def warm_up(search: TuningRunCreate) -> TuningRunCreate:
    """One candidate of the same estimator and data."""
    first = {name: values[:1] for name, values in search.param_grid.items()}
    return search.model_copy(update={"param_grid": first})


def label(search: TuningRunCreate) -> str:
    n_candidates = np.prod([len(values) for values in search.param_grid.values()])
    return f"{search.estimator} {n_candidates}x{search.cv}"


@contextlib.contextmanager
def stack(
    args: argparse.Namespace, workers: Sequence[tuple[str | None, int]]
) -> Iterator[tuple[Runtime, User, list[WorkerProcess]]]:
    """A migrated database, a Redis, a user and `workers` (hostname, concurrency), alive."""
    with contextlib.ExitStack() as exits:
        tmp = Path(tempfile.mkdtemp(prefix="tfb-", dir="/tmp"))  # a Unix socket path is short
        exits.callback(shutil.rmtree, tmp, ignore_errors=True)
        database_url = exits.enter_context(fresh_database(tmp, args.database_url, prefix="bench"))
        redis_url = exits.enter_context(running_redis(tmp, args.redis_url))
        settings = Settings(
            _env_file=None, data_dir=tmp, database_url=database_url, redis_url=redis_url
        )
        upgrade_database(settings)
        runtime = create_runtime(settings)
        exits.callback(runtime.engine.dispose)
        with session_scope(runtime.engine) as session:
            owner, _ = create_user(session=session, name="bench")
        started = [
            exits.enter_context(
                WorkerProcess(settings, tmp / f"worker{i}.log", concurrency=n, hostname=name)
            )
            for i, (name, n) in enumerate(workers)
        ]

        def all_alive() -> bool:  # a run's chunks are sized from the live worker processes
            with session_scope(runtime.engine) as session:
                alive = live_workers(session=session, timeout_s=settings.worker_timeout_s)
            return len(alive) == len(workers)

        wait_until(all_alive, timeout=30, interval=0.2, message="worker heartbeats")
        yield runtime, owner, started


def time_run(
    runtime: Runtime, owner: User, search: TuningRunCreate
) -> tuple[float, TuningResult, uuid.UUID]:
    """Seconds from submit to SUCCESS, the run's result and its id."""
    began = time.perf_counter()
    with session_scope(runtime.engine) as session:
        run = submit_run(
            session=session,
            queue=runtime.queue,
            settings=runtime.settings,
            owner=owner,
            run_in=search,
        )

    def finished() -> TuningStatus | None:
        with session_scope(runtime.engine) as session:
            status = get_status(session=session, queue=runtime.queue, run_id=run.id)
        return status if status.status.is_finished else None

    status = wait_until(finished, timeout=3600, interval=0.1)
    seconds = time.perf_counter() - began
    if status.status is not RunStatus.SUCCESS or status.result is None:
        raise RuntimeError(f"run {run.id} ended {status.status}: {status.error}")
    return seconds, status.result, run.id


def time_sklearn(search: TuningRunCreate, n_jobs: int) -> tuple[float, GridSearchCV]:
    """Seconds of GridSearchCV.fit on the pipeline, splits and grid a worker uses."""
    table = load_bundled(search.dataset)
    for each in (warm_up(search), search):  # the last one is timed
        pipeline = default_pipeline(each.estimator, table, random_state=each.random_state)
        splits = make_splits(each.cv, table, pipeline)
        grid = pipeline_params(each.param_grid)
        oracle = GridSearchCV(pipeline, grid, cv=splits, scoring=each.scoring, n_jobs=n_jobs)
        began = time.perf_counter()
        oracle.fit(table.X, table.y)
    return time.perf_counter() - began, oracle


def same_best(result: TuningResult, oracle: GridSearchCV) -> bool:
    params = {name.removeprefix("model__"): v for name, v in oracle.best_params_.items()}
    return result.best_params == params and result.best_score == oracle.best_score_


def peak_rss_mib(worker: WorkerProcess) -> list[float]:
    """VmHWM of the worker's main process, then of each pool child, in MiB."""

    def vm_hwm(pid: int) -> float:
        status = Path(f"/proc/{pid}/status").read_text()
        kib = next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:"))
        return int(kib) / 1024

    return [vm_hwm(pid) for pid in [worker.process.pid, *worker.pool_children()]]


@dataclass
class Run:
    seconds: float
    result: TuningResult
    rss_mib: list[float]  # of the first worker: its main process, then its pool children
    trials_by_worker: Counter[str]


def measure_run(
    args: argparse.Namespace, search: TuningRunCreate, workers: list[tuple[str | None, int]]
) -> Run:
    """The run on a stack of its own with `workers` (hostname, concurrency), after a warm-up."""
    with stack(args, workers) as (runtime, owner, started):
        time_run(runtime, owner, warm_up(search))
        seconds, result, run_id = time_run(runtime, owner, search)
        with session_scope(runtime.engine) as session:
            trials = list_trials(session=session, run_id=run_id)
        by_worker = Counter(str(trial.worker).split("@")[0] for trial in trials)
        return Run(seconds, result, peak_rss_mib(started[0]), by_worker)


@dataclass
class Figure:
    """A row of the table: our wall time, the reference's, what that comes to, and a note."""

    case: int
    what: str
    ours_s: float
    reference_s: float
    figure: str
    target: str
    met: bool
    same_best: bool
    note: str

    def lines(self) -> list[str]:
        verdict = ("met" if self.met else "MISSED") + ("" if self.same_best else ", BEST DIFFERS")
        figures = f"{self.ours_s:7.1f} {self.reference_s:7.1f} {self.figure:>15} {self.target:>8}"
        return [f"{self.case:<4} {self.what:58} {figures}  {verdict}", f"     {self.note}"]


HEADER = f"{'case':4} {'what':58} {'ours s':>7} {'ref. s':>7} {'figure':>15} {'target':>8}"


def case_1(args: argparse.Namespace, search: TuningRunCreate) -> Figure:
    cores = os.cpu_count() or 1
    sklearn_s, oracle = time_sklearn(search, n_jobs=-1)
    run = measure_run(args, search, [(None, cores)])
    ratio = run.seconds / sklearn_s
    what = f"{label(search)}: 1 worker, {cores} procs / n_jobs=-1"
    same = same_best(run.result, oracle)
    note = "ratio: submit->SUCCESS / GridSearchCV(n_jobs=-1).fit"
    figure = f"{ratio:.2f}x"
    return Figure(1, what, run.seconds, sklearn_s, figure, "<= 1.05x", ratio <= 1.05, same, note)


def case_2(args: argparse.Namespace, search: TuningRunCreate) -> Figure:
    sklearn_s, oracle = time_sklearn(search, n_jobs=1)
    run = measure_run(args, search, [(None, 1)])
    overhead_ms = (run.seconds - sklearn_s) / len(oracle.cv_results_["params"]) * 1000
    what = f"{label(search)}: 1 worker, 1 proc - n_jobs=1"
    figure = f"{overhead_ms:.2f} ms/cand"
    same = same_best(run.result, oracle)
    rss = ", pool child ".join(f"{mib:.0f}" for mib in run.rss_mib)
    note = f"peak RSS (VmHWM), MiB: worker main {rss}"
    return Figure(2, what, run.seconds, sklearn_s, figure, "<= 2 ms", overhead_ms <= 2, same, note)


def case_3(args: argparse.Namespace, search: TuningRunCreate) -> Figure:
    _, oracle = time_sklearn(search, n_jobs=-1)  # for its best only
    one = measure_run(args, search, [("solo", 1)])
    two = measure_run(args, search, [("a", 1), ("b", 1)])
    ratio = two.seconds / one.seconds
    met = ratio <= 0.6 and set(two.trials_by_worker) == {"a", "b"}
    what = f"{label(search)}: 2 workers, 1 proc each / 1"
    same = same_best(one.result, oracle) and same_best(two.result, oracle)
    note = f"trials of the 2-worker run by worker: {dict(sorted(two.trials_by_worker.items()))}"
    return Figure(3, what, two.seconds, one.seconds, f"{ratio:.2f}x", "<= 0.6x", met, same, note)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small grids, to check the wiring")
    parser.add_argument("--cases", default="1,2,3", help="which cases, e.g. 1,3 [1,2,3]")
    parser.add_argument("--database-url", help="a PostgreSQL server URL [SQLite under /tmp]")
    parser.add_argument("--redis-url", help="e.g. redis://127.0.0.1:6379/14, flushed [embedded]")
    args = parser.parse_args(argv)
    args.cases = sorted({int(case) for case in args.cases.split(",")})
    if not set(args.cases) <= {1, 2, 3}:
        parser.error("--cases takes 1, 2 and 3")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):  # so that the stack stops
        signal.signal(signum, _interrupt)
    forest, ridge = (QUICK_FOREST, QUICK_RIDGE) if args.quick else (FOREST, RIDGE)
    cases = {1: (case_1, forest), 2: (case_2, ridge), 3: (case_3, forest)}
    database = "PostgreSQL" if args.database_url else "SQLite"
    print(f"{os.cpu_count()} CPUs; {database}; {'given' if args.redis_url else 'embedded'} Redis")
    print("load average before: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()), flush=True)
    figures = []
    try:
        for case in args.cases:
            measure, search = cases[case]
            figures.append(measure(args, search))
            print("\n".join(figures[-1].lines()), flush=True)
    except KeyboardInterrupt:
        print("\ninterrupted: stopped the workers and removed the temp dirs", file=sys.stderr)
        return 130
    print("load average after: {:.2f} {:.2f} {:.2f}\n".format(*os.getloadavg()))
    print("\n".join([HEADER, *(line for figure in figures for line in figure.lines())]))
    return 0 if all(figure.same_best for figure in figures) else 1


def _interrupt(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


if __name__ == "__main__":
    sys.exit(main())
