"""glancedb's Alembic migrations (driven by :mod:`glancedb.migration`).

The scripts live in this package so that no ``alembic.ini`` is needed: the
configuration is built in code.  glancedb records its revision in its own
version table, ``glancedb_version``; Glance's ``alembic_version`` is never
read or written by these migrations.
"""

#: glancedb's own Alembic version table (Glance's is ``alembic_version``).
VERSION_TABLE = "glancedb_version"
