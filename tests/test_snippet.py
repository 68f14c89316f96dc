"""The Python snippet of the best estimator is the workers' pipeline, written out."""

import re
from typing import Any

import pytest

from tuning.ml.columns import resolve_roles
from tuning.ml.datasets import profile_of, read_csv
from tuning.ml.search import build_pipeline, pipeline_params
from tuning.ml.snippet import reproduce_snippet

from messy import churn_csv


@pytest.mark.parametrize(
    ("estimator", "params"),
    [
        ("RandomForestClassifier", {"n_estimators": 50, "max_depth": None, "max_features": "sqrt"}),
        ("LogisticRegression", {"C": 0.1, "l1_ratio": 0.5}),
        ("HistGradientBoostingRegressor", {"learning_rate": 0.05, "loss": "absolute_error"}),
        ("LGBMClassifier", {"num_leaves": 15, "max_depth": None, "class_weight": "balanced"}),
    ],
)
def test_the_python_snippet_rebuilds_the_workers_pipeline(estimator, params):
    namespace: dict[str, Any] = {}
    exec(reproduce_snippet(estimator, params, random_state=7), namespace)

    expected = build_pipeline(estimator, random_state=7).set_params(**pipeline_params(params))

    def shown(pipeline: Any) -> str:  # column selectors print their address
        return re.sub(r" at 0x[0-9a-f]+", "", repr(pipeline))

    assert shown(namespace["model"]) == shown(expected)
    assert (
        namespace["model"].get_params()["model"].get_params()
        == expected.get_params()["model"].get_params()
    )


def test_the_snippet_imports_each_class_from_its_public_module():
    snippet = reproduce_snippet("LGBMRegressor", {"reg_lambda": 0.1}, random_state=0)
    assert "from lightgbm import LGBMRegressor\n" in snippet
    assert "from sklearn.pipeline import Pipeline\n" in snippet


def test_the_snippet_of_a_run_on_an_analysts_csv_fits_as_the_workers_do():
    table = read_csv(churn_csv(150), "churn")
    profile = profile_of(table, "churn")
    roles = resolve_roles(profile, {"ignore": ["customer_id", "account_code", "country"]})
    params = {"max_iter": 20, "learning_rate": 0.1}
    snippet = reproduce_snippet(
        "HistGradientBoostingClassifier", params, random_state=3, profile=profile, roles=roles
    )
    assert "tuning" not in snippet  # its own date transformer is written out
    namespace: dict[str, Any] = {}
    exec(snippet, namespace)

    expected = build_pipeline(
        "HistGradientBoostingClassifier", random_state=3, profile=profile, roles=roles
    ).set_params(**pipeline_params(params))
    fitted = namespace["model"].fit(table.X, table.y)
    assert list(fitted.predict_proba(table.X)[:, 1]) == list(
        expected.fit(table.X, table.y).predict_proba(table.X)[:, 1]
    )
