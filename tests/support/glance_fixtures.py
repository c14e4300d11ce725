"""Glance's own schema dumps (``shared/glance-schema/``) and loading them.

The dumps are what Glance 2024.1's ``db sync`` creates on each backend; the
tests load one into an empty database to stand for a database Glance made.
"""

from __future__ import annotations

import re
from pathlib import Path

from sqlalchemy import Engine

from glancedb import Database
from tests.support.backends import make_database
from tests.support.data_files import SCHEMA_DIR

FIXTURE_FILES = {
    "sqlite": "glance-sqlite-schema.sql",
    "postgresql": "glance-postgresql-schema.sql",
    "mysql": "glance-mysql-schema.sql",
}


def fixture_path(backend: str) -> Path:
    return SCHEMA_DIR / FIXTURE_FILES[backend]


def _statements(sql: str) -> list[str]:
    """The statements of a dump, without comments and session settings."""
    lines = [
        line
        for line in sql.splitlines()
        if line.strip() and not line.lstrip().startswith(("--", "/*"))
    ]
    statements = []
    for chunk in re.split(r";\s*$", "\n".join(lines), flags=re.MULTILINE):
        statement = chunk.strip()
        if not statement:
            continue
        if statement.upper().startswith("SET ") or statement.startswith("SELECT pg_catalog."):
            continue
        statements.append(statement)
    return statements


def load_glance_schema(engine: Engine, backend: str) -> None:
    """Create Glance's 2024.1 schema in the empty database of ``engine``."""
    sql = fixture_path(backend).read_text(encoding="utf-8")
    if backend == "sqlite":
        raw = engine.raw_connection()
        try:
            raw.driver_connection.executescript(sql)  # type: ignore[union-attr]
        finally:
            raw.close()
        return
    with engine.connect() as conn:
        if backend == "mysql":
            # The dump creates tables before the ones they reference; its own
            # FOREIGN_KEY_CHECKS=0 sits in a version comment we skip.
            conn.exec_driver_sql("SET FOREIGN_KEY_CHECKS=0")
        for statement in _statements(sql):
            conn.exec_driver_sql(statement)
        if backend == "mysql":
            conn.exec_driver_sql("SET FOREIGN_KEY_CHECKS=1")
        conn.commit()


class PristineDatabases:
    """Empty, unsynced databases on demand, cheaply.

    SQLite files and MySQL databases are simply re-created
    (:func:`tests.support.backends.make_database`); a PostgreSQL database is created
    once and then emptied by re-creating its ``public`` schema, which is much
    faster than ``DROP DATABASE`` + ``CREATE DATABASE``.
    """

    def __init__(self, backend: str, tmp_root: str) -> None:
        self.backend = backend
        self.tmp_root = tmp_root
        self._kept: dict[str, Database] = {}

    def get(self, name: str) -> Database:
        if self.backend != "postgresql":
            return make_database(self.backend, self.tmp_root, name=name)
        database = self._kept.get(name)
        if database is None:
            database = self._kept[name] = make_database(self.backend, self.tmp_root, name=name)
        else:
            database.dispose()
            with database.engine.begin() as conn:
                conn.exec_driver_sql("DROP SCHEMA public CASCADE")
                conn.exec_driver_sql("CREATE SCHEMA public")
        return database

    def release(self, database: Database) -> None:
        if database not in self._kept.values():
            database.dispose()

    def close(self) -> None:
        for database in self._kept.values():
            database.dispose()
