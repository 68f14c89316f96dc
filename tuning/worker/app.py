"""The Celery app factory."""

from celery import Celery

from tuning.config import Settings

TUNE_TASK = "tuning.run_tuning"
TRAIN_TASK = "tuning.train_model"


def create_celery(settings: Settings) -> Celery:
    """A Celery app for `settings`: Redis as broker and result backend, at-least-once delivery."""
    app = Celery("tuning", broker=settings.broker_url, backend=settings.broker_url)
    app.conf.update(
        include=["tuning.worker.tasks"],
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        # A run is acknowledged only when it ends, and requeued if its worker dies; the run
        # then resumes from the trials it stored.
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_track_started=True,
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
