"""Successive halving over the workers: each rung's candidates fanned out, then the next rung.

A halving run's trials are stored rung after rung: rung r holds trials `rung_start(r)` to
`rung_start(r + 1)`. Rung 0 is planned like any run (chunk 0 probes, then chunks). The task
that stores a rung's last trial opens the next: its candidates are the stored survivors
(`tuning.ml.halving.survivors`, read back from the trials, so every worker on every host lists
the same ones), its chunks are stored and sent; a guarded update of `tuning_run.rung` lets one
task do it. The reconciler opens a rung whose opener crashed.
"""

import logging
import math
from typing import Any

from sqlalchemy import select, update
from sqlmodel import Session, col

from tuning.config import Settings
from tuning.domain import ACTIVE
from tuning.ml.halving import HalvingPlan, rung_splits, survivors
from tuning.ml.search import Splits
from tuning.models import Trial, TuningRun
from tuning.service.execution.chunks import add_chunks, chunk_size, live_processes
from tuning.service.execution.preparation import Prepared
from tuning.service.execution.queue import TaskQueue

log = logging.getLogger(__name__)


def halving_plan(run: TuningRun) -> HalvingPlan:
    """The run's schedule, stored at submit."""
    assert run.halving is not None, "a halving run's schedule is stored at submit"
    return HalvingPlan(
        n_candidates=list(run.halving["n_candidates"]), n_resources=list(run.halving["n_resources"])
    )


def rung_candidates(
    *, session: Session, run: TuningRun, work: Prepared, plan: HalvingPlan, rung: int
) -> list[dict[str, Any]]:
    """A later rung's candidates in scikit-learn's order: the survivors of the rung before, read
    from its stored trials (kept per worker process once read)."""
    key = ("rung", rung)
    if key not in work.kept:
        start, stop = plan.rung_start(rung - 1), plan.rung_start(rung)
        rows = session.execute(
            select(col(Trial.params), col(Trial.mean_test_score))
            .where(col(Trial.run_id) == run.id, col(Trial.index) >= start, col(Trial.index) < stop)
            .order_by(col(Trial.index))
        ).all()
        if len(rows) < stop - start:
            raise RuntimeError(f"rung {rung} of run {run.id} opened before rung {rung - 1} ended")
        factor = float(run.halving["factor"]) if run.halving else 3.0
        keep = survivors([score for _, score in rows], factor=factor)
        work.kept[key] = [rows[position][0] for position in keep]
    candidates: list[dict[str, Any]] = work.kept[key]
    return candidates


def splits_for(*, run: TuningRun, work: Prepared, plan: HalvingPlan, rung: int) -> Splits:
    """The rung's CV splits: GridSearchCV's, subsampled to the rung's samples."""
    key = ("splits", rung)
    if key not in work.kept:
        assert run.random_state is not None, "a halving run's seed is fixed at submit"
        work.kept[key] = rung_splits(
            work.splits,
            n_resources=plan.n_resources[rung],
            n_samples=len(work.table.y),
            random_state=run.random_state,
        )
    splits: Splits = work.kept[key]
    return splits


def open_next_rung(
    *, session: Session, queue: TaskQueue, settings: Settings, run: TuningRun, n_stored: int
) -> bool:
    """If every trial of the run's current rung is stored, open the next one: store its chunks
    and send them. Only one caller opens a rung; False when there was nothing to open."""
    plan = halving_plan(run)
    current = session.execute(
        select(col(TuningRun.rung)).where(col(TuningRun.id) == run.id)
    ).scalar_one()
    rung = current + 1
    if rung >= plan.n_rungs or n_stored < plan.rung_start(rung):
        session.commit()
        return False
    opened = session.execute(
        update(TuningRun)
        .where(
            col(TuningRun.id) == run.id,
            col(TuningRun.rung) == current,
            col(TuningRun.status).in_(list(ACTIVE)),
        )
        .values(rung=rung)
    )
    if opened.rowcount == 0:  # type: ignore[attr-defined]  # another task opened it
        session.commit()
        return False
    run.rung = rung
    start, stop = plan.rung_start(rung), plan.rung_start(rung + 1)
    size = chunk_size(
        per_candidate_s=_expected_seconds(session, run, plan, rung),
        n_remaining=stop - start,
        n_processes=live_processes(session=session, settings=settings),
        target_s=settings.task_target_s,
    )
    # A later rung's chunk is numbered by its first trial: unique, as rung 0's chunks number
    # fewer than its trials.
    spans = [(first, first, min(first + size, stop)) for first in range(start, stop, size)]
    log.info("run %s: rung %d of %d opened, %d chunks", run.id, rung + 1, plan.n_rungs, len(spans))
    add_chunks(session=session, queue=queue, settings=settings, run_id=run.id, spans=spans)
    return True


def _expected_seconds(session: Session, run: TuningRun, plan: HalvingPlan, rung: int) -> float:
    """Seconds per candidate in `rung`: the rung before's, times the growth in samples."""
    start, stop = plan.rung_start(rung - 1), plan.rung_start(rung)
    times = session.execute(
        select(col(Trial.mean_fit_time), col(Trial.mean_score_time)).where(
            col(Trial.run_id) == run.id, col(Trial.index) >= start, col(Trial.index) < stop
        )
    ).all()
    if not times:
        return 0.0
    per_candidate = sum(fit + score for fit, score in times) / len(times) * run.cv
    growth = plan.n_resources[rung] / max(plan.n_resources[rung - 1], 1)
    return per_candidate * growth if math.isfinite(per_candidate) else 0.0
