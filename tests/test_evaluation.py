"""A trained model's evaluation against scikit-learn's own metrics on the same model and rows,
its threshold, and new rows checked against its columns. Pure: no worker, no database."""

import copy
import io

import numpy as np
import pandas as pd
import pytest
import skops.io as sio
from sklearn.inspection import permutation_importance
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    f1_score,
    precision_recall_curve,
    precision_score,
    r2_score,
    recall_score,
    roc_auc_score,
    roc_curve,
)
from sklearn.model_selection import FixedThresholdClassifier

from tuning.errors import InvalidInput
from tuning.ml.columns import default_roles
from tuning.ml.datasets import Table, parse_csv, profile_of, read_csv
from tuning.ml.new_rows import check_rows, predict_rows, rows_from_json
from tuning.ml.scoring import make_run_scorer
from tuning.ml.thresholds import with_threshold
from tuning.ml.training import dump_model, split_rows, train_model

from messy import as_csv, churn_csv, customers, spend_csv

FOREST = {"n_estimators": 20, "max_depth": 4}


def _churn(**kwargs):
    table = read_csv(churn_csv(), "churn")
    profile = profile_of(table, "churn")
    trained = train_model(
        "RandomForestClassifier",
        FOREST,
        table,
        scoring="average_precision",
        pos_label="yes",
        random_state=3,
        profile=profile,
        roles=default_roles(profile),
        **kwargs,
    )
    return table, trained


@pytest.fixture(scope="module")
def churn():
    return _churn()


def _test_rows_of(table: Table, trained) -> tuple[pd.DataFrame, pd.Series]:
    _, test, _ = split_rows(table, None, 3)
    columns = [c["name"] for c in trained.evaluation["columns"]]
    return table.X[columns].iloc[test], table.y.iloc[test]


def test_the_figures_are_scikit_learns_on_the_same_model_and_rows(churn):
    table, trained = churn
    X_test, y_test = _test_rows_of(table, trained)
    evaluation, model = trained.evaluation, trained.model
    assert isinstance(model, FixedThresholdClassifier)
    predicted = model.predict(X_test)
    assert (
        evaluation["confusion_matrix"]
        == confusion_matrix(y_test, predicted, labels=["no", "yes"]).tolist()
    )
    assert evaluation["metrics"]["accuracy"] == accuracy_score(y_test, predicted)
    assert evaluation["metrics"]["f1"] == f1_score(y_test, predicted, pos_label="yes")
    assert evaluation["metrics"]["precision"] == precision_score(y_test, predicted, pos_label="yes")
    assert evaluation["metrics"]["recall"] == recall_score(y_test, predicted, pos_label="yes")
    assert evaluation["baseline"]["metrics"]["recall"] == 0.0  # always "no" finds no "yes"
    scores = model.predict_proba(X_test)[:, 1]
    assert evaluation["metrics"]["roc_auc"] == roc_auc_score(y_test == "yes", scores)
    scorer = make_run_scorer("average_precision", "yes")
    assert evaluation["metrics"]["average_precision"] == scorer(model, X_test, y_test)

    binary = evaluation["binary"]
    fpr, tpr, thresholds = roc_curve(y_test == "yes", scores)
    assert len(fpr) <= 300  # under the stored points: every one of them
    assert binary["roc"]["fpr"] == fpr.tolist() and binary["roc"]["tpr"] == tpr.tolist()
    assert binary["roc"]["thresholds"][1:] == thresholds[1:].tolist()  # the first is infinite
    precision, recall, pr_thresholds = precision_recall_curve(y_test == "yes", scores)
    assert binary["pr"]["precision"] == precision[:-1].tolist()
    assert binary["pr"]["recall"] == recall[:-1].tolist()
    assert binary["pr"]["thresholds"] == pr_thresholds.tolist()

    expected = permutation_importance(
        model, X_test, y_test, scoring=scorer, n_repeats=5, random_state=3
    )
    by_column = {c["column"]: c for c in evaluation["importance"]["columns"]}
    for position, column in enumerate(X_test.columns):
        assert by_column[column]["mean"] == expected.importances_mean[position]
        assert by_column[column]["std"] == expected.importances_std[position]
    # The original columns, never the one-hot levels nor the left-out ID.
    assert set(by_column) == set(X_test.columns) and "customer_id" not in by_column


def test_the_baseline_sits_beside_and_a_model_that_does_not_beat_it_is_told(churn):
    _, trained = churn
    evaluation = trained.evaluation
    assert evaluation["baseline"]["name"] == "always 'no' (the most frequent class)"
    share_no = evaluation["confusion_matrix"][0]
    n_no, n_test = sum(share_no), evaluation["n_test"]
    assert evaluation["baseline"]["metrics"]["accuracy"] == n_no / n_test
    base, model = evaluation["baseline"]["metrics"], evaluation["metrics"]
    worse = [m for m in base if m != "log_loss" and model[m] <= base[m]]
    for metric in worse:
        assert any(f"Its {metric}" in sentence for sentence in evaluation["verdict"])
    assert evaluation["test_set"]["kept_out_of_tuning"] is False
    assert "optimistic" in evaluation["test_set"]["note"]


