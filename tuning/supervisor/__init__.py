"""The supervisor of `make run`: one module per idea.

- `services`: run processes, restart each on its own with a growing pause, stop all on Ctrl-C.
- `preflight`: before starting, find an earlier stack or a taken port and say who holds it.
- `make_run`: `python -m tuning run`, the product's own processes under the two above.

Every child dies with the supervisor however it ends (`tuning.lifeline`).
"""

from tuning.supervisor.make_run import build_services, dashboard_url, main
from tuning.supervisor.services import DEFAULT_BACKOFF, Backoff, Service, run_services

__all__ = [
    "DEFAULT_BACKOFF",
    "Backoff",
    "Service",
    "build_services",
    "dashboard_url",
    "main",
    "run_services",
]
