"""A run as its user waits for it: `python -m tuning tune … --wait` from the command to its last
line, against scikit-learn's fastest setting on the same work, in the same sitting.

    make bench-cli                                  # = python -m bench.cli_speed
    .venv/bin/python -m bench.cli_speed --rounds 1 --cases ridge-1000

A throwaway stack as `make run` starts it (a fresh SQLite file, the embedded Redis, one worker
with a process per core, from `tests/stack.py`) serves every case. Each round times, one after
the other, the CLI (a new process: imports, submit, the progress bar, SUCCESS) and
`GridSearchCV(n_jobs=-1)` in a new process on the same pipeline (the dataset profile's default
column roles, as the run gets), splits, grid and scorer, without train scores on both sides;
the best of the rounds is kept for each (these machines are noisy: the ratio is the figure).
The run's best must equal GridSearchCV's.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tests.stack import WorkerProcess, fresh_database, running_redis, stack_env
from tuning.config import PROJECT_ROOT, Settings
from tuning.db import upgrade_database


@dataclass(frozen=True)
class Case:
    name: str
    dataset: str
    estimator: str
    grid: dict
    cv: int
    scoring: str
    target: float  # the ratio the issue asks for, at most


def ridge_grid(n_candidates: int) -> dict:
    alphas = [round(float(a), 10) for a in np.logspace(-3, 3, n_candidates // 4)]
    return {"alpha": alphas, "fit_intercept": [True, False], "positive": [False, True]}


CASES = [
    Case(
        "forest-36",
        "breast_cancer",
        "RandomForestClassifier",
        {
            "n_estimators": [50, 100, 200],
            "max_depth": [None, 4, 8],
            "max_features": ["sqrt", 0.5, None, "log2"],
        },
        5,
        "accuracy",
        1.05,
    ),
    Case("ridge-1000", "diabetes", "Ridge", ridge_grid(1000), 3, "r2", 1.1),
    Case("ridge-5000", "diabetes", "Ridge", ridge_grid(5000), 3, "r2", 1.1),
]

SKLEARN = """
import json, sys, time
from sklearn.model_selection import GridSearchCV
from tuning.ml.datasets import load_bundled
from tuning.ml.search import default_pipeline, make_splits, pipeline_params
case = json.loads(sys.argv[1])
began = time.perf_counter()
table = load_bundled(case["dataset"])
pipeline = default_pipeline(case["estimator"], table)
splits = make_splits(case["cv"], table, pipeline)
search = GridSearchCV(pipeline, pipeline_params(case["grid"]), cv=splits,
                      scoring=case["scoring"], n_jobs=-1).fit(table.X, table.y)
best = {k.removeprefix("model__"): v for k, v in search.best_params_.items()}
print(json.dumps({"seconds": time.perf_counter() - began, "best_params": best,
                  "best_score": search.best_score_}))
"""


def time_cli(case: Case, env: dict[str, str]) -> tuple[float, dict]:
    command = [
        sys.executable, "-m", "tuning", "tune", "--dataset", case.dataset,
        "--estimator", case.estimator, "--param-grid", json.dumps(case.grid),
        "--cv", str(case.cv), "--scoring", case.scoring, "--no-train-scores", "--wait",
    ]  # fmt: skip
    began = time.perf_counter()
    done = subprocess.run(command, env=env, cwd=PROJECT_ROOT, capture_output=True, text=True)
    seconds = time.perf_counter() - began
    if done.returncode != 0:
        raise SystemExit(f"{case.name}: the CLI exited {done.returncode}: {done.stderr[-2000:]}")
    return seconds, json.loads(done.stdout.strip().splitlines()[-1])


def time_sklearn(case: Case, env: dict[str, str]) -> dict:
    payload = json.dumps(
        {k: getattr(case, k) for k in ("dataset", "estimator", "grid", "cv", "scoring")}
    )
    done = subprocess.run(
        [sys.executable, "-c", SKLEARN, payload],
        env=env,
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument(
        "--cases", help="Comma-separated names: " + ", ".join(c.name for c in CASES)
    )
    args = parser.parse_args()
    chosen = [c for c in CASES if not args.cases or c.name in args.cases.split(",")]
    folder = Path(tempfile.mkdtemp(prefix="bench-", dir="/tmp"))
    with fresh_database(folder, None) as url, running_redis(folder, None) as redis_url:
        settings = Settings(_env_file=None, data_dir=folder, database_url=url, redis_url=redis_url)
        upgrade_database(settings)
        env = stack_env(settings)
        cores = len(os.sched_getaffinity(0))
        with WorkerProcess(settings, folder / "worker.log", concurrency=cores):
            print("| case | CLI submit to SUCCESS | GridSearchCV(n_jobs=-1) | ratio | target |")
            print("|---|---|---|---|---|")
            for case in chosen:
                cli, sk = [], []
                for _ in range(args.rounds):
                    seconds, status = time_cli(case, env)
                    theirs = time_sklearn(case, env)
                    assert status["status"] == "SUCCESS", status
                    assert status["result"]["best_params"] == theirs["best_params"], (
                        status,
                        theirs,
                    )
                    assert status["result"]["best_score"] == theirs["best_score"]
                    cli.append(seconds)
                    sk.append(theirs["seconds"])
                ratio = min(cli) / min(sk)
                verdict = "met" if ratio <= case.target else "missed"
                print(
                    f"| {case.name} | {min(cli):.2f} s | {min(sk):.2f} s | {ratio:.2f}x | "
                    f"<= {case.target}x ({verdict}) |",
                    flush=True,
                )


if __name__ == "__main__":
    main()
