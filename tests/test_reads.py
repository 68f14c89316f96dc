"""The service's reads and checks over a database: runs, trials, plans, datasets."""

import io
import uuid
from dataclasses import fields
from datetime import timedelta

import pandas as pd
import pytest
from sqlmodel import select

from tuning.domain import RunStatus, utcnow
from tuning.errors import Forbidden, InvalidInput, NotFound
from tuning.models import Trial
from tuning.schemas import HalvingOptions, RunPublic, TuningRunCreate
from tuning.service import (
    check_submission,
    csv_columns,
    get_dataset,
    get_results,
    get_run_summary,
    list_datasets,
    list_runs,
    plan_run,
    preview_csv,
    run_filter_options,
    run_trials,
    shared_params,
    trials_csv,
)
from tuning.service.commands.planning import estimate_duration
from tuning.service.reads.runs import RunState, RunSummary, get_run_state

from factories import make_run, other_user


def test_preview_of_an_upload_reads_it_as_the_service_will():
    content = b"colour,size,label\nred,1.5,yes\nblue,2.5,no\nred,3.5,yes\nblue,0.5,no\n"

    assert csv_columns(content) == ["colour", "size", "label"]
    preview = preview_csv(content=content, target="label", max_bytes=10_000)

    assert preview.n_rows == 4
    kinds = {c["name"]: c["kind"] for c in preview.profile["columns"]}
    assert kinds == {"colour": "categorical", "size": "numeric"}
    assert preview.task.value == "classification"
    assert list(preview.head.columns) == ["colour", "size", "label"]
    with pytest.raises(InvalidInput) as error:
        preview_csv(content=content, target="nope", max_bytes=10_000)
    assert error.value.field == "target"


@pytest.mark.database
def test_run_summaries_are_the_viewers_newest_first_with_filters_and_a_total(session, user):
    start = utcnow() - timedelta(hours=1)
    runs = [
        make_run(
            session,
            user,
            created_at=start + timedelta(minutes=i),
            n_trials=0,
            status=status,
            dataset=dataset,
        )
        for i, (status, dataset) in enumerate(
            [(RunStatus.SUCCESS, "iris"), (RunStatus.FAILURE, "wine"), (RunStatus.PROGRESS, "iris")]
        )
    ]
    make_run(session, other_user(session), n_trials=0)

    page = list_runs(session=session, viewer=user)
    assert [run.id for run in page.items] == [run.id for run in reversed(runs)]
    assert page.total == 3 and [run.is_active for run in page.items] == [True, False, False]
    assert page.items[0].dataset == "iris" and page.items[0].owner == user.name

    second = list_runs(session=session, viewer=user, limit=2, offset=2)
    assert [run.id for run in second.items] == [runs[0].id] and second.total == 3

    iris = list_runs(session=session, viewer=user, datasets=["iris"], statuses=[RunStatus.SUCCESS])
    assert [run.id for run in iris.items] == [runs[0].id] and not iris.items[0].is_active
    assert list_runs(session=session, viewer=user, estimators=["SVC"]).total == 0

    options = run_filter_options(session=session, viewer=user)
    assert options.estimators == ["RandomForestClassifier"] and options.datasets == ["iris", "wine"]


@pytest.mark.database
def test_a_filter_value_no_name_can_hold_matches_nothing_instead_of_failing(session, user):
    """PostgreSQL refuses a NUL character in text; the schema fuzzer sent one in a filter."""
    iris = make_run(session, user, n_trials=0)
    for field in ("estimators", "datasets", "tags"):
        assert list_runs(session=session, viewer=user, **{field: ["x\x00"]}).total == 0
    kept = list_runs(session=session, viewer=user, datasets=["iris", "ir\x00is"])
    assert [run.id for run in kept.items] == [iris.id]


@pytest.mark.database
def test_an_admin_sees_every_run_and_a_user_only_their_own(session, user):
    theirs = make_run(session, other_user(session))
    admin = other_user(session, admin=True)

    assert theirs.id in {run.id for run in list_runs(session=session, viewer=admin).items}
    assert get_run_summary(session=session, run_id=theirs.id, viewer=admin).owner != admin.name
    with pytest.raises(Forbidden):
        get_run_summary(session=session, run_id=theirs.id, viewer=user)
    with pytest.raises(NotFound):
        get_run_summary(session=session, run_id=uuid.uuid4(), viewer=user)
    with pytest.raises(InvalidInput):
        get_run_summary(session=session, run_id="not-a-uuid", viewer=user)


@pytest.mark.database
def test_the_api_and_the_status_adapt_the_one_read_model_of_a_run(session, user):
    run = make_run(session, user, status=RunStatus.SUCCESS)
    summary = get_run_summary(session=session, run_id=run.id, viewer=user)

    # The API's run is the summary's fields, no other: a field added to one is found here.
    assert set(RunPublic.model_fields) <= {field.name for field in fields(RunSummary)}
    assert RunPublic.model_validate(summary).model_dump() == {
        name: getattr(summary, name) for name in RunPublic.model_fields
    }
    # What the status reads is the summary's first fields, read alone.
    state = get_run_state(session=session, run_id=run.id, viewer=user)
    assert state == RunState(
        **{field.name: getattr(summary, field.name) for field in fields(state)}
    )
    with pytest.raises(Forbidden):
        get_run_state(session=session, run_id=run.id, viewer=other_user(session))


