"""SQLite: the created_at walk index of images, as on MySQL/MariaDB.

Revision ID: 0012_sqlite_images_walk
Revises: 0011_mysql_images_walk_filters

A tenant's page walks images newest first and tests each one: is it live,
may this project see it (public, its own, or shared with it), does it pass
the usual filters.  On SQLite the walk read ``created_at_image_idx`` and
then each walked image's row from the table - a B-tree descent per image,
thousands of them for a tenant's filtered page.  This index holds the
order followed by every column those tests read (revision 0011's
``ix_glancedb_images_walk_filters``, same name, same columns), so SQLite
tests them from the index entry and seeks the row only for an image that
passed (its deferred seek): measured on the benchmark's catalogues, a
tenant's tag page 2.7 -> 2.1 ms at 10k and 3.8 -> 2.7 ms at a million
images (docs/performance.md).

Only the created_at order: a page sorted by name or size on SQLite walks
revision 0006's expression indexes, and the same columns after those gained
nothing measurable.  PostgreSQL's tenant pages already stay flat (its
membership test reads revision 0009's index once per page); MySQL has this
index since revision 0011.  Additive and harmless to a Glance server sharing
the file: named with glancedb's prefix.  SQLite has no online index build:
writers wait for it (under a second when a million-image file is adopted,
3.3 s when a cold one was upgraded by itself; docs/performance.md).
"""

from __future__ import annotations

from alembic import op

from glancedb.migrations.online import create_index, drop_index

revision = "0012_sqlite_images_walk"
down_revision = "0011_mysql_images_walk_filters"
branch_labels = None
depends_on = None

INDEX = "ix_glancedb_images_walk_filters"
#: The order, what a regular context's visibility test reads of an image,
#: then the columns listing pages filter on most (as revision 0011's).
COLUMNS = [
    "created_at",
    "id",
    "deleted",
    "status",
    "visibility",
    "owner",
    "os_hidden",
    "disk_format",
    "container_format",
]
DIALECTS = ("sqlite",)


def upgrade() -> None:
    if op.get_context().dialect.name not in DIALECTS:
        return
    create_index(INDEX, "images", COLUMNS)


def downgrade() -> None:
    if op.get_context().dialect.name not in DIALECTS:
        return
    drop_index(INDEX, "images")
