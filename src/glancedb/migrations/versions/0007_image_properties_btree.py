"""PostgreSQL: property filters from a B-tree on (name, value), not a hash on value.

Revision ID: 0007_image_properties_btree
Revises: 0006_images_sort_order

Revision 0003 indexed ``image_properties.value`` on PostgreSQL with a hash
index (a B-tree entry cannot exceed about 2.7 kB, and a longer property value
would then fail to insert).  Measured at a million images (ten million
property rows, values like ``virtio`` a million times each; docs/PERFORMANCE.md):
a hash index takes many minutes to build - a hash bucket holding a value a
million times grows an overflow chain that every insert of that value walks,
so inserting a common value also costs several times a unique one - where a
B-tree on (name, value), deduplicated, builds in seconds and inserts any
value at the same cost.  The B-tree is partial, over the values shorter than
1000 bytes (every entry then fits, name included); a filter on a longer value
is the only one no index serves (glancedb.images.listing_properties adds the
predicate for the others, so the planner can use it).

Both built without blocking writes; downgrading builds the hash index back.
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
#: The values the B-tree holds (glancedb.models.images.PROPERTY_VALUE_INDEXED
#: as of this revision, written out: a revision never changes).
INDEXED = "octet_length(value) < 1000"


def upgrade() -> None:
    if op.get_context().dialect.name != "postgresql":
        return
    create_index(BTREE, "image_properties", ["name", "value"], postgresql_where=INDEXED)
    drop_index(HASH, "image_properties")


def downgrade() -> None:
    if op.get_context().dialect.name != "postgresql":
        return
    create_index(HASH, "image_properties", ["value"], postgresql_using="hash")
    drop_index(BTREE, "image_properties")
