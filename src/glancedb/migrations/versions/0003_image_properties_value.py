"""Index image_properties by (name, value): property filters of a listing.

Revision ID: 0003_image_properties_value
Revises: 0002_image_members_member

A listing filtered on a rare property value (``build_id=...``) otherwise
walks every image and probes its properties.  The index differs by backend:

- SQLite: ``(name, value)``.
- MySQL: ``(name, value(255))``, a prefix index, since ``value`` is TEXT.
- PostgreSQL: a *hash* index on ``value``.  A B-tree entry is limited to
  about 2.7 kB, so a B-tree on ``value`` would make PostgreSQL reject any
  property with a longer (incompressible) value -- for Glance too, and
  already while building the index if such a row exists.  A hash index stores
  only a 4-byte hash, has no such limit, and answers ``value = ...``.  Name
  and value are strongly correlated (``fedora`` is only ever an
  ``os_distro``), which PostgreSQL underestimates tenfold without
  multi-column statistics, so they are created too (``ANALYZE``, which
  ``glancedb db sync`` runs, fills them).

Additive and harmless to a Glance server sharing the database: one index
(and a statistics object), named with glancedb's prefix.
"""

from __future__ import annotations

from alembic import op

from glancedb.migrations.online import create_index, drop_index

revision = "0003_image_properties_value"
down_revision = "0002_image_members_member"
branch_labels = None
depends_on = None

INDEX = "ix_glancedb_image_properties_name_value"
POSTGRESQL_INDEX = "ix_glancedb_image_properties_value"
STATISTICS = "st_glancedb_image_properties_name_value"


def upgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        create_index(POSTGRESQL_INDEX, "image_properties", ["value"], postgresql_using="hash")
        op.execute(
            f"CREATE STATISTICS IF NOT EXISTS {STATISTICS} (mcv, dependencies)"
            " ON name, value FROM image_properties"
        )
    else:
        create_index(
            INDEX,
            "image_properties",
            ["name", "value"],
            dialect_elements={"mysql": ["name", "value(255)"]},
        )


def downgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        op.execute(f"DROP STATISTICS IF EXISTS {STATISTICS}")
        drop_index(POSTGRESQL_INDEX, "image_properties")
    else:
        drop_index(INDEX, "image_properties")
