"""Schema management on a Database: sync, version, check (SPEC 14)."""

from __future__ import annotations

from glancedb.core import DatabaseCore
from glancedb.models import metadata


class SchemaAPI(DatabaseCore):
    """Schema management on a Database: sync, version, check (SPEC 14)."""

    def db_sync(self) -> None:
        """Bring the schema to the head revision (as ``glancedb db sync``)."""
        # TEMPORARY bootstrap until the Alembic migrations land (issue 2):
        # replaced by the migration-based implementation.
        metadata.create_all(self.engine)
