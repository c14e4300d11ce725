"""Engine creation: URL normalisation and per-backend connection setup."""

from __future__ import annotations

import os
from typing import Any

from sqlalchemy import URL, Engine, create_engine, event, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError
from sqlalchemy.pool import StaticPool

from glancedb.exception import DBConfigurationError

#: The environment variable naming the database when no URL is given.
DEFAULT_URL_ENV = "GLANCEDB_DATABASE_URL"
#: The embedded default: a SQLite file in the current directory.
EMBEDDED_URL = "sqlite:///glancedb.sqlite"


def default_url() -> str:
    """The URL used when none is given: ``$GLANCEDB_DATABASE_URL``, else the embedded file."""
    return os.environ.get(DEFAULT_URL_ENV) or EMBEDDED_URL


# Drivers glancedb ships extras for; a URL naming only the backend gets these.
_DEFAULT_DRIVERS = {
    "postgresql": "postgresql+psycopg",
    "postgres": "postgresql+psycopg",
    "mysql": "mysql+pymysql",
    "mariadb": "mariadb+pymysql",
}
_EXTRAS = {"postgresql": "postgresql", "mysql": "mysql", "mariadb": "mysql"}


def normalize_url(url: str | URL) -> URL:
    """Parse ``url`` and pick glancedb's driver when none is named.

    ``postgresql://`` becomes ``postgresql+psycopg://`` and ``mysql://``
    becomes ``mysql+pymysql://``; MySQL URLs get ``charset=utf8mb4`` unless
    they name a charset.
    """
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError) as exc:  # ValueError: a non-numeric port
        raise DBConfigurationError(f"Invalid database URL {str(url)!r}: {exc}") from None
    driver = _DEFAULT_DRIVERS.get(parsed.drivername)
    if driver is not None:
        parsed = parsed.set(drivername=driver)
    if parsed.get_backend_name() in ("mysql", "mariadb") and "charset" not in parsed.query:
        parsed = parsed.update_query_dict({"charset": "utf8mb4"})
    return parsed


def is_memory_sqlite(url: URL) -> bool:
    """Whether ``url`` is an in-memory SQLite database."""
    return url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:")


def create_glancedb_engine(url: str | URL, **engine_options: Any) -> Engine:
    """Create an engine configured the way glancedb needs it.

    SQLite: foreign keys on, WAL journal for files, ``BEGIN IMMEDIATE`` for
    writes (so that compare-and-swap updates serialise instead of failing),
    one shared connection for ``sqlite://``.  MySQL in strict ``TRADITIONAL``
    mode.  Dropped pooled connections are survived by retrying the call, not
    by pinging before every call.
    """
    parsed = normalize_url(url)
    backend = parsed.get_backend_name()
    options: dict[str, Any] = {}
    if backend == "sqlite":
        if is_memory_sqlite(parsed):
            options["poolclass"] = StaticPool
        options["connect_args"] = {"check_same_thread": False}
    # No pool pre-ping on PostgreSQL and MySQL: it costs a round trip on every
    # call, and a pooled connection the server has dropped already fails on
    # its first statement, before any commit - a transient failure after which
    # the call is retried on a new connection (glancedb.transactions).
    options.update(engine_options)
    try:
        engine = create_engine(parsed, **options)
    except NoSuchModuleError:
        raise DBConfigurationError(
            f"Unknown database dialect in URL {parsed.render_as_string(hide_password=True)!r}"
        ) from None
    except ModuleNotFoundError as exc:
        extra = _EXTRAS.get(backend, backend)
        raise DBConfigurationError(
            f"The database driver for {backend!r} is not installed ({exc.name}); "
            f"install it with: pip install 'glancedb[{extra}]'"
        ) from None
    except (ArgumentError, TypeError, ValueError) as exc:
        raise DBConfigurationError(f"Invalid database options: {exc}") from None
    if backend == "sqlite":
        _setup_sqlite(engine, file_backed=not is_memory_sqlite(parsed))
    elif backend in ("mysql", "mariadb"):
        _setup_mysql(engine)
    return engine


def _setup_sqlite(engine: Engine, *, file_backed: bool) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy (below) decide when transactions begin: pysqlite's own
        # implicit BEGIN comes too late for SELECT-then-UPDATE sequences.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        if file_backed:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        if connection.get_execution_options().get("glancedb_write"):
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            connection.exec_driver_sql("BEGIN")


def _setup_mysql(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("SET SESSION sql_mode = 'TRADITIONAL'")
        cursor.execute("SET SESSION time_zone = '+00:00'")
        cursor.close()
