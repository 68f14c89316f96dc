"""The runtime of a worker process: its engine and queue, built by `create_runtime` once per
process, so that a forked pool child never reuses its parent's connections."""

import os

from celery import Celery

from tuning.runtime import Runtime, create_runtime

_runtimes: dict[tuple[int, int], Runtime] = {}


def runtime_for(app: Celery) -> Runtime:
    """This process's runtime on the worker's app (its settings: `app.tuning_settings`)."""
    key = (os.getpid(), id(app))
    if key not in _runtimes:
        _runtimes[key] = create_runtime(app.tuning_settings, celery=app)
    return _runtimes[key]
