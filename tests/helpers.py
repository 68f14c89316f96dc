"""Submitting runs and following them, through the service layer as every transport does."""

import re
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sklearn.model_selection import GridSearchCV
from sqlalchemy import Engine, event
from sqlmodel import Session

from tuning.ml.datasets import load_bundled
from tuning.ml.search import default_pipeline, pipeline_params
from tuning.models import User
from tuning.runtime import Runtime
from tuning.schemas import TuningRunCreate, TuningStatus
from tuning.service import TrialRecord, get_status, list_trials, submit_run, upload_dataset

from stack import wait_until


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
    """The status of the run once it is SUCCESS, FAILURE or REVOKED."""

    def finished() -> TuningStatus | None:
        status = read_status(runtime, run_id)
        return status if status.status.is_finished else None

    return wait_until(
        finished, timeout, 0.1, lambda: f"run {run_id} still {read_status(runtime, run_id).status}"
    )


def wait_until_released(runtime: Runtime, *run_ids: uuid.UUID, timeout: float = 60) -> None:
    """Until the broker holds no waiting task and no worker runs or holds one of these runs'."""
    task_ids = [read_status(runtime, run_id).task_id for run_id in run_ids]

    def released() -> bool:
        # The queue first: a task taken after this check is one a worker then holds.
        if _waiting_tasks(runtime):
            return False
        held = runtime.celery.control.inspect(timeout=0.5).query_task(*task_ids)
        return held is not None and not any(held.values())  # None: no worker answered

    wait_until(released, timeout, 0.1, f"a worker still holds one of {task_ids}")


def _waiting_tasks(runtime: Runtime) -> int:
    """How many messages wait in the broker's default queue, not yet taken by a worker."""
    with runtime.celery.connection_for_read() as connection:
        return connection.default_channel.client.llen(runtime.celery.conf.task_default_queue)


def trials_of(runtime: Runtime, run_id: uuid.UUID) -> Sequence[TrialRecord]:
    with Session(runtime.engine) as session:
        return list_trials(session=session, run_id=run_id)


def gridsearch_best(
    dataset: str, estimator: str, grid: dict, scoring: str, cv: int
) -> tuple[dict[str, Any], float]:
    """scikit-learn's own GridSearchCV on the same pipeline (the dataset profile's default
    column roles, as a run gets them): its best parameters and score."""
    table = load_bundled(dataset)
    search = GridSearchCV(
        default_pipeline(estimator, table), pipeline_params(grid), scoring=scoring, cv=cv
    ).fit(table.X, table.y)
    best = {name.removeprefix("model__"): value for name, value in search.best_params_.items()}
    return best, search.best_score_


def upload(runtime: Runtime, owner: User, content: bytes, target: str) -> str:
    """An analyst's CSV uploaded under a fresh name, as New run and the API store it."""
    name = f"{target}-{uuid.uuid4().hex[:6]}"
    with Session(runtime.engine, expire_on_commit=False) as session:
        upload_dataset(
            session=session,
            owner=owner,
            name=name,
            content=content,
            target=target,
            settings=runtime.settings,
        )
    return name


@contextmanager
def recorded_queries() -> Iterator[list[tuple[str, tuple]]]:
    """Every SQL statement any engine runs meanwhile, with its parameters."""
    queries: list[tuple[str, tuple]] = []

    def record(conn, cursor, statement, parameters, context, executemany) -> None:
        values = parameters.values() if isinstance(parameters, dict) else parameters or ()
        queries.append((statement, tuple(values)))

    event.listen(Engine, "before_cursor_execute", record)
    try:
        yield queries
    finally:
        event.remove(Engine, "before_cursor_execute", record)


def cookie_secret(script: str) -> str | None:
    """The sign-in secret a dashboard page's script asks the server to set as its cookie."""
    found = re.search(r'/_tuning/cookie.*\\"secret\\": \\"([\w-]+)\\"', script)
    return found[1] if found else None
