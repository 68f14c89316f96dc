"""An analyst's own file, in process: its profile, careless targets, column roles, the group and
time splits, and the preprocessing every catalog estimator gets from them."""

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.model_selection import GridSearchCV, StratifiedGroupKFold, TimeSeriesSplit

from tuning.domain import TaskType
from tuning.errors import InvalidInput
from tuning.ml.catalog import ESTIMATORS
from tuning.ml.columns import default_roles, feature_columns, resolve_roles
from tuning.ml.datasets import profile_of, read_csv
from tuning.ml.search import build_pipeline, evaluate_candidate, make_splits, pipeline_params

from messy import churn_csv, customers, spend_csv


def churn_profile() -> tuple:
    table = read_csv(churn_csv(), "churn")
    return table, profile_of(table, "churn", task_inferred=True)


def test_each_column_gets_its_kind_gaps_levels_and_default_role():
    _, profile = churn_profile()
    columns = {c["name"]: c for c in profile["columns"]}

    kinds = {name: c["kind"] for name, c in columns.items()}
    assert kinds == {
        "customer_id": "numeric",
        "signup_date": "datetime",
        "account_code": "text",
        "plan": "categorical",
        "city": "categorical",
        "region": "categorical",
        "tenure_months": "numeric",
        "monthly_spend": "numeric",
        "is_active": "numeric",
        "has_promo": "boolean",
        "country": "categorical",
    }
    ignored = {name for name, c in columns.items() if c["role"] == "ignored"}
    assert ignored == {"customer_id", "account_code", "country"}
    assert "ID-like" in columns["customer_id"]["reason"]
    assert "ID-like" in columns["account_code"]["reason"]
    assert "constant" in columns["country"]["reason"]
    assert columns["city"]["distinct"] == 40
    assert 0.02 < columns["tenure_months"]["missing"] < 0.1
    assert columns["signup_date"]["date_format"] == "%Y-%m-%d"
    assert len(columns["plan"]["examples"]) == 3


def test_warnings_name_the_column_and_say_why():
    _, profile = churn_profile()
    said = {w["column"]: w["message"] for w in profile["warnings"]}

    assert "40 levels" in said["city"]
    assert "dates held as text" in said["signup_date"]
    assert "imbalanced" in said["churn"] and "average precision" in said["churn"]
    assert profile["target"]["classes"][0][0] == "no"
    assert sum(n for _, n in profile["target"]["classes"]) == profile["n_rows"] == 300


def test_a_column_that_gives_the_target_away_is_flagged():
    frame = customers(200)
    frame["churned_flag"] = np.where(frame["churn"] == "yes", "Y", "N")
    table = read_csv(frame.to_csv(index=False).encode(), "churn")
    said = {w["column"]: w["message"] for w in profile_of(table, "churn")["warnings"]}
    assert "single class of the target" in said["churned_flag"]

    frame = customers(200).drop(columns=["churn"])
    frame["spend_in_cents"] = frame["spend_next_year"] * 100
    table = read_csv(frame.to_csv(index=False).encode(), "spend_next_year")
    said = {w["column"]: w["message"] for w in profile_of(table, "spend_next_year")["warnings"]}
    assert "correlation" in said["spend_in_cents"]


@pytest.mark.parametrize(
    ("target", "task", "field", "reason"),
    [
        ("customer_id", None, "target", "looks like an ID"),
        ("account_code", None, "target", "looks like an ID"),
        ("plan", TaskType.REGRESSION, "task", "regression cannot predict"),
        ("monthly_spend", TaskType.CLASSIFICATION, "task", "too many to predict as classes"),
    ],
)
def test_careless_targets_are_refused_with_the_reason(target, task, field, reason):
    with pytest.raises(InvalidInput) as caught:
        read_csv(churn_csv(), target, task=task)
    assert caught.value.field == field and reason in caught.value.reason


def test_a_class_with_one_row_is_refused_and_a_count_can_be_read_as_numbers():
    rows = "\n".join(f"{i % 7},{'a' if i else 'b'}" for i in range(30))
    with pytest.raises(InvalidInput, match="'b' of the target 'kind' has a single row"):
        read_csv(f"x,kind\n{rows}\n".encode(), "kind")

    visits = pd.DataFrame({"age": range(60), "visits": [i % 9 for i in range(60)]})
    content = visits.to_csv(index=False).encode()
    as_classes = read_csv(content, "visits")
    assert as_classes.task is TaskType.CLASSIFICATION
    said = [w["message"] for w in profile_of(as_classes, "visits", task_inferred=True)["warnings"]]
    assert any("upload it as a regression" in message for message in said)
    assert read_csv(content, "visits", task=TaskType.REGRESSION).task is TaskType.REGRESSION


