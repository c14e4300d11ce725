"""PostgreSQL: the (name, value) index of image_properties also carries image_id and deleted.

Revision ID: 0012_image_properties_covering
Revises: 0011_mysql_images_walk_filters

Revision 0003's index finds a value's property rows, but every row found
was then read from the table for its ``image_id`` and ``deleted``.  A page
filtered on two values that are common but rare together (``os_distro=
fedora`` and ``os_version=7``: 200k and 67k rows at a million images, 374
images with both) is planned by PostgreSQL as a join of the two values'
rows, and reading those rows took nearly all of its time: 955 ms for a
tenant's page, 390 ms for an admin's.  With ``image_id`` and ``deleted`` in
the index entries (``INCLUDE``), the same statements read the index alone
(index-only scans): 55 and 49 ms (``python -m benchmarks.property_pair``,
docs/performance.md).  The price: the index takes about three times the
space (834 against 264 MiB at a million images) and builds in 12-18 s
instead of 10.

The new index is built concurrently, then 0003's is dropped concurrently:
writes are never blocked and queries always have one of the two.  The
downgrade does the reverse.  Elsewhere this revision does nothing: SQLite
gains nothing from it (its planner keeps probing through the unique
``(image_id, name)`` index) and MySQL/MariaDB cannot include a ``TEXT``
value whole, so their rows are read anyway.
"""

from __future__ import annotations

from alembic import op

from glancedb.migrations.online import create_index, drop_index

revision = "0012_image_properties_covering"
down_revision = "0011_mysql_images_walk_filters"
branch_labels = None
depends_on = None

COVERING = "ix_glancedb_image_properties_name_value_covering"
#: Revision 0003's index, which this one supersedes on PostgreSQL.
SUPERSEDED = "ix_glancedb_image_properties_name_value"
#: The values both indexes hold (written out: a revision never changes).
INDEXED = "octet_length(value) < 1000"


def upgrade() -> None:
    if op.get_context().dialect.name != "postgresql":
        return
    create_index(
        COVERING,
        "image_properties",
        ["name", "value"],
        postgresql_where=INDEXED,
        postgresql_include=["image_id", "deleted"],
    )
    drop_index(SUPERSEDED, "image_properties")


def downgrade() -> None:
    if op.get_context().dialect.name != "postgresql":
        return
    create_index(SUPERSEDED, "image_properties", ["name", "value"], postgresql_where=INDEXED)
    drop_index(COVERING, "image_properties")
