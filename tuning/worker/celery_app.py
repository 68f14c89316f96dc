"""For `celery -A tuning.worker.celery_app worker`: the app built from the environment."""

from tuning.config import get_settings
from tuning.worker.app import create_celery

app = create_celery(get_settings())
