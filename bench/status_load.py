"""Load test of the status endpoint against a constant FastAPI baseline (issue 3).

    make bench                                  # = python -m bench.status_load
    .venv/bin/python -m bench.status_load --duration 8 --repeat 3
    .venv/bin/python -m bench.status_load \\
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/test \\
        --redis-url redis://127.0.0.1:6379/14

It needs wrk (`apt-get install wrk`). One run builds a throwaway stack with `tests/stack.py` in a
temporary folder under /tmp: a fresh SQLite file (or a fresh database on the given PostgreSQL
server, dropped after), the embedded Redis (or the given one, where only the bench's own key is
written), a user with a token, and two runs:

- an ACTIVE run: its row says PROGRESS 4/12 and Celery's result backend says 9/12, so every
  status read does the database read *and* the Redis read, and a body saying 9 came from Redis;
- a finished (SUCCESS) run, answered from its row alone.

uvicorn serves the real app and `bench.baseline_app` (the spec's PROGRESS example as a constant,
from an `async def` and from a `def` route), each in its own process group on a free port, with
the same options. Every endpoint gets a warm-up, then `--duration` seconds of `--connections`
keep-alive pollers. The verdict holds the status route to the targets of issue 3: at least half
the baseline's throughput, and a p99 under 50 ms.

Stalls: a stalled server answers nothing and wrk then reports no errors at all, so after each
load one request is timed ("drain s") and the server's log is scanned for tracebacks. A route
that holds a pooled connection while it waits for a thread once deadlocked this way past ~55
requests in flight: 0 req/s, drain ~30 s, QueuePool TimeoutError; `--connections 60` checks it.
"""

import argparse
import contextlib
import os
import shutil
import signal
import sys
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
from sqlalchemy import make_url
from sqlmodel import Session

from bench import load
from bench.load import Measurement
from tests.factories import make_run
from tests.stack import HOST, ServerProcess, fresh_database, running_redis
from tuning.config import Settings
from tuning.db import upgrade_database
from tuning.domain import RunStatus
from tuning.runtime import create_runtime
from tuning.service import create_user

STATUS_PATH = "/api/v1/tuning/tune/{}/status"
TARGET_RATIO = 0.5  # status req/s >= half the baseline's
TARGET_P99_MS = 50.0
GRID: dict[str, list] = {"n_estimators": [10, 20, 50, 100], "max_depth": [None, 3, 5]}
ROW_DONE = 4  # of the ACTIVE run's 12 candidates, in its row; the result backend says 9
LIVE_META = {
    "current": 9,
    "total": 12,
    "status": "Testing parameter combination 9/12...",
    "percentage": 75.0,
}
BASELINE_ROW = "baseline (async def, constant)"
STATUS_ROW = "status PROGRESS (DB + Redis)"
# What each endpoint's 200s must contain; wrk counts the others as wrong.
CONSTANT, LIVE, FINISHED = '"status":"PROGRESS"', '"current":9,', '"status":"SUCCESS"'


@dataclass
class Stack:
    api: ServerProcess
    baseline: ServerProcess
    headers: dict[str, str]
    progress_path: str
    success_path: str
    description: str


