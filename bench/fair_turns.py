"""Fair turns as analysts meet them: a colleague's small run behind a big one, and two users'
equal runs submitted together.

    make bench-fair                          # = python -m bench.fair_turns
    .venv/bin/python -m bench.fair_turns --rounds 1

A throwaway stack as `make run` starts it (a fresh SQLite file, the embedded Redis, one worker
with a process per core, from `tests/stack.py`). Each case is timed from the CLI, as a user
waits for it: `python -m tuning tune … --user NAME --wait`, command to last line.

- small behind big: a 4-candidate DecisionTree run on iris alone, then 3 s after another
  user's big run (2,000 Ridge candidates on diabetes; 160 forests on breast_cancer). Targets:
  at most 10 s, and at most twice its time alone plus one chunk (the mean chunk time measured
  on the stack).
- two equal runs: two users' identical 400-candidate Ridge runs submitted together; their
  submit-to-finish times (from the runs' rows) within 20 % of each other.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np
from sqlmodel import Session

from tests.stack import WorkerProcess, fresh_database, running_redis, stack_env
from tuning.config import PROJECT_ROOT, Settings
from tuning.db import create_db_engine, upgrade_database
from tuning.models import TuningRun
from tuning.service import create_user, typical_chunk_s

SMALL = ["--dataset", "iris", "--estimator", "DecisionTreeClassifier",
         "--param-grid", json.dumps({"max_depth": [1, 2, 3, 4]}), "--cv", "3"]  # fmt: skip


def ridge(n_candidates: int) -> list[str]:
    alphas = [round(float(a), 10) for a in np.logspace(-4, 3, n_candidates)]
    return ["--dataset", "diabetes", "--estimator", "Ridge", "--scoring", "r2", "--cv", "3",
            "--param-grid", json.dumps({"alpha": alphas})]  # fmt: skip


FOREST = ["--dataset", "breast_cancer", "--estimator", "RandomForestClassifier", "--cv", "5",
          "--param-grid", json.dumps({"n_estimators": [50, 100, 200, 300],
                                      "max_depth": [None, 4, 8, 16, 32],
                                      "max_features": ["sqrt", 0.5, None, "log2"],
                                      "criterion": ["gini", "entropy"]})]  # fmt: skip
BIG = {"ridge-2000": ridge(2000), "forest-160": FOREST}


def tune(env: dict[str, str], user: str, args: list[str], wait: bool) -> tuple[float, str]:
    """Run the CLI; its seconds and its last line (the status JSON, or the run's id)."""
    command = [sys.executable, "-m", "tuning", "tune", "--user", user, *args]
    began = time.perf_counter()
    done = subprocess.run(
        command + (["--wait"] if wait else []),
        env=env,
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - began
    if done.returncode != 0:
        raise SystemExit(f"the CLI exited {done.returncode}: {done.stderr[-2000:]}")
    return seconds, done.stdout.strip().splitlines()[-1]


def cancel(env: dict[str, str], run_id: str) -> None:
    """Cancel the big run, unless it has ended already (without fair turns, it ends first)."""
    subprocess.run(
        [sys.executable, "-m", "tuning", "cancel", run_id],
        env=env,
        cwd=PROJECT_ROOT,
        capture_output=True,
        check=False,
    )


def small_behind_big(env: dict[str, str], settings: Settings, rounds: int) -> None:
    alone = min(tune(env, "bob", SMALL, wait=True)[0] for _ in range(rounds + 1))
    engine = create_db_engine(settings)
    print(f"small run alone: {alone:.2f} s (best of {rounds + 1}, the first warms up)")
    print("| big run ahead (another user) | small run, submit to SUCCESS | target | verdict |")
    print("|---|---|---|---|")
    for name, big in BIG.items():
        times = []
        for _ in range(rounds):
            _, big_id = tune(env, "alice", big, wait=False)
            time.sleep(3.0)
            seconds, status = tune(env, "bob", SMALL, wait=True)
            assert json.loads(status)["status"] == "SUCCESS", status
            cancel(env, big_id)
            times.append(seconds)
            time.sleep(2.0)
        with Session(engine) as session:
            chunk_s = typical_chunk_s(session=session, settings=settings)
        target = min(10.0, 2 * alone + chunk_s)
        worst = max(times)
        verdict = "met" if worst <= target else "missed"
        shown = ", ".join(f"{t:.2f} s" for t in times)
        print(f"| {name} | {shown} | <= {target:.2f} s (chunk {chunk_s:.2f} s) | {verdict} |")
    engine.dispose()


def equal_runs(env: dict[str, str], settings: Settings, rounds: int) -> None:
    engine = create_db_engine(settings)
    print("| two users' equal runs (400 Ridge candidates) | first | second | gap | target |")
    print("|---|---|---|---|---|")
    for _ in range(rounds):
        ids = [tune(env, user, ridge(400), wait=False)[1] for user in ("alice", "bob")]
        spans = []
        for run_id in ids:
            while True:
                with Session(engine) as session:
                    run = session.get(TuningRun, uuid.UUID(run_id))
                    assert run is not None
                    if run.finished_at is not None:
                        spans.append((run.finished_at - run.created_at).total_seconds())
                        break
                time.sleep(0.2)
        gap = abs(spans[0] - spans[1]) / max(spans)
        verdict = "met" if gap <= 0.2 else "missed"
        print(f"| | {spans[0]:.2f} s | {spans[1]:.2f} s | {gap:.0%} | <= 20 % ({verdict}) |")
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-", dir="/tmp"))
    with fresh_database(folder, None) as url, running_redis(folder, None) as redis_url:
        settings = Settings(_env_file=None, data_dir=folder, database_url=url, redis_url=redis_url)
        upgrade_database(settings)
        engine = create_db_engine(settings)
        with Session(engine) as session:
            for name in ("alice", "bob"):
                create_user(session=session, name=name)
        engine.dispose()
        env = stack_env(settings)
        cores = len(os.sched_getaffinity(0))
        with WorkerProcess(settings, folder / "worker.log", concurrency=cores):
            small_behind_big(env, settings, args.rounds)
            equal_runs(env, settings, args.rounds)


if __name__ == "__main__":
    main()
