"""The API's memory while datasets are listed (issue 17, part 4): a list reads no stored file.

    make bench-listings                         # = python -m bench.listing_memory
    .venv/bin/python -m bench.listing_memory --datasets 5 --mb 5 --rounds 2   # about 30 s
    .venv/bin/python -m bench.listing_memory \\
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/test

One sitting builds a throwaway stack with `tests/stack.py` under /tmp: a fresh SQLite file (or a
fresh database on the given PostgreSQL server, dropped after), the embedded Redis, a user with a
token, and the real API (`python -m tuning api`, one process). Then:

1. `--datasets` CSV files of `--mb` MB each are uploaded through `POST /api/v1/datasets`
   (numbers and a two-class target, each upload its own name);
2. idle: after a few seconds' pause, the API's RSS (its process and any children), and the
   kernel's peak RSS (VmHWM) reset so that step 3's peak is its own;
3. five lists one at a time (the list's own latency), then `--rounds` rounds of
   `--concurrency` concurrent `GET /api/v1/datasets`; the RSS is sampled every 10 ms meanwhile,
   and the peak is the larger of the samples' and VmHWM's.

Target: the peak within 50 MiB of the idle RSS. Every list must answer 200 with every upload.
"""

import argparse
import contextlib
import shutil
import statistics
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import psutil
from sqlalchemy import make_url
from sqlmodel import Session

from tests.stack import ApiServer, fresh_database, running_redis
from tuning.config import Settings
from tuning.db import upgrade_database
from tuning.runtime import create_runtime
from tuning.service import create_user

MIB = 1024 * 1024
TARGET_MIB = 50.0
LIST_PATH = "/api/v1/datasets"


@dataclass
class Api:
    server: ApiServer
    headers: dict[str, str]
    description: str


@contextlib.contextmanager
def served_api(database_url: str | None) -> Iterator[Api]:
    """A migrated database, Redis, a user and the API; all of it stopped and removed on exit."""
    with contextlib.ExitStack() as exits:
        tmp = Path(tempfile.mkdtemp(prefix="tlm-", dir="/tmp"))  # short: a socket lives there
        exits.callback(shutil.rmtree, tmp, ignore_errors=True)
        url = exits.enter_context(fresh_database(tmp, database_url, prefix="tuning_bench"))
        redis_url = exits.enter_context(running_redis(tmp))
        settings = Settings(_env_file=None, data_dir=tmp, database_url=url, redis_url=redis_url)
        upgrade_database(settings)
        engine = create_runtime(settings).engine
        with Session(engine, expire_on_commit=False) as session:
            _, token = create_user(session=session, name=f"bench-{uuid.uuid4().hex[:8]}")
        engine.dispose()
        server = exits.enter_context(ApiServer(settings, tmp / "api.log", cwd=tmp))
        backend = make_url(url).get_backend_name()
        yield Api(server, {"Authorization": f"Bearer {token}"}, backend)


def csv_file(megabytes: float, seed: int = 0) -> bytes:
    """A CSV of about `megabytes` MB: ten numeric columns and a two-class target."""
    rng = np.random.default_rng(seed)
    n_rows = int(megabytes * 1e6 / 100)  # about 100 bytes a row
    frame = pd.DataFrame(
        rng.normal(size=(n_rows, 10)).round(6), columns=[f"x{i}" for i in range(10)]
    )
    frame["label"] = np.where(frame["x0"] + rng.normal(size=n_rows) > 0, "yes", "no")
    return frame.to_csv(index=False).encode()


def rss_bytes(pid: int) -> int:
    """The resident memory of the process and its children."""
    process = psutil.Process(pid)
    members = [process, *process.children(recursive=True)]
    return sum(member.memory_info().rss for member in members)


def peak_rss_bytes(pid: int) -> int:
    """The kernel's high-water mark of the process's RSS (VmHWM) since the last reset."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM in /proc/PID/status")


def reset_peak(pid: int) -> bool:
    """Start VmHWM again from the current RSS (Linux: `5` to clear_refs); False if refused."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return False
    return True


class Sampler:
    """The largest RSS seen, every `interval` seconds, on a thread of its own."""

    def __init__(self, pid: int, interval: float = 0.01) -> None:
        self.pid, self.interval, self.peak = pid, interval, 0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._done.is_set():
            self.peak = max(self.peak, rss_bytes(self.pid))
            self._done.wait(self.interval)

    def __enter__(self) -> "Sampler":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join()


