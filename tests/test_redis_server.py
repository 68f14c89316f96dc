"""EmbeddedRedis: a real redis-server on a Unix socket, reused when running, persistent."""

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from tuning.config import Settings
from tuning.redis_server import EmbeddedRedis

pytestmark = pytest.mark.stack  # redis-server processes of its own: the fast tier starts none


def _gone(pid: int) -> bool:
    """True when no process (other than a zombie) has this pid."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


@pytest.fixture
def data_dir() -> Iterator[Path]:
    """A short directory under /tmp: Unix socket paths are limited to ~107 bytes."""
    path = Path(tempfile.mkdtemp(prefix="er", dir="/tmp")) / "data"
    yield path
    shutil.rmtree(path.parent, ignore_errors=True)


@pytest.fixture
def server(data_dir: Path) -> Iterator[EmbeddedRedis]:
    """A started EmbeddedRedis, stopped after the test."""
    embedded = EmbeddedRedis(data_dir)
    embedded.start()
    yield embedded
    embedded.stop()


def _client(embedded: EmbeddedRedis) -> redis.Redis:
    """A client on the server's socket."""
    return redis.Redis(unix_socket_path=str(embedded.socket_path), socket_timeout=2)


def test_paths_match_settings(data_dir: Path) -> None:
    settings = Settings(data_dir=data_dir, redis_url=None)
    embedded = EmbeddedRedis(data_dir)
    assert embedded.socket_path == settings.embedded_redis_socket
    assert embedded.url == settings.broker_url


def test_starts_answers_and_stores(server: EmbeddedRedis) -> None:
    assert server.pid is not None
    assert not server.reused
    assert server.socket_path.is_socket()
    client = _client(server)
    assert client.ping()
    client.set("k", "v")
    assert client.get("k") == b"v"
    assert client.config_get("port")["port"] == "0"  # never on TCP
    client.close()


def test_second_instance_reuses_running_server(server: EmbeddedRedis) -> None:
    with EmbeddedRedis(server.data_dir) as second:
        assert second.reused
        assert second.pid is None
    # Stopping the reusing instance leaves the owner's server running.
    assert _client(server).ping()


def test_stop_leaves_no_process_and_data_survives_restart(data_dir: Path) -> None:
    first = EmbeddedRedis(data_dir)
    first.start()
    pid = first.pid
    assert pid is not None
    client = _client(first)
    client.set("survivor", "yes")
    client.close()
    first.stop()
    assert _gone(pid)
    assert not first.socket_path.exists()  # redis-server removes it on a clean shutdown

    with EmbeddedRedis(data_dir) as again:
        assert again.pid is not None and again.pid != pid
        client = _client(again)
        assert client.get("survivor") == b"yes"
        client.close()
    assert again.log_path.is_file()


def test_stale_socket_file_is_replaced(data_dir: Path) -> None:
    data_dir.mkdir(parents=True)
    (data_dir / "redis.sock").write_text("stale")
    with EmbeddedRedis(data_dir) as embedded:
        assert not embedded.reused
        assert _client(embedded).ping()


def test_too_long_socket_path_is_a_clear_error() -> None:
    long_dir = Path("/tmp") / ("x" * 120)
    with pytest.raises(RuntimeError, match="x" * 120):
        EmbeddedRedis(long_dir).start()
    assert not long_dir.exists()
