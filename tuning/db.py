"""The database engine, sessions and migrations."""

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import ExceptionContext
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.pool import ConnectionPoolEntry
from sqlmodel import Session, SQLModel, create_engine

from tuning.config import Settings
from tuning.errors import StorageUnwritable
from tuning.storage import database_error

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"


def create_db_engine(settings: Settings) -> Engine:
    """An engine for `settings.sqlalchemy_url`; SQLite gets WAL mode and a busy timeout. A
    database that cannot be written raises `StorageUnwritable`, wherever the write was."""
    url = settings.sqlalchemy_url
    if not url.startswith("sqlite"):
        return _said_in_words(create_engine(url, pool_pre_ping=True), url)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = _said_in_words(
        create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}), url
    )

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
        cursor = dbapi_connection.cursor()
        # WAL lets the dashboard and API read while a worker writes trials.
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    return engine


def _said_in_words(engine: Engine, url: str) -> Engine:
    """Translate, in one place for every statement, commit and connect, a full or read-only
    database into `StorageUnwritable` (raised from the driver's error)."""

    @event.listens_for(engine, "handle_error")
    def _storage(context: ExceptionContext) -> StorageUnwritable | None:
        return database_error(context.original_exception, url=url)

    return engine


def insert_new(session: Session, table: type[SQLModel], rows: list[dict[str, Any]]) -> None:
    """INSERT the rows, skipping any that a unique key says is stored already.

    A second delivery of the same work then stores nothing twice and fails nothing.
    """
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    session.execute(insert(table).values(rows).on_conflict_do_nothing())


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A session that closes itself; callers commit what they mean to keep."""
    with Session(engine, expire_on_commit=False) as session:
        yield session


def alembic_config(settings: Settings) -> "Config":
    # Alembic (with Mako and Pygments) is imported here, by the one command that migrates, not
    # by every process that opens a session.
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", settings.sqlalchemy_url.replace("%", "%%"))
    return config


def upgrade_database(settings: Settings) -> None:
    """Apply every migration (creates the SQLite file under `.data/` on first use)."""
    if settings.sqlalchemy_url.startswith("sqlite"):
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    from alembic import command

    command.upgrade(alembic_config(settings), "head")
