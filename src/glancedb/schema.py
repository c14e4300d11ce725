"""Schema management on a Database: sync, version, check (SPEC 14)."""

from __future__ import annotations

from glancedb import migration
from glancedb.transactions import DatabaseCore


class SchemaAPI(DatabaseCore):
    """Schema management on a Database: sync, version, check (SPEC 14)."""

    def db_sync(self) -> None:
        """Bring the schema to the head revision (as ``glancedb db sync``).

        An empty database gets the whole schema; a database created by Glance
        (revision ``2024_1_contract01``) is checked and adopted without
        changing its rows; a glancedb database is upgraded.  Raises
        :class:`~glancedb.exception.SchemaError` when the database cannot be
        adopted (another Glance revision, or a schema that drifted).
        """
        migration.sync(self.engine)

    def db_version(self) -> str | None:
        """The glancedb revision of the database, None when glancedb does not manage it."""
        return migration.current_revision(self.engine)

    def db_check(self) -> list[str]:
        """What keeps the schema from being current, one line each; empty when it is.

        Reports a missing or outdated glancedb revision and every difference
        between the live schema and glancedb's models (see
        :func:`glancedb.migration.compare_schema`).
        """
        return migration.check(self.engine)
