"""Settings: one pydantic-settings class, read from the environment and `.env`."""

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def embedded_socket(data_dir: Path) -> Path:
    """Where the embedded Redis listens for a data folder: the one place that says so."""
    return Path(data_dir) / "redis.sock"


def socket_url(socket: Path) -> str:
    """The broker URL of a Redis on a Unix socket, as kombu and redis-py read it."""
    return f"redis+socket://{socket}"


class Settings(BaseSettings):
    """Everything that differs between a laptop, CI and production."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    data_dir: Path = Field(
        default=PROJECT_ROOT / ".data", description="SQLite file, embedded Redis"
    )
    database_url: str | None = Field(default=None, description="SQLAlchemy URL; SQLite if unset")
    redis_url: str | None = Field(default=None, description="Broker and results; embedded if unset")

    max_candidates: int = Field(default=10_000, ge=1, description="Largest search a run may hold")
    max_upload_bytes: int = Field(default=50 * 1024 * 1024, ge=1, description="Largest CSV upload")
    max_request_bytes: int = Field(
        default=1024 * 1024, ge=1024, description="Largest API request body besides uploads"
    )
    max_cv_folds: int = Field(default=20, ge=2)

    # Quotas: what one user may hold at once (tuning.service.accounts.quotas). Over one is a
    # 429 (a 413 for upload bytes) that names the limit and the use; admins are exempt unless
    # QUOTAS_EXEMPT_ADMINS is false.
    max_active_runs_per_user: int = Field(
        default=5, ge=1, description="Tuning runs a user may have queued or running at once"
    )
    max_fits_per_run: int = Field(
        default=50_000, ge=1, description="Candidates x folds of one run (halving: on every row)"
    )
    max_upload_bytes_per_user: int = Field(
        default=500 * 1024 * 1024,
        ge=1,
        description="Bytes of a user's stored CSV uploads, archived ones too, until deleted",
    )
    max_notes_per_run: int = Field(default=100, ge=1, description="Notes on one tuning run")
    quotas_exempt_admins: bool = Field(default=True, description="Admins are held to no quota")

    run_time_limit_s: int = Field(default=24 * 3600, ge=1, description="Hard limit of one run")
    task_target_s: float = Field(
        default=1.0, gt=0, description="How long one task of a run should take: sets chunk sizes"
    )
    worker_timeout_s: float = Field(
        default=20.0, gt=0, description="A worker silent this long has lost the work it held"
    )
    heartbeat_s: float = Field(default=5.0, gt=0, description="How often a worker says it lives")
    reconcile_s: float = Field(default=10.0, gt=0, description="How often queue and database meet")
    send_timeout_s: float = Field(
        default=1.5, gt=0, description="Budget to hand a task to the broker before the outbox"
    )
    visibility_timeout_s: int = Field(
        default=3600, ge=60, description="Redis redelivers a task unacknowledged this long"
    )
    result_expires_s: int = Field(default=7 * 24 * 3600, ge=60)
    status_timeout_s: float = Field(default=0.5, gt=0, le=1.0, description="Celery read budget")

    api_host: str = "127.0.0.1"
    api_port: int = 8000
    dashboard_port: int = 8501
    # The dashboard listens here only, like the API; 0.0.0.0 serves every interface.
    dashboard_host: str = "127.0.0.1"
    browser_session_days: float = Field(
        default=7, gt=0, description="How long a dashboard sign-in lasts without signing in again"
    )
    cors_origins: list[str] = Field(default_factory=list)

    @property
    def sqlalchemy_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'tuning.db'}"

    @property
    def embedded_redis_socket(self) -> Path:
        return embedded_socket(self.data_dir)

    @property
    def broker_url(self) -> str:
        """`REDIS_URL` when set, else the project's own Redis on a Unix socket under `.data/`."""
        if self.redis_url:
            return self.redis_url
        return socket_url(self.embedded_redis_socket)


@lru_cache
def get_settings() -> Settings:
    """The process's settings; transports call this once and pass the result down."""
    return Settings()
