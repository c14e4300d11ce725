"""PostgreSQL: replace the hash index on image_properties.value by the B-tree.

Revision ID: 0007_image_properties_btree
Revises: 0006_images_sort_order

Revision 0003 used to index ``image_properties.value`` on PostgreSQL with a
hash index (a B-tree entry cannot exceed about 2.7 kB, and a longer property
value would then fail to insert); it now builds a partial B-tree on (name,
value) over the values shorter than 1000 bytes.  Measured at a million
images (ten million property rows, values like ``virtio`` a million times
each; docs/performance.md): the hash index took 1238 s to build and 409 MB,
and inserting a common value cost 1.7 ms against 1.1 ms for a unique one - a
hash bucket holding one value a million times is a long overflow chain -
where the deduplicated B-tree builds in 16 s, takes 178 MB and inserts any
value in 0.4 ms.

This revision brings a database that 0003 gave the hash index to the same
state: the B-tree built (online) and the hash index dropped (concurrently).
Elsewhere it does nothing.  Its downgrade does nothing either: the state it
leaves is what 0003 builds today.
"""

from __future__ import annotations

from alembic import op

from glancedb.migrations.online import create_index, drop_index

revision = "0007_image_properties_btree"
down_revision = "0006_images_sort_order"
branch_labels = None
depends_on = None

BTREE = "ix_glancedb_image_properties_name_value"
HASH = "ix_glancedb_image_properties_value"
#: The values the B-tree holds (written out: a revision never changes).
INDEXED = "octet_length(value) < 1000"


def upgrade() -> None:
    if op.get_context().dialect.name != "postgresql":
        return
    # Kept when it exists: then 0003 built it and there is no hash index.
    create_index(BTREE, "image_properties", ["name", "value"], postgresql_where=INDEXED)
    drop_index(HASH, "image_properties")


def downgrade() -> None:
    """Nothing to undo: revision 0003 builds the same index now."""
