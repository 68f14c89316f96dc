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


def create_runtime(settings: Settings) -> Runtime:
    """What a transport (CLI, API, dashboard) needs to call the service layer."""
    celery = create_celery(settings)
    return Runtime(
        settings=settings,
        engine=create_db_engine(settings),
        celery=celery,
        queue=CeleryQueue(
            celery, timeout=settings.status_timeout_s, send_timeout=settings.send_timeout_s
        ),
    )
