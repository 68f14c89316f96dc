"""The Celery transport: the app factory, the thin tasks and the TaskQueue adapter."""
