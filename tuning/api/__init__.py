"""The REST API: thin FastAPI routes over tuning.service."""