def upload_all(api: Api, n_datasets: int, megabytes: float) -> tuple[list[float], list[int]]:
    """Seconds of each upload, and the API's RSS after each one."""
    content = csv_file(megabytes)
    print(f"uploading {n_datasets} CSV files of {len(content) / 1e6:.1f} MB")
    pid = api.server.process.pid
    seconds, rss = [], []
    with httpx.Client(base_url=api.server.url, headers=api.headers, timeout=300) as client:
        for index in range(n_datasets):
            started = time.perf_counter()
            answer = client.post(
                "/api/v1/datasets",
                files={"file": (f"bench-{index}.csv", content, "text/csv")},
                data={"target": "label"},
            )
            if answer.status_code != 201:
                raise RuntimeError(f"upload {index}: {answer.status_code} {answer.text[:300]}")
            seconds.append(time.perf_counter() - started)
            rss.append(rss_bytes(pid))
    return seconds, rss


def list_rounds(api: Api, rounds: int, concurrency: int, n_uploads: int) -> list[float]:
    """Seconds of each list, `concurrency` at once, `rounds` times; each must show every upload.
    One client, its connections kept open, so that the time is the server's."""
    client = httpx.Client(
        base_url=api.server.url,
        headers=api.headers,
        timeout=300,
        limits=httpx.Limits(max_connections=concurrency),
    )

    def one(_: int) -> float:
        started = time.perf_counter()
        answer = client.get(LIST_PATH)
        took = time.perf_counter() - started
        uploads = [d for d in answer.json() if d["kind"] == "csv"] if answer.is_success else []
        if len(uploads) != n_uploads:
            raise RuntimeError(f"the list answered {answer.status_code}: {answer.text[:300]}")
        return took

    seconds: list[float] = []
    with client, ThreadPoolExecutor(concurrency) as pool:
        one(0)  # the connection's warm-up, not counted
        for _ in range(rounds):
            seconds += pool.map(one, range(concurrency))
    return seconds


def settled_rss(pid: int, pause: float) -> int:
    """The RSS after `pause` seconds without requests: the smallest of three readings."""
    time.sleep(pause)
    readings = []
    for _ in range(3):
        readings.append(rss_bytes(pid))
        time.sleep(0.5)
    return min(readings)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    with served_api(args.database_url) as api:
        pid = api.server.process.pid
        start_rss = rss_bytes(pid)
        uploads, upload_rss = upload_all(api, args.datasets, args.mb)
        idle = settled_rss(pid, args.pause)
        alone = list_rounds(api, 5, 1, args.datasets)
        hwm_reset = reset_peak(pid)
        with Sampler(pid) as sampler:
            lists = list_rounds(api, args.rounds, args.concurrency, args.datasets)
        peak = max(sampler.peak, peak_rss_bytes(pid) if hwm_reset else 0)
        after = settled_rss(pid, args.pause)
    rise = (peak - idle) / MIB
    print(f"database: {api.description}; API: `python -m tuning api`, one process")
    print(f"API RSS at start: {start_rss / MIB:,.0f} MiB")
    print(
        f"uploads: {args.datasets} x {args.mb:g} MB, median {statistics.median(uploads):.2f} s, "
        f"max {max(uploads):.2f} s; RSS after upload 1, 2, ...: "
        + ", ".join(f"{value / MIB:,.0f}" for value in upload_rss)
    )
    print(f"API RSS idle after the uploads: {idle / MIB:,.0f} MiB")
    print(f"one list alone: median {statistics.median(alone) * 1000:,.0f} ms of 5")
    print(
        f"lists: {args.rounds} rounds x {args.concurrency} concurrent; latency median "
        f"{statistics.median(lists) * 1000:,.0f} ms, max {max(lists) * 1000:,.0f} ms"
    )
    how = "samples every 10 ms and VmHWM" if hwm_reset else "samples every 10 ms"
    print(f"API peak RSS while listing: {peak / MIB:,.0f} MiB ({how}); {rise:+,.1f} MiB on idle")
    print(f"API RSS idle after the lists: {after / MIB:,.0f} MiB")
    met = rise <= TARGET_MIB
    print(f"{'PASS' if met else 'FAIL'}: peak within {TARGET_MIB:.0f} MiB of idle")
    return 0 if met else 1


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.listing_memory",
        description="The API's RSS and latency while datasets are listed, after large uploads.",
    )
    parser.add_argument("--datasets", type=int, default=20, help="uploads [20]")
    parser.add_argument("--mb", type=float, default=15.0, help="MB per upload [15]")
    parser.add_argument("--rounds", type=int, default=5, help="rounds of lists [5]")
    parser.add_argument("--concurrency", type=int, default=4, help="lists at once [4]")
    parser.add_argument("--pause", type=float, default=3.0, help="seconds before idle [3]")
    parser.add_argument(
        "--database-url",
        help="a PostgreSQL server URL (e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test), "
        "where a fresh database is created and dropped after [SQLite in a temp dir]",
    )
    args = parser.parse_args(argv)
    if min(args.datasets, args.rounds, args.concurrency) < 1 or args.mb <= 0 or args.pause < 0:
        parser.error("--datasets, --rounds and --concurrency are 1 or more, --mb above 0")
    return args


if __name__ == "__main__":
    raise SystemExit(main())
