"""How often a page refreshes a run: the spec's polling schedule. No Streamlit here."""

from tuning.domain import FINISHED, RunStatus

# The spec's schedule: 2-3 s in the first minute, 5 s while active, 10 s for long runs.
FIRST_MINUTE_S, LONG_RUN_S = 60, 600
POLL_FIRST_MINUTE_S, POLL_ACTIVE_S, POLL_LONG_S = 2.5, 5.0, 10.0


def poll_interval(status: RunStatus, age_s: float) -> float | None:
    """How often a monitor refreshes a run of this age; None once the run has ended."""
    if status in FINISHED:
        return None
    if age_s < FIRST_MINUTE_S:
        return POLL_FIRST_MINUTE_S
    return POLL_ACTIVE_S if age_s < LONG_RUN_S else POLL_LONG_S
