"""The database: engine, sessions, and schema migrations (Alembic).

SQLite is the embedded default (WAL, foreign keys on, a busy timeout so that
two processes can take turns); PostgreSQL is production. The same code and the
same migrations run on both.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import Session, create_engine

from dispatch.store.config import DEV_AUDIT_KEY, Settings

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
#: connections kept open, and opened on demand beyond them (closed when handed back)
POOL = {"pool_size": 10, "max_overflow": 30}
POOL_CONNECTIONS = POOL["pool_size"] + POOL["max_overflow"]


def make_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite gets WAL, foreign keys and a busy timeout.

    ``hide_parameters``: a database error's text (and SQL logging) leaves out the bound values, which can
    be a patient's name or address.

    The pool holds up to :data:`POOL_CONNECTIONS`: one for each thread of the API's worker pool
    (AnyIO's default is 40), so a thread running a request never waits for a connection.
    """
    if url.startswith("sqlite"):
        pool = {} if ":memory:" in url else POOL
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30}, hide_parameters=True, **pool
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(connection, _record):  # type: ignore[no-untyped-def]
            cursor = connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            if ":memory:" not in url:
                cursor.execute("PRAGMA journal_mode=WAL")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True, hide_parameters=True, **POOL)


#: the key of engines nobody registered one for: what the development settings use (production refuses it)
_KEYS: weakref.WeakKeyDictionary[Engine, bytes] = weakref.WeakKeyDictionary()


def use_key(engine: Engine, key: str) -> None:
    """Hash the audit events written through ``engine`` with ``key`` (``[audit] key``)."""
    _KEYS[engine] = key.encode()


def key_of(session: Session) -> bytes:
    bind = session.get_bind()
    engine = bind if isinstance(bind, Engine) else bind.engine
    return _KEYS.get(engine, DEV_AUDIT_KEY.encode())


def engine_for(settings: Settings, url: str | None = None) -> Engine:
    """An engine for ``url`` (default: ``[database] url``) whose audit events are keyed with ``[audit] key``."""
    engine = make_engine(url or settings.database.url)
    use_key(engine, settings.audit.key)
    return engine


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def migrate(engine: Engine) -> None:
    """Bring the schema up to the latest migration.

    On SQLite, foreign keys are not enforced while migrating: SQLite alters a table by copying it,
    dropping the original and renaming the copy, and with enforcement on, dropping a table that
    other rows point at fails. The pragma only takes effect outside a transaction, so it is set on
    the connection before the migration's transaction begins, and checked before it commits.
    """
    config = alembic_config(engine.url.render_as_string(hide_password=False))
    sqlite = engine.dialect.name == "sqlite"
    with engine.connect() as connection:
        if sqlite:
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
            connection.commit()  # SQLAlchemy's bookkeeping: the pragma itself ran outside a transaction
        try:
            with connection.begin():
                config.attributes["connection"] = connection
                command.upgrade(config, "head")
                if sqlite and connection.exec_driver_sql("PRAGMA foreign_key_check").first() is not None:
                    raise RuntimeError("the migration left rows pointing at rows that do not exist")
        finally:
            if sqlite:
                connection.exec_driver_sql("PRAGMA foreign_keys=ON")
                connection.commit()


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A session that commits on success and rolls back on any error."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