@pytest.mark.database
def test_run_trials_hold_every_trial_and_shared_params_are_common_ones(session, user):
    run = make_run(session, user)
    other = make_run(session, user, param_grid={"max_depth": [None, 3], "min_samples_leaf": [1, 2]})

    results = run_trials(session=session, run_id=run.id, viewer=user)

    assert results.run.dataset == "iris" and results.params == ["n_estimators", "max_depth"]
    assert len(results.trials) == 6
    other_results = run_trials(session=session, run_id=other.id, viewer=user)
    assert shared_params([results.run, other_results.run]) == ["max_depth"]


@pytest.mark.database
def test_a_page_of_the_apis_trials_is_the_csvs_rows_ranked_among_the_whole_run(session, user):
    # Scores by n_estimators alone: three candidates tie at each; the last one fails.
    run = make_run(session, user, score=lambda params: 0.5 + params["n_estimators"] / 1000)
    failed = session.exec(select(Trial).where(Trial.run_id == run.id, Trial.index == 5)).one()
    failed.mean_test_score = failed.std_test_score = None
    failed.split_scores, failed.error = [None] * run.cv, "ValueError: no"
    session.add(failed)
    session.commit()

    results = get_results(session=session, run_id=run.id, viewer=user, limit=3, offset=3)
    page = results.model_dump(mode="json")["trials"]
    csv = trials_csv(run_trials(session=session, run_id=run.id, viewer=user).trials)
    table = pd.read_csv(io.StringIO(csv))

    assert [set(row) for row in page] == [set(table.columns)] * 3
    assert [row["trial"] for row in page] == [3, 4, 5]
    assert [row["rank_test_score"] for row in page] == table["rank_test_score"][3:].tolist()
    assert table["rank_test_score"].tolist() == [3, 1, 3, 1, 3, 6]  # scikit-learn's rule
    assert results.best_trial is not None and results.best_trial.rank_test_score == 1
    assert page[2]["mean_test_score"] is None and page[2]["error"] == "ValueError: no"


@pytest.mark.database
def test_check_submission_names_every_field_at_fault(session, settings, user):
    bad = TuningRunCreate(
        dataset="iris",
        estimator="RandomForestClassifier",
        param_grid={"n_estimators": [0, 10], "max_depth": ["deep"], "min_samples_leaf": [1]},
        cv=3,
    )
    errors = check_submission(session=session, settings=settings, run_in=bad, viewer=user)
    assert set(errors) == {"param_grid.n_estimators", "param_grid.max_depth"}
    assert "below the minimum 1" in errors["param_grid.n_estimators"]

    too_many_folds = bad.model_copy(update={"param_grid": {"n_estimators": [10]}, "cv": 151})
    assert set(
        check_submission(session=session, settings=settings, run_in=too_many_folds, viewer=user)
    ) == {"cv"}
    wrong_scorer = bad.model_copy(update={"param_grid": {"n_estimators": [10]}, "scoring": "r2"})
    assert set(
        check_submission(session=session, settings=settings, run_in=wrong_scorer, viewer=user)
    ) == {"scoring"}
    fine = bad.model_copy(update={"param_grid": {"n_estimators": [10]}})
    assert check_submission(session=session, settings=settings, run_in=fine, viewer=user) == {}


@pytest.mark.database
def test_plan_counts_candidates_and_fits_and_estimates_from_similar_runs(session, settings, user):
    run_in = TuningRunCreate(
        dataset="wine",
        estimator="ExtraTreesClassifier",
        param_grid={"n_estimators": [5, 10, 20]},
        cv=4,
    )
    plan = plan_run(session=session, settings=settings, run_in=run_in, viewer=user)
    assert (plan.n_candidates, plan.n_fits, plan.estimate) == (3, 12, None)

    # Two finished runs of 6 candidates x 3 folds: 6 s and 12 s, so 1/3 and 2/3 s per fit.
    for seconds in (6.0, 12.0):
        make_run(
            session, user, estimator="ExtraTreesClassifier", dataset="wine", tuning_time=seconds
        )
    make_run(session, user, estimator="ExtraTreesClassifier", dataset="iris", tuning_time=600.0)

    plan = plan_run(session=session, settings=settings, run_in=run_in, viewer=user)
    assert plan.estimate is not None and plan.estimate.n_similar == 2
    assert plan.estimate.seconds == pytest.approx(12 * 0.5)
    wine = get_dataset(session=session, name="wine", viewer=user)
    assert estimate_duration(session=session, estimator="SVC", dataset_id=wine.id, n_fits=5) is None

    # Halving: 3 candidates on 72 of wine's 178 rows, then 1 on 144, counted as full-data fits.
    halving = run_in.model_copy(
        update={"search": "halving", "halving": HalvingOptions(factor=2, min_resources=72)}
    )
    plan = plan_run(session=session, settings=settings, run_in=halving, viewer=user)
    assert plan.halving["n_candidates"] == [3, 2] and plan.halving["n_resources"] == [72, 144]
    full_data_fits = (3 * 72 + 2 * 144) / 178 * 4
    assert plan.estimate.seconds == pytest.approx(full_data_fits * 0.5)


@pytest.mark.database
def test_dataset_lists_show_bundled_datasets_with_their_task(session, user):
    choices = {choice.name: choice for choice in list_datasets(session=session, viewer=user)}

    assert choices["diabetes"].task.value == "regression"
    assert choices["iris"].n_rows == 150 and "Iris" in choices["iris"].description