@contextlib.contextmanager
def served_stack(args: argparse.Namespace) -> Iterator[Stack]:
    """The database, Redis, two runs and both servers; all of it stopped and removed on exit."""
    with contextlib.ExitStack() as exits:
        # Short, because a Unix socket path must stay under ~107 bytes.
        tmp = Path(tempfile.mkdtemp(prefix="tsb-", dir="/tmp"))
        exits.callback(shutil.rmtree, tmp, ignore_errors=True)
        database_url = exits.enter_context(
            fresh_database(tmp, args.database_url, prefix="tuning_bench")
        )
        redis_url = exits.enter_context(running_redis(tmp, args.redis_url, flush=False))
        settings = Settings(
            _env_file=None, data_dir=tmp, database_url=database_url, redis_url=redis_url
        )
        upgrade_database(settings)
        runtime = create_runtime(settings)
        exits.callback(runtime.engine.dispose)
        with Session(runtime.engine, expire_on_commit=False) as session:
            user, token = create_user(session=session, name=f"bench-{uuid.uuid4().hex[:8]}")
            active = make_run(
                session, user, param_grid=GRID, status=RunStatus.PROGRESS, n_trials=ROW_DONE
            )
            finished = make_run(session, user, param_grid=GRID)
        runtime.celery.backend.store_result(active.task_id, dict(LIVE_META), "PROGRESS")
        exits.callback(runtime.celery.backend.forget, active.task_id)

        headers = {"Authorization": f"Bearer {token}"}
        progress_path = STATUS_PATH.format(active.id)
        launcher = "bench.uvicorn_nodelay" if args.workers > 1 else "uvicorn"  # see that module
        options = ["--host", HOST, "--workers", str(args.workers)]
        options += ["--log-level", "warning", "--no-access-log"]

        def serve(app: str, log: str) -> ServerProcess:
            server = ServerProcess(
                settings,
                tmp / log,
                command=["-m", launcher, app, *options],
                ready_path=progress_path,
                headers=headers,
                cwd=tmp,  # so that a developer's .env in the checkout is not read
            )
            return exits.enter_context(server)

        api = serve("tuning.api.main:app", "api.log")
        baseline = serve("bench.baseline_app:app", "baseline.log")
        database = "SQLite (WAL)" if database_url.startswith("sqlite") else redact(database_url)
        redis = redact(redis_url) if args.redis_url else "embedded Redis (Unix socket)"
        yield Stack(
            api=api,
            baseline=baseline,
            headers=headers,
            progress_path=progress_path,
            success_path=STATUS_PATH.format(finished.id),
            description=f"{database}; {redis}; uvicorn via `python -m {launcher}`",
        )


