"""Alembic environment: runs glancedb's migrations on a given connection.

:mod:`glancedb.migration` puts an open :class:`~sqlalchemy.Connection` into
``config.attributes["connection"]``; there is no offline (SQL script) mode.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from glancedb.migrations import VERSION_TABLE
from glancedb.models import metadata
from glancedb.schema_diff import include_object


def run_migrations() -> None:
    connection = context.config.attributes.get("connection")
    if not isinstance(connection, Connection):
        raise RuntimeError(
            "glancedb migrations run through glancedb.migration, on a connection it passes in"
        )
    # One transaction per revision (not one for the whole run): a revision
    # that builds its indexes online commits its transaction and builds them
    # outside any (see glancedb.migrations.online).
    context.configure(
        connection=connection,
        target_metadata=metadata,
        version_table=VERSION_TABLE,
        include_object=include_object,
        compare_type=True,
        transaction_per_migration=True,
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations()
