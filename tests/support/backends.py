"""Test databases: where each backend lives and how to reset it.

The server URLs come from ``GLANCEDB_TEST_POSTGRESQL_URL`` and
``GLANCEDB_TEST_MYSQL_URL`` (defaults: the local servers, database
``glancedb_test``).  A backend whose server cannot be reached is skipped
locally; with ``CI=true`` that is a failure instead.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import URL, create_engine, event, text
from sqlalchemy.engine import Engine

from glancedb.database import Database
from glancedb.engines import normalize_url
from glancedb.models.tables import DELETE_ORDER

BACKENDS = ("sqlite", "postgresql", "mysql")

DEFAULT_URLS = {
    "postgresql": "postgresql+psycopg://postgres@127.0.0.1:5432/glancedb_test",
    "mysql": "mysql+pymysql://root@127.0.0.1:3306/glancedb_test",
}


def in_ci() -> bool:
    """Whether the tests run under CI, where every backend must run."""
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def server_url(backend: str, database: str | None = None) -> URL:
    """The URL of ``backend``'s test database (or of another database there)."""
    env = os.environ.get(f"GLANCEDB_TEST_{backend.upper()}_URL")
    url = normalize_url(env or DEFAULT_URLS[backend])
    if database is not None:
        url = url.set(database=database)
    return url


def _admin_engine(url: URL) -> Engine:
    if url.get_backend_name() == "postgresql":
        admin = url.set(database="postgres")
    else:
        admin = url.set(database="")
    return create_engine(admin, isolation_level="AUTOCOMMIT")


def recreate_database(url: URL) -> None:
    """Drop and create the (server) database ``url`` names, empty."""
    engine = _admin_engine(url)
    name = url.database
    try:
        with engine.connect() as conn:
            if url.get_backend_name() == "postgresql":
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                conn.execute(text(f'CREATE DATABASE "{name}"'))
            else:
                conn.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
                conn.execute(text(f"CREATE DATABASE `{name}` CHARACTER SET utf8"))
    finally:
        engine.dispose()


def check_reachable(backend: str) -> str | None:
    """None if ``backend``'s server answers, else the reason it does not."""
    if backend == "sqlite":
        return None
    engine = _admin_engine(server_url(backend))
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:
        return f"{backend} server unreachable at {server_url(backend)!r}: {exc}".splitlines()[0]
    finally:
        engine.dispose()
    return None


def make_database(backend: str, tmp_dir: str, name: str = "glancedb_test") -> Database:
    """A :class:`Database` on a fresh, empty database of ``backend`` (schema not synced)."""
    if backend == "sqlite":
        path = os.path.join(tmp_dir, f"{name}.sqlite")
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(path + suffix):
                os.remove(path + suffix)
        return Database(f"sqlite:///{path}")
    url = server_url(backend)
    if name != "glancedb_test":
        url = url.set(database=f"{url.database}_{name}")
    recreate_database(url)
    return Database(url)


def clear_tables(db: Database) -> None:
    """Delete every row of every glancedb table (children first)."""
    with db.engine.begin() as conn:
        for table in DELETE_ORDER:
            conn.execute(table.delete())


class StatementCounter:
    """Counts the SQL statements an engine executes while active."""

    def __init__(self) -> None:
        self.statements: list[str] = []

    @property
    def count(self) -> int:
        return len(self.statements)

    def _on_execute(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        self.statements.append(statement)


@contextmanager
def count_statements(db: Database) -> Iterator[StatementCounter]:
    """Count the statements ``db`` executes in the block (BEGIN excluded)."""
    counter = StatementCounter()
    event.listen(db.engine, "before_cursor_execute", counter._on_execute)
    try:
        yield counter
    finally:
        event.remove(db.engine, "before_cursor_execute", counter._on_execute)
    counter.statements = [
        s for s in counter.statements if not s.strip().upper().startswith("BEGIN")
    ]
