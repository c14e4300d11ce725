"""Schema management on a Database: sync, version, check, upgrade, downgrade (SPEC 14).

Each method is what one ``glancedb db ...`` command does; the command line
only prints what they return.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from glancedb import migration
from glancedb.migration import SyncAction
from glancedb.transactions import DatabaseCore


@dataclass(frozen=True)
class Revisions:
    """Where a database stands: glancedb's revision, the newest one, Glance's."""

    #: glancedb's revision of the database; None when glancedb does not manage it.
    current: str | None
    #: The newest revision of this glancedb version's migrations.
    head: str
    #: The revision in Glance's own ``alembic_version``; None when absent.
    glance: str | None


class SchemaAPI(DatabaseCore):
    """Schema management on a Database: sync, version, check, upgrade, downgrade."""

    def db_sync(self, progress: Callable[[str], None] | None = None) -> SyncAction:
        """Bring the schema to the head revision (as ``glancedb db sync``).

        An empty database gets the whole schema; a database created by Glance
        (revision ``2024_1_contract01``) is checked and adopted without
        changing its rows; a glancedb database is upgraded.  glancedb's
        indexes are built without blocking writes (PostgreSQL, MySQL), so a
        Glance server can keep using the database meanwhile.  Returns what
        was done: ``created``, ``adopted``, ``upgraded`` or ``current``.

        :param progress: called with a line of text for each step of a long
            index build (what is built, and how far it is where the database
            reports it).
        :raises SchemaError: the database cannot be adopted (another Glance
            revision, or a schema that drifted).
        """
        return migration.sync(self.engine, progress=progress)

    def db_version(self) -> str | None:
        """The glancedb revision of the database, None when glancedb does not manage it."""
        return migration.current_revision(self.engine)

    def db_revisions(self) -> Revisions:
        """The database's glancedb revision, the head revision and Glance's revision."""
        return Revisions(
            current=migration.current_revision(self.engine),
            head=migration.head_revision(),
            glance=migration.glance_revision(self.engine),
        )

    def db_check(self) -> list[str]:
        """What keeps the schema from being current, one line each; empty when it is.

        Reports a missing or outdated glancedb revision and every difference
        between the live schema and glancedb's models (see
        :func:`glancedb.migration.compare_schema`).
        """
        return migration.check(self.engine)

    def db_upgrade(
        self, revision: str = "head", progress: Callable[[str], None] | None = None
    ) -> str | None:
        """Upgrade the schema to ``revision`` (default: head); return the new revision.

        :param progress: as for :meth:`db_sync`.
        """
        migration.upgrade(self.engine, revision, progress=progress)
        return migration.current_revision(self.engine)

    def db_downgrade(
        self, revision: str, progress: Callable[[str], None] | None = None
    ) -> str | None:
        """Downgrade the schema to ``revision``; return the new revision (None at base).

        ``base`` removes glancedb's schema; on a database Glance shares it
        only removes glancedb's stamp and additions: Glance's tables and rows
        stay.

        :param progress: as for :meth:`db_sync` (MySQL/MariaDB: narrowing the
            timestamps copies each large table).
        """
        migration.downgrade(self.engine, revision, progress=progress)
        return migration.current_revision(self.engine)
