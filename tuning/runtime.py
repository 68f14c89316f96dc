"""The composition root: settings, database engine and task queue, built once per process."""

from dataclasses import dataclass

from celery import Celery
from sqlalchemy import Engine

from tuning.config import Settings
from tuning.db import create_db_engine
from tuning.worker.app import create_celery
from tuning.worker.queue import CeleryQueue


@dataclass(frozen=True)
class Runtime:
    settings: Settings
    engine: Engine
    celery: Celery
    queue: CeleryQueue


def create_runtime(settings: Settings, *, celery: Celery | None = None) -> Runtime:
    """What a transport (CLI, API, dashboard, worker) needs to call the service layer; a
    worker passes the Celery app it runs."""
    celery = celery or create_celery(settings)
    return Runtime(
        settings=settings,
        engine=create_db_engine(settings),
        celery=celery,
        queue=CeleryQueue(
            celery, timeout=settings.status_timeout_s, send_timeout=settings.send_timeout_s
        ),
    )
