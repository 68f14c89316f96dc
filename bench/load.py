"""wrk against one endpoint of a served app, and what the server did meanwhile."""

import contextlib
import importlib.metadata
import importlib.util
import json
import math
import os
import shutil
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from statistics import median

import httpx
import psutil

from tests.stack import ServerProcess

WRK_SCRIPT = Path(__file__).with_name("wrk_report.lua")


@dataclass
class Measurement:
    name: str
    requests: int
    rps: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    errors: int  # socket errors and timeouts
    non_2xx: int
    wrong_body: int  # 200 without the expected text (e.g. the database fallback)
    server_cpu_pct: float = math.nan  # of one core, the server's processes together
    load_before: float = 0.0  # 1-minute load average: other work on the machine
    drain_s: float = 0.0  # for one request sent right after the load: a stall shows here
    server_errors: int = 0  # tracebacks in the server's log
    last_error: str = ""

    @property
    def cpu_ms_per_request(self) -> float:
        """Server CPU per answered request: less sensitive to other load than req/s."""
        return 10 * self.server_cpu_pct / self.rps if self.rps else math.nan


def uvicorn_description() -> str:
    loop = "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"
    http = "httptools" if importlib.util.find_spec("httptools") else "h11"
    return f"uvicorn {importlib.metadata.version('uvicorn')} (loop={loop}, http={http})"


def require_wrk() -> None:
    if not shutil.which("wrk"):
        raise SystemExit("the load bench needs wrk: install it with `sudo apt-get install wrk`")


def run_wrk(
    name: str, url: str, headers: Mapping[str, str], expect: str, duration: int, args
) -> Measurement:
    """`args.connections` keep-alive pollers for `duration` seconds; 200s without `expect` in
    the body count as wrong."""
    argv = ["wrk", f"-t{args.threads}", f"-c{args.connections}", f"-d{duration}s"]
    argv += ["--timeout", "5s", "-s", str(WRK_SCRIPT)]
    for header in headers.items():
        argv += ["-H", ": ".join(header)]
    argv += [url, "--", expect]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=duration + 30).stdout
    lines = [line for line in out.splitlines() if line.startswith("WRK_RESULT ")]
    if not lines:
        raise RuntimeError(f"wrk printed no result:\n{out[-2000:]}")
    r = json.loads(lines[-1].removeprefix("WRK_RESULT "))
    return Measurement(
        name=name,
        requests=r["requests"],
        rps=r["requests"] / (r["duration_us"] / 1e6),
        p50_ms=r["p50_us"] / 1000,
        p99_ms=r["p99_us"] / 1000,
        max_ms=r["max_us"] / 1000,
        errors=r["connect"] + r["read"] + r["write"] + r["timeout"],
        non_2xx=r["status"],
        wrong_body=r["mismatched"],
    )


def measure_rounds(
    endpoints: list[tuple[str, ServerProcess, str, str]], headers: Mapping[str, str], args
) -> list[list[Measurement]]:
    """`args.repeat` rounds over the endpoints (name, server, path, text every 200 holds)."""
    rounds: list[list[Measurement]] = []
    for index in range(args.repeat):
        if args.repeat > 1:
            print(f" round {index + 1}/{args.repeat}", flush=True)
        rounds.append([])
        for name, server, path, expect in endpoints:
            m = measure(name, server, path, headers, expect, args)
            print(
                f"  {name:<31} {m.rps:>7.0f} req/s  p50 {m.p50_ms:6.2f} ms  p99 {m.p99_ms:7.2f} ms"
                f"  CPU {m.cpu_ms_per_request:.3f} ms/req",
                flush=True,
            )
            rounds[-1].append(m)
    return rounds


def measure(
    name: str, server: ServerProcess, path: str, headers: Mapping[str, str], expect: str, args
) -> Measurement:
    """A warm-up, then the measured load; the server's CPU covers the measured load only."""
    logged = len(server.log_text())
    if args.warmup:
        run_wrk(name, server.url + path, headers, expect, args.warmup, args)
        drain(server, path, headers)
    load = os.getloadavg()[0]
    processes = server_processes(server)
    cpu, started = cpu_seconds(processes), time.monotonic()
    result = run_wrk(name, server.url + path, headers, expect, args.duration, args)
    result.server_cpu_pct = 100 * (cpu_seconds(processes) - cpu) / (time.monotonic() - started)
    result.load_before = load
    result.drain_s = drain(server, path, headers)
    result.server_errors, result.last_error = tracebacks(server.log_text()[logged:])
    return result


def drain(server: ServerProcess, path: str, headers: Mapping[str, str]) -> float:
    """Seconds until one request sent right after the load is answered."""
    started = time.monotonic()
    httpx.get(server.url + path, headers=headers, timeout=120).raise_for_status()
    return time.monotonic() - started


def server_processes(server: ServerProcess) -> list[psutil.Process]:
    """The server and its worker processes (uvicorn --workers N)."""
    root = psutil.Process(server.process.pid)
    return [root, *root.children(recursive=True)]


def cpu_seconds(processes: list[psutil.Process]) -> float:
    total = 0.0
    for process in processes:
        with contextlib.suppress(psutil.Error):
            times = process.cpu_times()
            total += times.user + times.system
    return total


def tracebacks(log: str) -> tuple[int, str]:
    """How many tracebacks `log` holds, and its last exception line."""
    lines = [line for line in log.splitlines() if line and not line[0].isspace()]
    errors = [line for line in lines if "Error" in line or "Exception" in line]
    return log.count("Traceback (most recent call last)"), (errors or [""])[-1][:200]


def median_of(rounds: list[Measurement]) -> Measurement:
    """One row from several rounds of one endpoint: medians, counts summed, the worst drain."""
    return Measurement(
        name=rounds[0].name,
        requests=sum(m.requests for m in rounds),
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


def print_table(rows: list[Measurement]) -> None:
    header = (
        f"{'endpoint':<31} {'req/s':>7} {'p50 ms':>7} {'p99 ms':>7} {'max ms':>7} "
        f"{'errors':>6} {'non-2xx':>7} {'wrong':>5} {'srv err':>7} {'drain s':>7} "
        f"{'srv CPU':>7} {'CPU ms/req':>10} {'load1':>5}"
    )
    print(header)
    print("-" * len(header))
    for m in rows:
        print(
            f"{m.name:<31} {m.rps:>7.0f} {m.p50_ms:>7.2f} {m.p99_ms:>7.2f} {m.max_ms:>7.1f} "
            f"{m.errors:>6} {m.non_2xx:>7} {m.wrong_body:>5} {m.server_errors:>7} "
            f"{m.drain_s:>7.2f} {m.server_cpu_pct:>6.0f}% {m.cpu_ms_per_request:>10.3f} "
            f"{m.load_before:>5.2f}"
        )
    for m in rows:
        if m.last_error:
            print(f"  {m.name}: server logged {m.server_errors} traceback(s), last: {m.last_error}")
    print(
        "\nerrors = socket errors/timeouts seen by wrk; wrong = 200 answers without the expected "
        "body (for PROGRESS:\nthe live Redis progress); srv err = tracebacks in the server log; "
        "drain s = time to answer one\nrequest right after the load (a stall shows here); "
        "srv CPU = server process(es), 100% = one core;\nload1 = 1-minute load average before "
        "the run (other work on the machine)"
    )