def redact(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def preflight(stack: Stack) -> None:
    """One request each before any load: the live Redis path must really be the one measured."""

    def get(server: ServerProcess, path: str) -> dict:
        return httpx.get(server.url + path, headers=stack.headers, timeout=5).json()

    live = get(stack.api, stack.progress_path)
    if live.get("status") != "PROGRESS" or live.get("progress") != LIVE_META:
        raise RuntimeError(f"the status of the ACTIVE run is not the live Redis meta: {live}")
    done = get(stack.api, stack.success_path)
    if done.get("status") != "SUCCESS" or not done.get("result"):
        raise RuntimeError(f"unexpected status of the SUCCESS run: {done}")
    if set(get(stack.baseline, stack.progress_path)) != set(live):
        raise RuntimeError("the baseline's answer has another shape than the real one")


def verdict(status: Measurement, baseline: Measurement) -> tuple[bool, list[str]]:
    ratio = status.rps / baseline.rps if baseline.rps else 0.0
    failures = []
    if ratio < TARGET_RATIO:
        failures.append(f"throughput {ratio:.2f}x baseline < {TARGET_RATIO}x")
    if status.p99_ms >= TARGET_P99_MS:
        failures.append(f"p99 {status.p99_ms:.1f} ms >= {TARGET_P99_MS:.0f} ms")
    if status.requests == 0 or status.drain_s > 1.0:
        failures.append(
            f"the server stalled ({status.requests} answers; one request after the load took "
            f"{status.drain_s:.1f}s)"
        )
    if status.errors or status.non_2xx or status.wrong_body or status.server_errors:
        failures.append(
            f"{status.errors} socket errors, {status.non_2xx} non-2xx, {status.wrong_body} "
            f"answers not from Redis, {status.server_errors} server tracebacks"
        )
    return not failures, [
        f"ratio status/baseline: {ratio:.2f} ({status.rps:.0f} / {baseline.rps:.0f} req/s; "
        f"target >= {TARGET_RATIO:.2f})",
        f"status p99: {status.p99_ms:.2f} ms (target < {TARGET_P99_MS:.0f} ms)",
        "PASS" if not failures else "FAIL: " + "; ".join(failures),
    ]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.status_load",
        description="Requests/s and p50/p99 of the status endpoint vs a constant FastAPI "
        "baseline, under concurrent pollers (wrk).",
    )
    parser.add_argument("--duration", type=int, default=10, help="seconds per endpoint [10]")
    parser.add_argument("--warmup", type=int, default=3, help="warm-up seconds, 0 for none [3]")
    parser.add_argument("--connections", type=int, default=50, help="concurrent pollers [50]")
    parser.add_argument("--threads", type=int, default=1, help="wrk threads [1]")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn workers per server [1]")
    parser.add_argument("--repeat", type=int, default=1, help="rounds; the table shows medians")
    parser.add_argument(
        "--database-url",
        help="a PostgreSQL server URL (e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test), "
        "where a fresh database is created and dropped after [SQLite in a temp dir]",
    )
    parser.add_argument("--redis-url", help="e.g. redis://127.0.0.1:6379/14 [embedded Redis]")
    parser.add_argument("--check", action="store_true", help="exit 1 when the targets are missed")
    args = parser.parse_args(argv)
    if min(args.connections, args.duration, args.workers, args.repeat) < 1 or args.warmup < 0:
        parser.error("--connections, --duration, --workers and --repeat must be positive")
    if not 1 <= args.threads <= args.connections:
        parser.error("--threads must be between 1 and --connections")
    if args.database_url and make_url(args.database_url).get_backend_name() != "postgresql":
        parser.error("--database-url is for a PostgreSQL server; SQLite is the default")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    load.require_wrk()
    # SIGINT explicitly too: a shell's background job starts with SIGINT ignored.
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _interrupt)
    try:
        print("setting up the stack ...", flush=True)
        with served_stack(args) as stack:
            preflight(stack)
            ok = report(stack, args)
    except KeyboardInterrupt:
        print("\ninterrupted: stopped the servers and removed the temp dir", file=sys.stderr)
        return 130
    return 1 if args.check and not ok else 0


def report(stack: Stack, args: argparse.Namespace) -> bool:
    """Measure every endpoint `args.repeat` times, print the table and the verdict."""
    endpoints = [
        (BASELINE_ROW, stack.baseline, stack.progress_path, CONSTANT),
        ("baseline (def, constant)", stack.baseline, "/sync" + stack.progress_path, CONSTANT),
        (STATUS_ROW, stack.api, stack.progress_path, LIVE),
        ("status SUCCESS (DB only)", stack.api, stack.success_path, FINISHED),
    ]
    print(
        f"{os.cpu_count()} CPUs; {load.uvicorn_description()}, {args.workers} worker(s) per "
        f"server; {stack.description}\nwrk: {args.connections} connections, {args.threads} "
        f"thread(s), {args.warmup}s warm-up + {args.duration}s per endpoint\n",
        flush=True,
    )
    rounds = load.measure_rounds(endpoints, stack.headers, args)
    rows = [load.median_of(list(column)) for column in zip(*rounds, strict=True)]
    print(f"\nmedians of {args.repeat} rounds:" if args.repeat > 1 else "")
    load.print_table(rows)
    ok, lines = verdict(*pick(rows))
    if args.repeat > 1:
        ratios = [status.rps / base.rps if base.rps else 0.0 for status, base in map(pick, rounds)]
        lines.insert(1, "ratio per round: " + ", ".join(f"{x:.2f}" for x in ratios))
    print("\n" + "\n".join(lines))
    return ok


def pick(row: list[Measurement]) -> tuple[Measurement, Measurement]:
    """The status of the ACTIVE run and the constant baseline, from one row of measurements."""
    by_name = {m.name: m for m in row}
    return by_name[STATUS_ROW], by_name[BASELINE_ROW]


def _interrupt(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


if __name__ == "__main__":
    sys.exit(main())
