"""A run's results: its configuration and every trial, ranked as scikit-learn ranks them."""

import csv
import io
import uuid

from sqlmodel import Session, col, select

from tuning.ml.search import rank_test_scores
from tuning.models import Dataset, Trial, TuningRun
from tuning.schemas import RunResults, TrialPublic
from tuning.service.runs import run_public


def ranks(*, session: Session, run_id: uuid.UUID) -> dict[int, int]:
    """rank_test_score by trial index: 1 is best, ties share the lower rank, failures rank last."""
    rows = session.exec(
        select(Trial.index, Trial.mean_test_score).where(Trial.run_id == run_id)
    ).all()
    rank_of = rank_test_scores([row.mean_test_score for row in rows])
    return {row.index: rank for row, rank in zip(rows, rank_of, strict=True)}


def get_results(
    *, session: Session, run: TuningRun, limit: int = 100, offset: int = 0
) -> RunResults:
    """One page of trials in candidate order, with the run and its best trial."""
    dataset_name = session.exec(select(Dataset.name).where(Dataset.id == run.dataset_id)).one()
    rank_of = ranks(session=session, run_id=run.id)
    page = session.exec(
        select(Trial)
        .where(Trial.run_id == run.id)
        .order_by(col(Trial.index))
        .offset(offset)
        .limit(limit)
    ).all()
    best = None
    if run.best_trial_index is not None:
        best_row = session.exec(
            select(Trial).where(Trial.run_id == run.id, Trial.index == run.best_trial_index)
        ).first()
        best = _public(best_row, rank_of) if best_row else None
    return RunResults(
        run=run_public(run, dataset_name),
        best_trial=best,
        trials=[_public(trial, rank_of) for trial in page],
        total_trials=len(rank_of),
        limit=limit,
        offset=offset,
    )


def _public(trial: Trial, rank_of: dict[int, int]) -> TrialPublic:
    public = TrialPublic.model_validate(trial)
    public.rank = rank_of.get(trial.index)
    return public


def trials_csv(*, session: Session, run: TuningRun) -> str:
    """Every trial as CSV: one column per parameter and per split, like cv_results_."""
    trials = session.exec(
        select(Trial).where(Trial.run_id == run.id).order_by(col(Trial.index))
    ).all()
    rank_of = ranks(session=session, run_id=run.id)
    params = sorted({name for trial in trials for name in trial.params})
    n_splits = max((len(trial.split_scores) for trial in trials), default=0)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        [
            "index",
            *[f"param_{p}" for p in params],
            "mean_test_score",
            "std_test_score",
            "rank_test_score",
            *[f"split{i}_test_score" for i in range(n_splits)],
            "mean_fit_time",
            "mean_score_time",
            "error",
        ]
    )
    for trial in trials:
        writer.writerow(
            [
                trial.index,
                *[trial.params.get(p, "") for p in params],
                trial.mean_test_score,
                trial.std_test_score,
                rank_of[trial.index],
                *trial.split_scores,
                trial.mean_fit_time,
                trial.mean_score_time,
                trial.error or "",
            ]
        )
    return out.getvalue()