def test_the_default_threshold_maximises_f1_and_moving_it_changes_the_predictions(churn):
    table, trained = churn
    X_test, y_test = _test_rows_of(table, trained)
    model = trained.model
    scores = model.predict_proba(X_test)[:, 1]
    precision, recall, thresholds = precision_recall_curve(y_test == "yes", scores)
    f1 = 2 * precision * recall / np.maximum(precision + recall, 1e-12)
    assert trained.threshold == thresholds[np.argmax(f1[:-1])]
    # Predicted "yes" exactly where the positive probability reaches the threshold.
    assert (model.predict(X_test) == np.where(scores >= trained.threshold, "yes", "no")).all()

    moved = with_threshold(trained.evaluation, 0.9)
    model = copy.deepcopy(model).set_params(threshold=0.9)
    predicted = model.predict(X_test)
    assert (predicted == np.where(scores >= 0.9, "yes", "no")).all()
    assert (
        moved["confusion_matrix"]
        == confusion_matrix(y_test, predicted, labels=["no", "yes"]).tolist()
    )
    assert moved["metrics"]["f1"] == f1_score(y_test, predicted, pos_label="yes", zero_division=0)
    assert moved["binary"]["threshold"] == 0.9
    assert moved["metrics"]["roc_auc"] == trained.evaluation["metrics"]["roc_auc"]


def test_the_file_applies_the_threshold_and_takes_the_raw_columns(churn):
    _, trained = churn
    file = dump_model(trained.model)
    untrusted = sio.get_untrusted_types(data=file)
    assert all(name.startswith(("numpy.", "sklearn.", "tuning.")) for name in untrusted)
    loaded = sio.load(io.BytesIO(file), trusted=untrusted)
    new = customers(40, seed=9).drop(columns=["churn", "customer_id"])  # no ID: not needed
    new = pd.read_csv(io.BytesIO(as_csv(new)))  # as an analyst reads the file
    scores = loaded.predict_proba(new)[:, 1]
    assert (loaded.predict(new) == np.where(scores >= trained.threshold, "yes", "no")).all()


def test_held_out_rows_are_the_test_rows_and_the_rest_train():
    _, trained = _churn(held_out=list(range(0, 300, 4)))
    assert trained.evaluation["test_set"] == {
        "kept_out_of_tuning": True,
        "n_train": 225,
        "n_test": 75,
        "note": "The tuning run's test set: 75 rows its cross-validation never saw.",
    }
    assert trained.evaluation["n_test"] == 75


def test_a_regression_has_its_points_and_the_mean_as_baseline():
    table = read_csv(spend_csv(), "spend_next_year")
    profile = profile_of(table, "spend_next_year")
    trained = train_model(
        "Ridge", {"alpha": 1.0}, table, profile=profile, roles=default_roles(profile)
    )
    evaluation = trained.evaluation
    _, test, _ = split_rows(table, None, 0)
    X_test = table.X[[c["name"] for c in evaluation["columns"]]].iloc[test]
    predicted = trained.model.predict(X_test)
    assert evaluation["metrics"]["r2"] == r2_score(table.y.iloc[test], predicted)
    assert evaluation["points"]["predicted"] == predicted.tolist()
    assert evaluation["baseline"]["name"].startswith("always the training rows' mean")
    assert evaluation["verdict"] == [] and trained.threshold is None


def test_several_classes_have_a_confusion_matrix_and_no_threshold():
    from tuning.ml.datasets import load_bundled

    trained = train_model("LogisticRegression", {"C": 1.0}, load_bundled("iris"))
    evaluation = trained.evaluation
    assert len(evaluation["confusion_matrix"]) == 3 and "binary" not in evaluation
    assert {"f1_macro", "roc_auc_ovr", "log_loss"} <= set(evaluation["metrics"])
    assert [row["support"] for row in evaluation["per_class"]] == [10, 10, 10]


# --- New rows against the model's columns --------------------------------------------------


def test_new_rows_drop_extra_columns_and_name_a_missing_one(churn):
    _, trained = churn
    columns = trained.evaluation["columns"]
    new = customers(10, seed=4)
    rows = check_rows(parse_csv(as_csv(new.assign(notes="x"))), columns, "churn")
    assert set(rows.dropped) == {
        "customer_id",
        "account_code",
        "country",
        "spend_next_year",
        "notes",
    }
    assert rows.y is not None and len(rows.y) == 10
    with pytest.raises(InvalidInput, match=r"needs the column.*'plan'"):
        check_rows(parse_csv(as_csv(new.drop(columns=["plan"]))), columns, "churn")


def test_a_value_of_the_wrong_kind_is_named_with_its_column_and_row(churn):
    _, trained = churn
    columns = trained.evaluation["columns"]
    new = customers(10, seed=4)
    new["monthly_spend"] = new["monthly_spend"].astype(object)
    new.loc[2, "monthly_spend"] = "lots"
    with pytest.raises(InvalidInput, match=r"'monthly_spend' holds numbers.*row 3 has 'lots'"):
        check_rows(parse_csv(as_csv(new)), columns, "churn")
    flags = rows_from_json([{**customers(1).iloc[0].to_dict(), "has_promo": "maybe"}])
    with pytest.raises(InvalidInput, match="'has_promo' holds True or False"):
        check_rows(flags, columns, "churn")


def test_an_empty_file_or_no_rows_is_refused(churn):
    _, trained = churn
    with pytest.raises(InvalidInput, match="empty"):
        parse_csv(b"  \n")
    header = as_csv(customers(3).head(0))
    with pytest.raises(InvalidInput, match="no rows"):
        check_rows(parse_csv(header), trained.evaluation["columns"], "churn")
    with pytest.raises(InvalidInput, match="no rows"):
        rows_from_json([])


def test_json_rows_predict_as_the_csv_does(churn):
    _, trained = churn
    new = customers(15, seed=8)
    columns = trained.evaluation["columns"]
    from_csv = check_rows(parse_csv(as_csv(new)), columns, "churn")
    records = parse_csv(as_csv(new)).to_dict(orient="records")
    from_json = check_rows(rows_from_json(records), columns, "churn")
    pd.testing.assert_frame_equal(
        predict_rows(trained.model, from_csv.X), predict_rows(trained.model, from_json.X)
    )
