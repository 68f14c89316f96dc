"""`python -m tuning run` as a user starts it, faults included: each of its processes killed in
turn comes back alone while a run goes on and ends right; the supervisor killed leaves nothing
behind; something in the way of a new stack is named in its first lines, and nothing starts."""

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import redis
from sqlmodel import Session

from tuning.config import PROJECT_ROOT, Settings
from tuning.domain import RunStatus
from tuning.models import User
from tuning.redis_server import EmbeddedRedis
from tuning.runtime import Runtime, create_runtime
from tuning.service import ensure_local_admin

from helpers import gridsearch_best, submit, trials_of, wait_until_finished
from stack import HOST, free_port, wait_until

pytestmark = pytest.mark.stack

# Twelve candidates of about half a second each (3 folds of a forest on digits): long enough
# for a kill to land mid-run on two worker processes.
GRID = {"n_estimators": [30, 40, 50, 60], "max_depth": [None, 8, 12]}
RUN = {"dataset": "digits", "estimator": "RandomForestClassifier", "param_grid": GRID, "cv": 3}
# Healing on a short clock, as in the fan-out tests.
CLOCK = {"HEARTBEAT_S": "0.5", "RECONCILE_S": "1", "WORKER_TIMEOUT_S": "4", "TASK_TARGET_S": "0.3"}


def ours(data_dir: Path) -> set[int]:
    """Every live process whose environment or command line names `data_dir`: the supervisor,
    its children and theirs (Celery's pool, the housekeeping process) inherit DATA_DIR; Redis
    writes its title over its environment, and names its socket in that title."""
    mark, path = b"DATA_DIR=" + bytes(data_dir), bytes(data_dir)
    found = set()
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            environ = (proc / "environ").read_bytes().split(b"\0")
            marked = mark in environ or path in (proc / "cmdline").read_bytes()
        except OSError:  # gone meanwhile
            continue
        if marked and not _zombie(proc):
            found.add(int(proc.name))
    return found


def _zombie(proc: Path) -> bool:
    try:
        return (proc / "stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def _alive(pid: int) -> bool:
    return Path(f"/proc/{pid}").is_dir() and not _zombie(Path(f"/proc/{pid}"))


@dataclass
class Stack:
    """A running `python -m tuning run` and where it serves."""

    process: subprocess.Popen[bytes]
    data_dir: Path
    log: Path
    api: str
    dashboard: str

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def pids(self) -> dict[str, int]:
        """Each service's current pid, from the banner and the restart lines."""
        banner = r"^  (\w+) +\S.*\(pid (\d+); restarted when it exits\)$"
        restart = r"^(\w+) restarted \(pid (\d+)\)$"
        found = re.findall(f"{banner}|{restart}", self.output(), re.MULTILINE)
        return {a or c: int(b or d) for a, b, c, d in found}

    def serving(self) -> bool:
        """The API healthy (its database and Redis answer), the dashboard up, a worker ready."""
        try:
            api = httpx.get(f"{self.api}/healthz", timeout=2).is_success
            dashboard = httpx.get(f"{self.dashboard}/_stcore/health", timeout=2).is_success
        except httpx.HTTPError:
            return False
        return api and dashboard and "housekeeping process" in self.output()


def _env(data_dir: Path, api_port: int, dashboard_port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL")}
    env.update(CLOCK, DATA_DIR=str(data_dir), PYTHONUNBUFFERED="1")
    env.update(API_PORT=str(api_port), DASHBOARD_PORT=str(dashboard_port))
    return env


def _make_run(data_dir: Path, log: Path, api_port: int, dashboard_port: int) -> Stack:
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "tuning", "run"],
            cwd=PROJECT_ROOT,
            env=_env(data_dir, api_port, dashboard_port),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    api, dashboard = f"http://{HOST}:{api_port}", f"http://{HOST}:{dashboard_port}"
    return Stack(process, data_dir, log, api, dashboard)


def _stop(stack: Stack) -> int:
    """Ctrl-C, as a user stops it; its exit code."""
    if stack.process.poll() is None:
        stack.process.send_signal(signal.SIGINT)
    try:
        return stack.process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        stack.process.kill()
        return stack.process.wait()


@pytest.fixture
def data_dir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="mr", dir="/tmp"))  # a short Unix socket path
    yield path
    for pid in ours(path):  # whatever a failed test left
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def stack(data_dir: Path) -> Iterator[Stack]:
    """`make run` on its own data directory and ports, serving."""
    running = _make_run(data_dir, data_dir / "make-run.log", free_port(), free_port())
    try:
        wait_until(
            lambda: running.process.poll() is not None or running.serving(),
            timeout=120,
            interval=0.5,
            message=running.output,
        )
        assert running.process.poll() is None, running.output()
        yield running
    finally:
        _stop(running)