def test_a_class_of_few_rows_says_how_many_folds_it_allows():
    rows = "\n".join(f"{i},{'rare' if i < 3 else 'common'}" for i in range(40))
    table = read_csv(f"x,kind\n{rows}\n".encode(), "kind")
    said = [w["message"] for w in profile_of(table, "kind")["warnings"]]
    assert "class 'rare' has only 3 rows: every fold needs one of them, so at most 3 folds" in said


def test_rows_without_a_target_are_counted_and_said():
    frame = customers(100)
    frame.loc[:9, "churn"] = None
    table = read_csv(frame.to_csv(index=False).encode(), "churn")
    profile = profile_of(table, "churn")
    assert table.n_unlabelled == 10 and len(table.y) == 90
    assert any("10 rows have no target value" in w["message"] for w in profile["warnings"])


def test_roles_default_to_the_profile_and_are_checked_against_it():
    _, profile = churn_profile()
    assert resolve_roles(profile, None) == default_roles(profile)

    chosen = resolve_roles(profile, {"ignore": ["city"], "group": "region", "time": None})
    assert chosen == {"ignore": ["city"], "group": "region", "time": None}
    features = feature_columns(profile, chosen)
    assert "customer_id" in features.numeric  # kept: the user chose to
    assert "region" not in features.names and "city" not in features.names
    assert features.dates == {"signup_date": "%Y-%m-%d"}
    assert features.boolean == ["has_promo"]

    # A grouping column left out as well is simply not a feature.
    grouped = resolve_roles(profile, {"ignore": ["customer_id"], "group": "customer_id"})
    assert grouped["ignore"] == [] and grouped["group"] == "customer_id"


@pytest.mark.parametrize(
    ("requested", "field", "reason"),
    [
        ({"ignore": ["nope"]}, "columns.ignore", "no feature column named 'nope'"),
        ({"group": "nope"}, "columns.group", "no feature column named"),
        ({"time": "plan"}, "columns.time", "not dates or numbers"),
        ({"time": "tenure_months"}, "columns.time", "missing values"),
        ({"group": "signup_date", "time": "signup_date"}, "columns.time", "both group and order"),
    ],
)
def test_bad_roles_are_refused_naming_the_role(requested, field, reason):
    _, profile = churn_profile()
    with pytest.raises(InvalidInput) as caught:
        resolve_roles(profile, requested)
    assert caught.value.field == field and reason in caught.value.reason


def test_leaving_out_every_column_is_refused():
    _, profile = churn_profile()
    everything = [c["name"] for c in profile["columns"]]
    with pytest.raises(InvalidInput, match="no feature column is left"):
        resolve_roles(profile, {"ignore": everything})


def test_group_splits_never_split_a_group_and_equal_stratified_group_k_fold():
    table, profile = churn_profile()
    roles = resolve_roles(profile, {"group": "city"})
    pipeline = build_pipeline("LogisticRegression", profile=profile, roles=roles)
    splits = make_splits(4, table, pipeline, profile=profile, roles=roles)

    groups = table.X["city"].fillna("(missing)").astype(str).to_numpy()
    for train, test in splits:
        assert not set(groups[train]) & set(groups[test])
    expected = StratifiedGroupKFold(4).split(table.X, table.y, groups)
    for (train, test), (want_train, want_test) in zip(splits, expected, strict=True):
        assert np.array_equal(train, want_train) and np.array_equal(test, want_test)


def test_time_splits_train_only_on_the_past():
    table, profile = churn_profile()
    roles = resolve_roles(profile, {"time": "signup_date"})
    pipeline = build_pipeline("Ridge", profile=profile, roles=roles)
    splits = make_splits(4, table, pipeline, profile=profile, roles=roles)

    dates = pd.to_datetime(table.X["signup_date"])
    assert len(splits) == 4
    for train, test in splits:
        assert dates.iloc[train].max() <= dates.iloc[test].min()
        assert len(set(train) & set(test)) == 0


