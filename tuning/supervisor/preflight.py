"""Before `make run` starts anything: is an earlier stack still here, is a port taken?

Each problem names the process in the way (pid and command line) and what to do about it, so
that a second `make run` says so in its first lines instead of failing half-way. One lock file
per data directory marks a running supervisor: the kernel releases it however that one ends.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import psutil
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from tuning.config import Settings


@dataclass(frozen=True)
class Port:
    """A TCP port a service of `make run` will listen on, and the setting that moves it."""

    service: str
    host: str
    port: int
    setting: str


def describe(pid: int | None) -> str:
    """`pid 123 (python -m tuning api)`, or why the holder cannot be named."""
    if pid is None:
        return "a process this user may not see (another user's?)"
    try:
        command = " ".join(psutil.Process(pid).cmdline()) or psutil.Process(pid).name()
    except psutil.Error:
        return f"pid {pid}"
    return f"pid {pid} ({command})"


def lock_data_dir(data_dir: Path) -> IO[str] | str:
    """Hold `data_dir/supervisor.lock` (kept while the returned file stays open), or say which
    supervisor holds it and how to stop it."""
    data_dir.mkdir(parents=True, exist_ok=True)
    lock = (data_dir / "supervisor.lock").open("a+")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        lock.seek(0)
        holder = lock.read().strip()
        lock.close()
        pid = int(holder) if holder.isdigit() else None
        who = describe(pid) if pid else "another process"
        stop = f"stop it with `kill {pid}` (it stops its processes too)" if pid else "stop it"
        return f"`make run` is already running on {data_dir}: {who}; {stop}, or set DATA_DIR"
    lock.truncate(0)
    lock.write(f"{os.getpid()}\n")
    lock.flush()
    return lock


def stale_redis(socket_path: Path) -> str | None:
    """A Redis that still answers on the embedded socket, which no running supervisor owns."""
    if not socket_path.is_socket():
        return None
    client = redis.Redis(
        unix_socket_path=str(socket_path), socket_timeout=1, retry=Retry(NoBackoff(), 0)
    )
    try:
        pid = int(client.info("server")["process_id"])
    except (redis.RedisError, OSError, KeyError, ValueError):
        return None  # nothing answers: a stale socket file, which the new server replaces
    finally:
        client.close()
    return (
        f"a Redis left by an earlier run still answers on {socket_path}: {describe(pid)}; "
        f"stop it with `kill {pid}` (it saves its data first), then `make run` again"
    )


def _listener(port: int) -> int | None:
    """The pid listening on TCP `port`, if this user may see it."""
    with contextlib.suppress(psutil.Error):
        for conn in psutil.net_connections(kind="tcp"):
            if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == port:
                return conn.pid
    return None


def port_taken(port: Port) -> str | None:
    """Why `port` cannot be served (who holds it, what to do), or None when it is free."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            port.host or None, port.port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the servers do
            probe.bind(address)
    except OSError as error:
        if error.errno != errno.EADDRINUSE:
            return f"the {port.service} cannot listen on {port.host}:{port.port}: {error}"
        pid = _listener(port.port)
        stop = f"stop it with `kill {pid}`" if pid else "stop it"
        return (
            f"port {port.port} ({port.host}), the {port.service}'s, is taken by {describe(pid)}; "
            f"{stop}, or set {port.setting} to a free port"
        )
    return None


def problems(settings: Settings, ports: list[Port]) -> list[str]:
    """Everything in the way of a new stack on `settings` (the lock is taken separately)."""
    found = []
    if not settings.redis_url:
        found.append(stale_redis(settings.embedded_redis_socket))
    found += [port_taken(port) for port in ports]
    return [problem for problem in found if problem]
