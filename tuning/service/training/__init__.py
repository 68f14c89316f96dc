"""A final model: trained from a run's best candidate, stored, read back."""