@pytest.fixture
def runtime(stack: Stack) -> Iterator[Runtime]:
    """A client's runtime on the stack's database and Redis, as the CLI builds it."""
    runtime = create_runtime(Settings(_env_file=None, data_dir=stack.data_dir, redis_url=None))
    yield runtime
    runtime.engine.dispose()


@pytest.fixture
def admin(runtime: Runtime) -> User:
    """The local admin `make run` signs in."""
    with Session(runtime.engine, expire_on_commit=False) as session:
        return ensure_local_admin(session=session)[0]


@pytest.fixture(scope="module")
def oracle() -> tuple[dict, float]:
    return gridsearch_best("digits", "RandomForestClassifier", GRID, "accuracy", 3)


def _ends_right(runtime: Runtime, run_id: uuid.UUID, oracle: tuple[dict, float]) -> None:
    """The run ends SUCCESS with every candidate stored once and scikit-learn's best."""
    status = wait_until_finished(runtime, run_id, timeout=180)
    assert status.status is RunStatus.SUCCESS, status
    assert sorted(t.index for t in trials_of(runtime, run_id)) == list(range(12)), "each once"
    assert status.result is not None
    assert (status.result.best_params, status.result.best_score) == oracle


def test_each_process_killed_in_turn_comes_back_alone_and_the_run_ends_right(
    stack: Stack, runtime: Runtime, admin: User, oracle: tuple[dict, float]
) -> None:
    for name in ("redis", "api", "dashboard", "worker"):  # one stack: each start takes a while
        before = stack.pids()
        assert set(before) == {"redis", "worker", "api", "dashboard"}, stack.output()
        run_id = submit(runtime, admin, **RUN)
        _started(runtime, run_id)

        os.kill(before[name], signal.SIGKILL)
        killed_at = time.monotonic()
        assert len(trials_of(runtime, run_id)) < 12, "the run ended before the kill"
        _back_within(stack, name, before[name], killed_at, 10)
        others = {n: pid for n, pid in before.items() if n != name}
        assert {n: stack.pids()[n] for n in others} == others, f"{name} took another along"
        assert all(_alive(pid) for pid in others.values()), stack.output()

        _ends_right(runtime, run_id, oracle)
        wait_until(stack.serving, 60, 0.5, stack.output)  # serving again, for the next
        assert {n: stack.pids()[n] for n in others} == others, stack.output()
    assert _stop(stack) == 0
    wait_until(lambda: not ours(stack.data_dir), 10, 0.1, "a process outlived Ctrl-C")


def _started(runtime: Runtime, run_id: uuid.UUID) -> None:
    """Until the run has stored a trial."""
    wait_until(lambda: trials_of(runtime, run_id), 90, 0.1, f"run {run_id} stored no trial")


def _back_within(stack: Stack, name: str, pid: int, killed_at: float, seconds: float) -> None:
    """Service `name`, whose process `pid` was killed at `killed_at`, was restarted in time,
    and the supervisor said why."""
    wait_until(lambda: stack.pids()[name] != pid, 30, 0.05, stack.output)
    back_after = time.monotonic() - killed_at
    assert back_after < seconds, f"{name} back after {back_after:.1f}s"
    assert _alive(stack.pids()[name])
    said = f"{name} (pid {pid}) exited with code -9 (SIGKILL); restarting it in 1s"
    assert said in stack.output()


def test_tasks_redis_lost_when_killed_are_sent_again(
    stack: Stack, runtime: Runtime, admin: User, oracle: tuple[dict, float]
) -> None:
    # Killed, Redis comes back from its append-only file; what it may lose (the last second of
    # writes, after a power cut) is at worst the queued tasks: dropped here on purpose.
    pid = stack.pids()["redis"]
    run_id = submit(runtime, admin, **RUN)
    _started(runtime, run_id)
    os.kill(pid, signal.SIGKILL)
    _back_within(stack, "redis", pid, time.monotonic(), 10)
    client = redis.Redis(unix_socket_path=str(stack.data_dir / "redis.sock"))
    wait_until(lambda: _ping(client), 30, 0.1, stack.output)
    queue = runtime.celery.conf.task_default_queue
    lost = wait_until(lambda: client.llen(queue), 30, 0.05, "no task waiting in Redis")
    client.delete(queue)
    client.close()
    assert len(trials_of(runtime, run_id)) < 12 and lost > 0, "the run ended before the loss"

    _ends_right(runtime, run_id, oracle)
    assert "reconciled: Reconciled(" in stack.output()  # what sent the lost chunks again


