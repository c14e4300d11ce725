"""MySQL/MariaDB: index the name and size orders of images on the plain columns.

Revision ID: 0008_mysql_images_sort_order
Revises: 0007_image_properties_btree

Revision 0006 gave SQLite and PostgreSQL an index on each nullable sort
expression (``COALESCE(name, '')``); MySQL and MariaDB cannot index an
expression, so there a page sorted by name or size read and sorted every
matching image (3.4 s for an admin's first page at a million images,
8.9 s for a tenant's).  These indexes are on the plain columns followed by
the tie-breakers, ``(name, created_at, id)`` and ``(size, created_at, id)``:
a sorted page on MySQL/MariaDB reads the images with a value by walking one
in the page's order and those without one (NULL, which sorts as the empty
value) by walking its NULL entries in (created_at, id) order, each stopping
after ``limit`` matches (see :mod:`glancedb.images.listing`).

Additive and harmless to a Glance server sharing the database: two indexes
named with glancedb's prefix (the names of their SQLite/PostgreSQL
counterparts), built online (``ALGORITHM=INPLACE, LOCK=NONE``).  Elsewhere
this revision does nothing.
"""

from __future__ import annotations

from alembic import op

from glancedb.migrations.online import create_index, drop_index

revision = "0008_mysql_images_sort_order"
down_revision = "0007_image_properties_btree"
branch_labels = None
depends_on = None

INDEXES = {
    "ix_glancedb_images_name_order": "name",
    "ix_glancedb_images_size_order": "size",
}
DIALECTS = ("mysql", "mariadb")


def upgrade() -> None:
    if op.get_context().dialect.name not in DIALECTS:
        return
    for name, column in INDEXES.items():
        create_index(name, "images", [column, "created_at", "id"])


def downgrade() -> None:
    if op.get_context().dialect.name not in DIALECTS:
        return
    for name in INDEXES:
        drop_index(name, "images")
