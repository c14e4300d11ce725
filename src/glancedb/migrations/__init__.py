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
        command.revision(alembic_config(conn), "add ix_glancedb_...",
                         rev_id="0005_...", autogenerate=True)

Revision 1 must never change: it is Glance's 2024.1 schema.  Revisions 2-4
add one listing index each (SPEC 3.4), named ``ix_glancedb_*`` so that no
Glance revision can clash with them; revision 5 widens MySQL's timestamp
columns to ``DATETIME(6)`` (SPEC 1.4, a no-op elsewhere).  An index whose shape differs by backend
is declared in the models once per shape, restricted with ``Index.ddl_if``;
the drift check honours that (autogenerate does not: edit its output).
"""

#: glancedb's own Alembic version table (Glance's is ``alembic_version``).
VERSION_TABLE = "glancedb_version"
