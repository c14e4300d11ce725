"""glancedb's Alembic migrations (driven by :mod:`glancedb.migration`).

The scripts live in this package so that no ``alembic.ini`` is needed: the
configuration is built in code.  glancedb records its revision in its own
version table, ``glancedb_version``; Glance's ``alembic_version`` is never
read or written by these migrations.

Adding a revision (always additive: a Glance server may share the
database; change the models in the same commit)::

    from alembic import command
    from glancedb.migration import alembic_config

    with engine.connect() as conn:  # a database synced to the current head
        command.revision(alembic_config(conn), "add ix_...", rev_id="0002_...",
                         autogenerate=True)

Revision 1 must never change: it is Glance's 2024.1 schema.
"""

#: glancedb's own Alembic version table (Glance's is ``alembic_version``).
VERSION_TABLE = "glancedb_version"
