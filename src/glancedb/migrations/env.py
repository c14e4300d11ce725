"""Alembic environment: runs glancedb's migrations on a given connection.

:mod:`glancedb.migration` puts an open :class:`~sqlalchemy.Connection` into
``config.attributes["connection"]``; for offline mode (the SQL script that
``glancedb db upgrade --sql`` prints) it puts the database's URL in
``config.attributes["url"]`` instead, which selects the SQL dialect.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from glancedb.migrations import VERSION_TABLE
from glancedb.models import metadata
from glancedb.schema_diff import include_object


def run_migrations() -> None:
    if context.is_offline_mode():
        context.configure(
            url=context.config.attributes["url"],
            target_metadata=metadata,
            version_table=VERSION_TABLE,
            include_object=include_object,
            literal_binds=True,
        )
        with context.begin_transaction():
            context.run_migrations()
        return
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
