"""Pure scikit-learn code: the estimator catalog, datasets and the search. No database."""
