"""The Celery app factory."""

from celery import Celery

from tuning.config import Settings

TUNE_TASK = "tuning.run_chunk"
TRAIN_TASK = "tuning.train_model"


def create_celery(settings: Settings) -> Celery:
    """A Celery app for `settings`: Redis as broker and result backend, at-least-once delivery."""
    app = Celery("tuning", broker=settings.broker_url, backend=settings.broker_url)
    app.conf.update(
        include=["tuning.worker.tasks"],
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        # A chunk of a run is acknowledged only when it ends, and requeued if its worker dies;
        # it then resumes from the trials stored. A worker holds no message beyond the ones it
        # runs, so a lost worker strands nothing that the reconciler cannot see.
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        # The database row says a run has started; no Redis write per task for it.
        task_track_started=False,
        broker_transport_options={"visibility_timeout": settings.visibility_timeout_s},
        result_backend_transport_options={"visibility_timeout": settings.visibility_timeout_s},
        broker_connection_retry_on_startup=True,
        task_soft_time_limit=settings.run_time_limit_s,
        task_time_limit=settings.run_time_limit_s + 60,
        result_expires=settings.result_expires_s,
        redis_socket_timeout=settings.status_timeout_s,
        redis_socket_connect_timeout=settings.status_timeout_s,
        worker_hijack_root_logger=False,
    )
    app.tuning_settings = settings
    return app
