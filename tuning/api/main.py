"""For `uvicorn tuning.api.main:app`: the app built from the environment."""

from tuning.api.app import create_app
from tuning.config import get_settings
from tuning.runtime import create_runtime

app = create_app(create_runtime(get_settings()))