def _ping(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False


def test_supervisor_killed_leaves_no_process_and_a_new_one_starts_cleanly(
    stack: Stack, data_dir: Path
) -> None:
    tree = ours(data_dir)
    # The supervisor, Redis, the API, the dashboard, the worker, its two pool processes and
    # its housekeeping process.
    assert len(tree) >= 8, stack.output()

    stack.process.send_signal(signal.SIGKILL)
    stack.process.wait()
    killed_at = time.monotonic()
    wait_until(lambda: not ours(data_dir), 10, 0.05, lambda: f"left: {ours(data_dir)}")
    assert time.monotonic() - killed_at < 5, f"left after {time.monotonic() - killed_at:.1f}s"

    api_port, dashboard_port = (int(url.rsplit(":", 1)[1]) for url in (stack.api, stack.dashboard))
    again = _make_run(data_dir, data_dir / "again.log", api_port, dashboard_port)
    try:
        wait_until(lambda: again.process.poll() is not None or again.serving(), 120, 0.5)
        assert again.process.poll() is None, again.output()
        assert "did not start" not in again.output()

        third = _make_run(data_dir, data_dir / "third.log", free_port(), free_port())
        assert third.process.wait(timeout=60) == 1
        first_lines = third.output().splitlines()[:2]
        assert first_lines[0] == "make run did not start anything:", third.output()
        assert (
            f"`make run` is already running on {data_dir}: pid {again.process.pid}"
            in (first_lines[1])
        )
        assert f"kill {again.process.pid}" in first_lines[1]
    finally:
        assert _stop(again) == 0, again.output()
    wait_until(lambda: not ours(data_dir), 10, 0.1, "a process outlived Ctrl-C")


def _refused(
    data_dir: Path, api_port: int, dashboard_port: int, there: frozenset[int] = frozenset()
) -> list[str]:
    """What `make run` said, which must be a refusal (exit code 1) that started nothing: no
    database, and no process of `data_dir` but those `there` before."""
    done = subprocess.run(
        [sys.executable, "-m", "tuning", "run"],
        cwd=PROJECT_ROOT,
        env=_env(data_dir, api_port, dashboard_port),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert done.stdout == "", "nothing else was said"
    assert not (data_dir / "tuning.db").exists(), "the database was created"
    assert ours(data_dir) == there
    lines = done.stderr.splitlines()
    assert lines[0] == "make run did not start anything:"
    return lines[1:]


def test_a_taken_port_is_named_with_its_holder_and_nothing_starts(data_dir: Path) -> None:
    port = free_port()
    holder = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(port), "--bind", HOST],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until(lambda: _accepts(port), 30, 0.1, "http.server did not listen")
        (problem,) = _refused(data_dir, port, free_port())
    finally:
        holder.kill()
        holder.wait()
    assert f"port {port} ({HOST}), the API's, is taken by pid {holder.pid} (" in problem
    assert "http.server" in problem
    assert f"stop it with `kill {holder.pid}`, or set API_PORT to a free port" in problem
    assert not (data_dir / "redis.sock").exists(), "Redis was started"


def test_a_redis_left_on_the_socket_is_named_and_nothing_starts(data_dir: Path) -> None:
    with EmbeddedRedis(data_dir) as left:  # as a killed stack of an older version left it
        assert left.pid is not None
        (problem,) = _refused(data_dir, free_port(), free_port(), frozenset({left.pid}))
        assert f"a Redis left by an earlier run still answers on {left.socket_path}" in problem
        assert f"pid {left.pid} (" in problem and "redis-server" in problem
        assert f"stop it with `kill {left.pid}`" in problem
        assert left.process is not None and left.process.poll() is None, "it was left alone"


def _accepts(port: int) -> bool:
    try:
        socket.create_connection((HOST, port), timeout=1).close()
    except OSError:
        return False
    return True
