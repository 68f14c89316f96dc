"""In every worker's main process, a thread: the heartbeat, and the reconciler when its lease
is ours. Started when the worker is ready, stopped when it shuts down."""

import logging
import os
import threading
import time
from typing import Any

from celery.signals import worker_ready, worker_shutdown

from tuning.config import Settings
from tuning.db import session_scope
from tuning.domain import utcnow
from tuning.service.reconcile import reconcile
from tuning.service.workers import beat, take_lease

log = logging.getLogger(__name__)

RECONCILER_LEASE = "reconciler"
_stop = threading.Event()


@worker_ready.connect
def _start(sender: Any, **_: Any) -> None:
    from tuning.worker.tasks import engine_for, queue_for  # the tasks module imports this one

    app = sender.app
    settings: Settings = app.tuning_settings
    hostname = sender.hostname
    concurrency = int(
        getattr(sender.pool, "num_processes", None) or app.conf.worker_concurrency or 1
    )
    engine, queue = engine_for(settings), queue_for(app)
    started_at = utcnow()

    def loop() -> None:
        next_reconcile = 0.0
        while True:
            try:
                with session_scope(engine) as session:
                    beat(
                        session=session,
                        hostname=hostname,
                        pid=os.getpid(),
                        concurrency=concurrency,
                        started_at=started_at,
                    )
                    if time.monotonic() >= next_reconcile:
                        next_reconcile = time.monotonic() + settings.reconcile_s
                        lease = take_lease(
                            session=session,
                            name=RECONCILER_LEASE,
                            holder=hostname,
                            ttl_s=3 * settings.reconcile_s,
                        )
                        if lease:
                            reconcile(session=session, queue=queue, settings=settings)
            except Exception:  # a database hiccup must not end the heartbeat
                log.exception("heartbeat or reconciler pass failed; trying again")
            if _stop.wait(settings.heartbeat_s):
                return

    _stop.clear()
    threading.Thread(target=loop, name="tuning-housekeeping", daemon=True).start()
    log.info(
        "heartbeat every %g s; reconciler every %g s when its lease is ours",
        settings.heartbeat_s,
        settings.reconcile_s,
    )


@worker_shutdown.connect
def _shutdown(**_: Any) -> None:
    _stop.set()
