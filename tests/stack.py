"""The real stack, for the tests and the benchmarks: a database, a Redis, workers and an API.

`tests/conftest.py` imports it as `stack`, the benchmarks as `tests.stack`; so it imports only
the standard library, third-party packages and `tuning`, never another test module.
"""

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
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Self, TypeVar

import httpx
import redis
from sqlalchemy import create_engine, make_url, text

from tuning.config import PROJECT_ROOT, Settings
from tuning.redis_server import EmbeddedRedis

HOST = "127.0.0.1"
T = TypeVar("T")


def free_port() -> int:
    """A TCP port of 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def wait_until(
    predicate: Callable[[], T | None],
    timeout: float = 30.0,
    interval: float = 0.05,
    message: str | Callable[[], str] = "",
) -> T:
    """Call `predicate` until it returns something true, and return that.

    TimeoutError after `timeout` seconds, with `message` (or what it returns, asked only then).
    """
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        if time.monotonic() > deadline:
            said = message() if callable(message) else message
            raise TimeoutError(f"not true after {timeout:g}s: {said or predicate}")
        time.sleep(interval)
    return value


def stop_group(process: subprocess.Popen, timeout: float = 10.0) -> None:
    """SIGTERM to the process group of a child started with `start_new_session=True`, SIGKILL
    after `timeout` seconds; then whatever is left of the group (e.g. uvicorn's workers)."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)


@contextlib.contextmanager
def fresh_database(
    data_dir: Path, server_url: str | None = None, *, prefix: str = "tuning_test"
) -> Iterator[str]:
    """The URL of an empty database: a SQLite file in `data_dir`, or a new database on the
    PostgreSQL server of `server_url`, dropped on exit."""
    if not server_url:
        yield f"sqlite:///{data_dir / f'{prefix}.db'}"
        return
    if make_url(server_url).get_backend_name() != "postgresql":
        raise ValueError(f"a fresh database needs a PostgreSQL server URL, not {server_url}")
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextlib.contextmanager
def running_redis(
    data_dir: Path, server_url: str | None = None, *, flush: bool = True
) -> Iterator[str]:
    """The URL of a Redis: the project's embedded one on a socket in `data_dir`, stopped on exit,
    or the one at `server_url`, its database flushed first unless `flush` is false."""
    if not server_url:
        with EmbeddedRedis(data_dir) as server:
            yield server.url
        return
    client = redis.Redis.from_url(server_url, socket_connect_timeout=3)
    if flush:
        client.flushdb()
    else:
        client.ping()
    client.close()
    yield server_url


@contextlib.contextmanager
def small_tmpfs(size: str, prefix: str = "tfs-") -> Iterator[Path]:
    """A fresh tmpfs of `size` (e.g. "8m") mounted on a new folder of /tmp, unmounted and
    removed on exit. OSError (with mount's words) where mounting is not allowed (not root, or
    a container without CAP_SYS_ADMIN): the caller skips, saying so."""
    path = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))  # short: a Unix socket lives here
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        path.rmdir()
        raise OSError(f"cannot mount a tmpfs: {mounted.stderr.strip() or mounted.returncode}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)
        shutil.rmtree(path, ignore_errors=True)


def fill_disk(folder: Path) -> Path:
    """A file in `folder` written until its file system says it is full; its path."""
    filler = folder / "filler"
    block = b"\0" * 65536
    with contextlib.suppress(OSError), filler.open("wb") as out:
        while True:
            out.write(block)
            out.flush()
    return filler


def stack_env(settings: Settings) -> dict[str, str]:
    """The environment of a subprocess (worker, API, dashboard, command) that uses `settings`."""
    env = dict(os.environ)
    env.update(
        DATA_DIR=str(settings.data_dir),
        DATABASE_URL=settings.sqlalchemy_url,
        REDIS_URL=settings.broker_url,
        PYTHONPATH=os.pathsep.join(filter(None, [str(PROJECT_ROOT), env.get("PYTHONPATH")])),
        PYTHONUNBUFFERED="1",
    )
    # The worker's timings and the API's limits too, so a test can make them small.
    for name in (
        "worker_timeout_s",
        "heartbeat_s",
        "reconcile_s",
        "task_target_s",
        "max_upload_bytes",
        "max_request_bytes",
    ):
        env[name.upper()] = str(getattr(settings, name))
    return env


class _Child:
    """A subprocess in its own process group, logging to a file, stopped on exit."""

    name = "process"

    def __init__(self, argv: Sequence[str], env: Mapping[str, str], log_path: Path, cwd: Path):
        self.log_path = log_path
        self.log_offset = log_path.stat().st_size if log_path.exists() else 0
        with log_path.open("ab") as log:
            self.process = subprocess.Popen(
                argv,
                cwd=cwd,
                env=dict(env),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C reaches only the caller, which stops us
            )

    def _wait_ready(self, ready: Callable[[], bool], timeout: float) -> None:
        def ready_or_exited() -> bool:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited:\n{self.log_tail()}")
            return ready()

        try:
            wait_until(ready_or_exited, timeout, 0.2, lambda: f"{self.name}:\n{self.log_tail()}")
        except BaseException:
            self.stop()
            raise

    def log_text(self) -> str:
        """What this process logged (the file may hold earlier processes' lines before)."""
        with self.log_path.open("rb") as log:
            log.seek(self.log_offset)
            return log.read().decode(errors="replace")

    def log_tail(self, chars: int = 3000) -> str:
        return self.log_text()[-chars:]

    def stop(self, timeout: float = 20.0) -> None:
        stop_group(self.process, timeout)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class WorkerProcess(_Child):
    """A Celery worker as a user would start one: `python -m tuning worker`, with
    `--hostname name@%h` when given, so that several workers on one machine have distinct
    names."""

    name = "worker"

    def __init__(
        self,
        settings: Settings,
        log_path: Path,
        *,
        concurrency: int = 2,
        hostname: str | None = None,
        timeout: float = 60.0,
    ) -> None:
        argv = [sys.executable, "-m", "tuning", "worker", "--concurrency", str(concurrency)]
        if hostname:
            argv += ["--hostname", f"{hostname}@%h"]
        super().__init__(argv, stack_env(settings), log_path, PROJECT_ROOT)
        self._wait_ready(lambda: " ready." in self.log_text(), timeout)

    def pool_children(self) -> list[int]:
        """Pids of the worker's pool processes (its children but the housekeeping process)."""
        out = subprocess.run(
            ["pgrep", "-P", str(self.process.pid)], capture_output=True, text=True
        ).stdout
        housekeeping = set(self.housekeeping_pids())
        return [int(pid) for pid in out.split() if int(pid) not in housekeeping]

    def housekeeping_pids(self) -> list[int]:
        """Every housekeeping process the worker has started, as its log says."""
        said = re.findall(r"housekeeping process (\d+):", self.log_text())
        return [int(pid) for pid in said]


class ServerProcess(_Child):
    """An HTTP server, `python COMMAND --port N` on a free port N of 127.0.0.1, ready once a GET
    of `ready_path` answers 2xx (the benchmarks serve `-m uvicorn APP ...` this way)."""

    def __init__(
        self,
        settings: Settings,
        log_path: Path,
        *,
        command: Sequence[str],
        ready_path: str,
        port_option: str = "--port",
        headers: Mapping[str, str] | None = None,
        cwd: Path = PROJECT_ROOT,
        timeout: float = 60.0,
    ) -> None:
        self.port = free_port()
        self.url = f"http://{HOST}:{self.port}"
        self.name = f"`python {' '.join(command)}`"
        argv = [sys.executable, *command, port_option, str(self.port)]
        super().__init__(argv, stack_env(settings), log_path, cwd)
        self._wait_ready(lambda: self.answers(ready_path, headers), timeout)

    def answers(self, path: str, headers: Mapping[str, str] | None = None) -> bool:
        """Whether a GET of `path` is answered with a 2xx within 2 seconds."""
        try:
            return httpx.get(self.url + path, headers=headers, timeout=2).is_success
        except httpx.HTTPError:
            return False


class ApiServer(ServerProcess):
    """The project's API, `python -m tuning api --port N`, ready once it serves its schema."""

    def __init__(self, settings: Settings, log_path: Path, **options) -> None:
        options.setdefault("command", ("-m", "tuning", "api", "--host", HOST))
        options.setdefault("ready_path", "/openapi.json")
        super().__init__(settings, log_path, **options)
