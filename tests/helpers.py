"""Helpers shared by the tests: a worker process, and submitting and following runs."""

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

from sqlmodel import Session

from tuning.config import PROJECT_ROOT, Settings
from tuning.models import User
from tuning.runtime import Runtime
from tuning.schemas import TuningRunCreate, TuningStatus
from tuning.service import get_status, submit_run


def worker_env(settings: Settings) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DATA_DIR=str(settings.data_dir),
        DATABASE_URL=settings.sqlalchemy_url,
        REDIS_URL=settings.broker_url,
        PYTHONUNBUFFERED="1",
    )
    return env


class WorkerProcess:
    """`python -m tuning worker` in a subprocess, as a user would start it."""

    def __init__(self, settings: Settings, log_path: Path) -> None:
        self.log_path = log_path
        self.log = log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tuning", "worker", "--concurrency", "2"],
            cwd=PROJECT_ROOT,
            env=worker_env(settings),
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self._wait_ready()

    def _wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if b" ready." in self.log_path.read_bytes():
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.2)
        raise RuntimeError(f"worker did not start:\n{self.log_path.read_text()[-3000:]}")

    def pool_children(self) -> list[int]:
        out = subprocess.run(
            ["pgrep", "-P", str(self.process.pid)], capture_output=True, text=True
        ).stdout
        return [int(pid) for pid in out.split()]

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, 15)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, 9)
                self.process.wait()
        self.log.close()


def submit(runtime: Runtime, owner: User, **fields) -> uuid.UUID:
    """Submit a run through the service layer, as every transport does."""
    fields.setdefault("dataset", "iris")
    fields.setdefault("cv", 3)
    with Session(runtime.engine, expire_on_commit=False) as session:
        run = submit_run(
            session=session,
            queue=runtime.queue,
            settings=runtime.settings,
            owner=owner,
            run_in=TuningRunCreate(**fields),
        )
    return run.id


def read_status(runtime: Runtime, run_id: uuid.UUID) -> TuningStatus:
    with Session(runtime.engine) as session:
        return get_status(session=session, queue=runtime.queue, run_id=run_id)


def wait_until_finished(runtime: Runtime, run_id: uuid.UUID, timeout: float = 120) -> TuningStatus:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = read_status(runtime, run_id)
        if status.status.is_finished:
            return status
        time.sleep(0.1)
    raise AssertionError(f"run {run_id} still {status.status} after {timeout}s")
