"""New run's quota lines: the user's use against the limits, before a launch or an upload."""

import math

import streamlit as st

from dashboard_ui import support as ui
from dashboard_ui.text import plain
from tuning.errors import QuotaExceeded
from tuning.models import User
from tuning.service import Quotas, RunPlan, check_upload_bytes, user_quotas


def run_quota_line(quotas: Quotas, plan: RunPlan | None) -> str:
    """Active runs, and this run's fits, against their limits (or that an admin has none)."""
    if quotas.exempt:
        return "Quotas: none for an admin."
    active = quotas.active_runs
    line = f"Quotas: {active.used} of {active.limit} active runs"
    if plan is not None:
        fits, limit = math.ceil(plan.full_data_fits), quotas.fits_per_run.limit
        on_every_row = " on every row" if plan.halving is not None else ""
        line += f" · this run {fits:,} of {limit:,} fits{on_every_row}"
    return f"{line} (MAX_ACTIVE_RUNS_PER_USER, MAX_FITS_PER_RUN)."


def upload_quota(user: User, size: int) -> bool:
    """Draw the bytes the user's uploads hold against their limit, and an error if this file
    would take them over it; True if it fits."""
    settings = ui.runtime().settings
    with ui.db() as session:
        quotas = user_quotas(session=session, settings=settings, user=user)
        try:
            check_upload_bytes(session=session, settings=settings, user=user, size=size)
        except QuotaExceeded as exc:
            st.error(plain(exc), icon=":material/error:")
            return False
    if not quotas.exempt:
        stored = quotas.upload_bytes
        st.caption(
            f"Your uploads hold {stored.used or 0:,} of {stored.limit:,} bytes "
            f"(MAX_UPLOAD_BYTES_PER_USER, archived ones too); this file is {size:,}."
        )
    return True
