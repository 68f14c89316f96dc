"""How long the dashboard's biggest pages take to run, server-side, on big data.

    .venv/bin/python -m bench.dashboard_pages [--runs 10000] [--trials 5000] [--repeat 5]

Builds a throwaway database (SQLite under /tmp, or a fresh one on the PostgreSQL server of
`--database-url`, dropped after) with one user owning `--runs` finished runs, one of which holds
`--trials` trials, then runs the Runs page and that run's Results page through
streamlit's AppTest (the same script run a browser session gets, minus the websocket) and
prints the times. The first run of a fresh session is reported apart from its reruns.
"""

import argparse
import itertools
import os
import random
import shutil
import statistics
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

from sqlalchemy import insert, make_url
from sqlmodel import select

from tests.stack import fresh_database

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DASHBOARD = PROJECT_ROOT / "dashboard.py"
# 10 x 10 x 10 x 5 = 5,000 candidates, the size of a big grid search.
GRID = {
    "n_estimators": list(range(50, 550, 50)),
    "max_depth": [None, *range(2, 20, 2)],
    "min_samples_split": list(range(2, 22, 2)),
    "min_samples_leaf": [1, 2, 4, 8, 16],
}
STATUSES = ["SUCCESS"] * 8 + ["FAILURE", "REVOKED"]
ESTIMATORS = ["RandomForestClassifier", "SVC", "LogisticRegression", "KNeighborsClassifier"]
DATASETS = ["iris", "wine", "breast_cancer", "digits"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--trials", type=int, default=5_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--admin", action="store_true", help="sign in as an admin (sees all runs)")
    parser.add_argument("--database-url", help="a PostgreSQL server URL [SQLite under /tmp]")
    args = parser.parse_args()

    data_dir = Path(tempfile.mkdtemp(prefix="bench-dash-", dir="/tmp"))
    try:
        with fresh_database(data_dir, args.database_url, prefix="tuning_bench") as database_url:
            os.environ.update(
                DATA_DIR=str(data_dir),
                DATABASE_URL=database_url,
                REDIS_URL="redis://127.0.0.1:9/0",  # never reached: these pages read no task state
            )
            token, big_run = build(args.runs, args.trials, admin=args.admin)
            database = make_url(database_url).get_backend_name()
            print(f"{args.runs:,} runs; the big run has {args.trials:,} trials ({database})")
            warm_up(token)
            report("Runs page", time_page(token, None, {}, args.repeat))
            big = {"run": big_run}
            report("Results page", time_page(token, "pages/3_results.py", big, args.repeat))
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


def build(n_runs: int, n_trials: int, *, admin: bool = False) -> tuple[str, str]:
    """The database: a user, their runs, and the trials of the newest one."""
    from tuning.config import get_settings
    from tuning.db import session_scope, upgrade_database
    from tuning.domain import utcnow
    from tuning.models import Dataset, Trial, TuningRun
    from tuning.runtime import create_runtime
    from tuning.service import create_user

    settings = get_settings()
    upgrade_database(settings)
    engine = create_runtime(settings).engine
    rng = random.Random(0)
    now = utcnow()
    with session_scope(engine) as session:
        user, token = create_user(session=session, name="bench", is_admin=admin)
        datasets = dict(session.exec(select(Dataset.name, Dataset.id)).all())
        runs = [
            {
                "id": uuid.uuid4(),
                "owner_id": user.id,
                "dataset_id": datasets[rng.choice(DATASETS)],
                "estimator": rng.choice(ESTIMATORS),
                "param_grid": GRID,
                "cv": 5,
                "scoring": "accuracy",
                "status": rng.choice(STATUSES),
                "progress_current": 10,
                "progress_total": 10,
                "total_combinations": 10,
                "best_score": rng.uniform(0.8, 0.99),
                "tuning_time": rng.uniform(5, 500),
                "created_at": now - timedelta(minutes=i + 1),
                "started_at": now - timedelta(minutes=i + 1),
                "finished_at": now - timedelta(minutes=i),
            }
            for i in range(n_runs)
        ]
        big = runs[0]
        big.update(status="SUCCESS", estimator="RandomForestClassifier")
        big.update(progress_current=n_trials, progress_total=n_trials, total_combinations=n_trials)
        session.execute(insert(TuningRun), runs)
        candidates = itertools.islice(_grid(), n_trials)
        trials = [_trial(big["id"], index, params, rng) for index, params in enumerate(candidates)]
        session.execute(insert(Trial), trials)
        session.commit()
    return token, str(big["id"])


def _grid():
    names = list(GRID)
    for values in itertools.product(*GRID.values()):
        yield dict(zip(names, values, strict=True))


def _trial(run_id: uuid.UUID, index: int, params: dict, rng: random.Random) -> dict:
    depth = params["max_depth"] or 25
    mean = 0.9 + 0.04 * min(depth, 10) / 10 - 0.002 * params["min_samples_leaf"]
    splits = [mean + rng.gauss(0, 0.01) for _ in range(5)]
    return {
        "run_id": run_id,
        "index": index,
        "params": params,
        "mean_test_score": statistics.fmean(splits),
        "std_test_score": statistics.pstdev(splits),
        "split_scores": splits,
        "mean_fit_time": 0.002 * params["n_estimators"] * rng.uniform(0.8, 1.2),
        "mean_score_time": 0.01,
    }


def time_page(token: str, page: str | None, query: dict[str, str], repeat: int) -> list[float]:
    """Seconds of a fresh session's first script run (signing in by link), then of reruns."""
    from streamlit.testing.v1 import AppTest

    app = AppTest.from_file(str(DASHBOARD), default_timeout=120)
    app.query_params.update(query, token=token)
    if page:
        app.switch_page(page)
    times = []
    for _ in range(repeat + 1):
        started = time.perf_counter()
        app.run()
        times.append(time.perf_counter() - started)
        assert not app.exception, app.exception
    return times


def warm_up(token: str) -> None:
    """Import what the server process has imported long before a user comes."""
    time_page(token, None, {}, 0)


def report(name: str, times: list[float]) -> None:
    first, reruns = times[0], times[1:]
    print(
        f"{name:13} first run {first * 1000:6.0f} ms; reruns median "
        f"{statistics.median(reruns) * 1000:6.0f} ms, max {max(reruns) * 1000:6.0f} ms"
    )


if __name__ == "__main__":
    main()
