"""`python -m tuning tune` when its database connection fails: retried with the same
idempotency key, it stores one run; past its retries it says so in words. A real TCP proxy in
front of PostgreSQL loses the connection (no mock of the command's own code)."""

import contextlib
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import func
from sqlalchemy.engine import make_url
from sqlmodel import Session, col, select

from tuning.config import PROJECT_ROOT
from tuning.models import TuningRun

from stack import HOST, free_port, stack_env

pytestmark = [pytest.mark.database, pytest.mark.stack]

TUNE = (
    "tune",
    "--dataset",
    "iris",
    "--estimator",
    "LogisticRegression",
    "--param-grid",
    '{"C": [0.1, 1.0]}',
    "--cv",
    "3",
)


class LosingProxy:
    """Forwards 127.0.0.1:`port` to PostgreSQL. With `cut_after_run_commit`, the connection
    that stores a tuning run is closed the moment PostgreSQL has answered its COMMIT, before
    the client reads the answer: the run is stored and the command sees a lost connection."""

    def __init__(self, server: tuple[str, int], *, cut_after_run_commit: bool) -> None:
        self.server, self.cut_after_run_commit = server, cut_after_run_commit
        self.port = free_port()
        self.connections = 0
        self.cut = 0
        self._listener: socket.socket | None = None
        self._stopped = threading.Event()

    def start(self) -> None:
        self._listener = socket.create_server((HOST, self.port))
        self._listener.settimeout(0.2)
        threading.Thread(target=self._accept, daemon=True).start()

    def stop(self) -> None:
        self._stopped.set()
        if self._listener is not None:
            self._listener.close()

    def _accept(self) -> None:
        assert self._listener is not None
        while not self._stopped.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections += 1
            server = socket.create_connection(self.server)
            state = {"seen": b"", "commit_sent": False}
            threading.Thread(target=self._up, args=(client, server, state), daemon=True).start()
            threading.Thread(target=self._down, args=(server, client, state), daemon=True).start()

    def _up(self, client: socket.socket, server: socket.socket, state: dict) -> None:
        with contextlib.suppress(OSError):
            while data := client.recv(65536):
                if self.cut_after_run_commit and not self.cut:
                    state["seen"] += data
                    seen = state["seen"]
                    insert = seen.find(b"INSERT INTO tuning_run ")
                    if insert >= 0 and seen.find(b"COMMIT", insert) >= 0:
                        state["commit_sent"] = True
                server.sendall(data)
        _close(client, server)

    def _down(self, server: socket.socket, client: socket.socket, state: dict) -> None:
        with contextlib.suppress(OSError):
            while data := server.recv(65536):
                if state["commit_sent"] and not self.cut:
                    self.cut += 1  # PostgreSQL answered the COMMIT: the client never hears it
                    break
                client.sendall(data)
        _close(client, server)


def _close(*sockets: socket.socket) -> None:
    for each in sockets:
        with contextlib.suppress(OSError):
            each.shutdown(socket.SHUT_RDWR)
        each.close()


@pytest.fixture
def postgres(settings) -> tuple[str, int]:
    url = make_url(settings.sqlalchemy_url)
    if url.get_backend_name() != "postgresql":
        pytest.skip("needs PostgreSQL (TEST_DATABASE_URL): SQLite has no connection to lose")
    return url.host or "127.0.0.1", url.port or 5432


@contextlib.contextmanager
def proxied(settings, proxy: LosingProxy) -> Iterator[str]:
    # Plain text, so the proxy can see the COMMIT go by.
    url = make_url(settings.sqlalchemy_url).set(host=HOST, port=proxy.port)
    url = url.update_query_dict({"sslmode": "disable"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        proxy.stop()


def tune(settings, database_url: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "tuning", *TUNE, "--name", f"retry-{uuid.uuid4().hex[:6]}"],
        cwd=PROJECT_ROOT,
        env={**stack_env(settings), "DATABASE_URL": database_url},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def n_runs(runtime, name: str) -> int:
    with Session(runtime.engine) as session:
        query = select(func.count()).select_from(TuningRun).where(col(TuningRun.name) == name)
        return session.exec(query).one()


def name_of(process: subprocess.Popen) -> str:
    return next(arg for arg in process.args if arg.startswith("retry-"))  # type: ignore[union-attr]


def test_a_commit_whose_answer_is_lost_is_retried_and_stores_one_run(settings, runtime, postgres):
    proxy = LosingProxy(postgres, cut_after_run_commit=True)
    proxy.start()
    with proxied(settings, proxy) as url:
        process = tune(settings, url)
        out, err = process.communicate(timeout=120)

    assert process.returncode == 0, err
    assert proxy.cut == 1, "the proxy never lost the connection that stored the run"
    assert proxy.connections >= 2  # the retry came on a new connection
    assert "trying again" in err and "Traceback" not in err
    run_id = out.strip().splitlines()[-1]
    assert n_runs(runtime, name_of(process)) == 1  # the first attempt's, given back
    with Session(runtime.engine) as session:
        assert session.get(TuningRun, uuid.UUID(run_id)) is not None


def test_a_database_that_refuses_at_first_is_waited_for(settings, runtime, postgres):
    proxy = LosingProxy(postgres, cut_after_run_commit=False)
    with proxied(settings, proxy) as url:
        process = tune(settings, url)  # nothing listens yet: connection refused
        assert process.stderr is not None
        warned = process.stderr.readline()  # the first refusal, said
        proxy.start()
        out, err = process.communicate(timeout=120)

    assert "connection refused" in warned.lower() and "trying again" in warned, warned + err
    assert process.returncode == 0, err
    assert n_runs(runtime, name_of(process)) == 1
    with Session(runtime.engine) as session:
        assert session.get(TuningRun, uuid.UUID(out.strip().splitlines()[-1])) is not None


def test_a_database_that_never_answers_is_given_up_in_words(settings):
    nobody = f"postgresql+psycopg://postgres@{HOST}:{free_port()}/nothing"
    started = time.monotonic()
    process = tune(settings, nobody)
    out, err = process.communicate(timeout=60)

    assert process.returncode == 3
    assert "did not answer" in err and "tried 5 times" in err and "python -m tuning runs" in err
    assert "Traceback" not in err
    assert out == ""
    assert time.monotonic() - started < 30  # 7.5 s of pauses and a process start
