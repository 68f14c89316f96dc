"""Self-service hyperparameter tuning for scikit-learn estimators."""