# Every estimator fits for a third of a second here: the fast tier takes one of each kind of
# preprocessing (scaled and one-hot, trees on ordinals, HistGradientBoosting's categories).
IN_FAST_TIER = {
    "LogisticRegression",
    "Ridge",
    "RandomForestClassifier",
    "HistGradientBoostingRegressor",
}


@pytest.mark.parametrize(
    "name",
    [pytest.param(n, marks=() if n in IN_FAST_TIER else pytest.mark.slow) for n in ESTIMATORS],
)
def test_every_estimator_scores_on_messy_data_with_default_roles(name):
    spec = ESTIMATORS[name]
    content, target = (
        (churn_csv(150), "churn")
        if spec.task is TaskType.CLASSIFICATION
        else (spend_csv(150), "spend_next_year")
    )
    table = read_csv(content, target)
    profile = profile_of(table, target)
    roles = default_roles(profile)
    pipeline = build_pipeline(name, random_state=0, profile=profile, roles=roles)
    splits = make_splits(3, table, pipeline, profile=profile, roles=roles)
    few = {"n_estimators": 5, "max_iter": 10}  # trees and boosting rounds: the wiring, fast
    fast = {name: value for name, value in few.items() if name in spec.params}
    result = evaluate_candidate(
        pipeline, fast, table, splits, "r2" if target != "churn" else "f1_macro"
    )
    assert result.error is None, result.error
    assert np.isfinite(result.mean_test_score)


def test_a_fitted_pipeline_needs_no_left_out_column_and_reads_dates_as_numbers():
    table, profile = churn_profile()
    roles = default_roles(profile)
    pipeline = build_pipeline("HistGradientBoostingClassifier", profile=profile, roles=roles)
    pipeline.set_params(model__max_iter=10).fit(table.X, table.y)
    new_rows = table.X.drop(columns=["customer_id", "account_code", "country"]).head(5)
    assert len(pipeline.predict(new_rows)) == 5

    names = list(pipeline[:-1].get_feature_names_out())
    assert "date0__signup_date_year" in names and "date0__signup_date_days" in names
    assert not any(name.startswith("categorical__signup_date") for name in names)
    n_city = sum(name.startswith("categorical__city") for name in names)
    assert n_city == 1  # one ordinal column, HistGradientBoosting's native categories
    onehot = build_pipeline("LogisticRegression", profile=profile, roles=roles)
    onehot_names = list(onehot[:-1].fit(table.X, table.y).get_feature_names_out())
    assert sum(name.startswith("categorical__city") for name in onehot_names) <= 20


@pytest.mark.slow
def test_the_search_equals_gridsearchcv_with_the_same_pipeline_and_group_splitter():
    table, profile = churn_profile()
    roles = resolve_roles(profile, {"group": "region"})
    pipeline = build_pipeline("LogisticRegression", random_state=0, profile=profile, roles=roles)
    splits = make_splits(3, table, pipeline, profile=profile, roles=roles)
    grid = {"C": [0.1, 1.0]}
    ours = [
        evaluate_candidate(pipeline, {"C": c}, table, splits, "roc_auc").split_scores
        for c in grid["C"]
    ]
    search = GridSearchCV(pipeline, pipeline_params(grid), cv=splits, scoring="roc_auc").fit(
        table.X, table.y
    )
    for i, scores in enumerate(ours):
        assert scores == [search.cv_results_[f"split{k}_test_score"][i] for k in range(3)]


def test_time_splits_equal_timeseriessplit_on_rows_sorted_by_time():
    table, profile = churn_profile()
    roles = resolve_roles(profile, {"time": "signup_date"})
    pipeline = build_pipeline("Ridge", profile=profile, roles=roles)
    splits = make_splits(3, table, pipeline, profile=profile, roles=roles)
    order = np.argsort(pd.to_datetime(table.X["signup_date"]).to_numpy(), kind="stable")
    for (train, test), (want_train, want_test) in zip(
        splits, TimeSeriesSplit(3).split(order), strict=True
    ):
        assert np.array_equal(train, order[want_train]) and np.array_equal(test, order[want_test])


def test_a_profile_is_json():
    _, profile = churn_profile()
    assert json.loads(json.dumps(profile)) == profile
