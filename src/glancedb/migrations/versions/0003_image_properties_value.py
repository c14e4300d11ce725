"""Index image_properties by (name, value): property filters of a listing.

Revision ID: 0003_image_properties_value
Revises: 0002_image_members_member

A listing filtered on a rare property value (``build_id=...``) otherwise
walks every image and probes its properties.  The index differs by backend:

- SQLite: ``(name, value)``.
- MySQL: ``(name, value(255))``, a prefix index, since ``value`` is TEXT.
- PostgreSQL: ``(name, value)``, *partial*: over the values shorter than
  1000 bytes.  A B-tree entry is limited to about 2.7 kB, so an index holding
  every value would make PostgreSQL reject any property with a longer
  (incompressible) value -- for Glance too, and already while building the
  index if such a row exists.  Name and value are strongly correlated
  (``fedora`` is only ever an ``os_distro``), which PostgreSQL underestimates
  tenfold without multi-column statistics, so they are created too
  (``ANALYZE``, which ``glancedb db sync`` runs, fills them).

  Earlier versions of this revision built a hash index on ``value`` instead;
  revision 0007 replaces it where it exists (measured: docs/performance.md),
  and this revision's downgrade drops either.

Additive and harmless to a Glance server sharing the database: one index
(and a statistics object), named with glancedb's prefix, built online.
"""

from __future__ import annotations

from alembic import op

from glancedb.migrations.online import create_index, drop_index

revision = "0003_image_properties_value"
down_revision = "0002_image_members_member"
branch_labels = None
depends_on = None

INDEX = "ix_glancedb_image_properties_name_value"
#: The hash index earlier versions of this revision built on PostgreSQL.
POSTGRESQL_HASH_INDEX = "ix_glancedb_image_properties_value"
STATISTICS = "st_glancedb_image_properties_name_value"
#: The values PostgreSQL's index holds (written out: a revision never changes).
POSTGRESQL_INDEXED = "octet_length(value) < 1000"


def upgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        create_index(
            INDEX, "image_properties", ["name", "value"], postgresql_where=POSTGRESQL_INDEXED
        )
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
        drop_index(POSTGRESQL_HASH_INDEX, "image_properties")
    drop_index(INDEX, "image_properties")
