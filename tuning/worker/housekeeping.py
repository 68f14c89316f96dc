"""Beside every worker's main process, a small process: the heartbeat, and the reconciler when
its lease is ours. Started when the worker is ready, restarted if it dies, stopped with it.

A process rather than a thread in the worker's main process: that main process forks a new pool
process whenever one dies, and a fork copies locks that another thread holds at that moment
(a Redis connection pool's, a database pool's) into a child that can then never take them. So
the main process keeps no threads of ours, and does nothing here but check, every heartbeat,
that the process is alive.
"""

import logging
import multiprocessing
import os
import signal
import time
from datetime import datetime
from multiprocessing.process import BaseProcess
from typing import Any

from celery import Celery
from celery.signals import worker_ready, worker_shutdown

from tuning.config import Settings
from tuning.db import session_scope
from tuning.domain import utcnow
from tuning.errors import StorageUnwritable
from tuning.lifeline import die_with_parent
from tuning.service import beat, reconcile, report_stalled, take_lease
from tuning.worker.process import runtime_for

log = logging.getLogger(__name__)

RECONCILER_LEASE = "reconciler"
_process: list[BaseProcess] = []  # the running one, in the worker's main process
_stopping: list[bool] = []  # set when the worker shuts down
# A stop signal ends the housekeeping process on purpose (it shares the worker's process group,
# which `make run` and Ctrl-C stop as one); any other end is a crash, and it is restarted.
_STOPPED = {-signal.SIGTERM, -signal.SIGINT}


@worker_ready.connect
def _start(sender: Any, **_: Any) -> None:
    app = sender.app
    settings: Settings = app.tuning_settings
    concurrency = int(
        getattr(sender.pool, "num_processes", None) or app.conf.worker_concurrency or 1
    )
    identity = (sender.hostname, os.getpid(), concurrency, utcnow())

    def ensure_running() -> None:
        if _stopping or (_process and _process[0].is_alive()):
            return
        if _process and _process[0].exitcode in _STOPPED:
            return
        if _process:
            log.warning("the housekeeping process ended (%s); starting another", _process[0])
            _process.clear()
        # Forked from a main process that has no threads of ours: nothing is half-held.
        process = multiprocessing.get_context("fork").Process(
            target=housekeep, args=(app, *identity), name="tuning-housekeeping", daemon=True
        )
        process.start()
        _process.append(process)
        log.info(
            "housekeeping process %d: heartbeat every %g s; reconciler every %g s when its "
            "lease is ours",
            process.pid,
            settings.heartbeat_s,
            settings.reconcile_s,
        )

    ensure_running()
    sender.timer.call_repeatedly(settings.heartbeat_s, ensure_running)


@worker_shutdown.connect
def _shutdown(**_: Any) -> None:
    _stopping.append(True)
    for process in _process:
        process.terminate()
        process.join(5)
    _process.clear()


def housekeep(
    app: Celery, hostname: str, worker_pid: int, concurrency: int, started_at: datetime
) -> None:
    """The loop of the housekeeping process; ends when the worker's main process is gone:
    at once where the kernel tells us (Linux), else at the next heartbeat."""
    die_with_parent()
    # The worker's own signal handlers were inherited; this process just stops when told.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the worker, which stops us
    runtime = runtime_for(app)
    settings, engine, queue = runtime.settings, runtime.engine, runtime.queue
    next_beat = next_reconcile = time.monotonic()
    said = ""  # the storage problem last logged: said again only when it changes
    while os.getppid() == worker_pid:
        try:
            with session_scope(engine) as session:
                if time.monotonic() >= next_beat:
                    next_beat = time.monotonic() + settings.heartbeat_s
                    beat(
                        session=session,
                        hostname=hostname,
                        pid=worker_pid,
                        concurrency=concurrency,
                        started_at=started_at,
                    )
                if time.monotonic() >= next_reconcile:
                    next_reconcile = time.monotonic() + settings.reconcile_s
                    # The lease lasts as long as a worker may stay silent: when its holder
                    # dies, it lapses when the holder's work is seen lost, and the next
                    # worker's pass (within `reconcile_s`) takes it and requeues that work.
                    lease = take_lease(
                        session=session,
                        name=RECONCILER_LEASE,
                        holder=hostname,
                        ttl_s=settings.worker_timeout_s,
                    )
                    if lease:
                        reconcile(session=session, queue=queue, settings=settings)
            if said:
                log.info("heartbeat and reconciler: storage takes writes again")
                said = ""
        except StorageUnwritable as exc:  # for status reads, every beat; in the log, once
            report_stalled(settings=settings, queue=queue, error=exc)
            if str(exc) != said:
                log.warning("heartbeat and reconciler wait for storage: %s", exc)
                said = str(exc)
        except Exception:  # a database hiccup must not end the heartbeat
            log.exception("heartbeat or reconciler pass failed; trying again")
        time.sleep(max(0.0, min(next_beat, next_reconcile) - time.monotonic()))
