"""What the transports read: a run's summary and status, its trials."""
