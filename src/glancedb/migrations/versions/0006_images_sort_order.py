"""Index the name and size orders of images: sorted pages walk an index.

Revision ID: 0006_images_sort_order
Revises: 0004_images_name

A listing sorted by a nullable column orders by ``COALESCE(column, empty)``
(see :mod:`glancedb.keyset`: a NULL counts as ``''`` or ``0``), which no
plain index serves, so a page sorted by name or size read and sorted every
matching image - O(table) at a million images.  An index on exactly that
expression, followed by the tie-breakers ``created_at`` and ``id``, lets the
page walk the index in either direction (first and later pages alike) and
stop after ``limit`` matches.  SQLite and PostgreSQL only: MySQL/MariaDB
cannot index an expression (MariaDB would need a generated column added to
Glance's table), so there a name- or size-sorted page still sorts its matches.

Additive and harmless to a Glance server sharing the database: two indexes,
named with glancedb's prefix, built without blocking writes.
"""

from __future__ import annotations

from alembic import op

from glancedb.migrations.online import create_index, drop_index

revision = "0006_images_sort_order"
down_revision = "0005_mysql_microseconds"
branch_labels = None
depends_on = None

INDEXES = {
    "ix_glancedb_images_name_order": "(coalesce(name, ''))",
    "ix_glancedb_images_size_order": "(coalesce(size, 0))",
}
DIALECTS = ("sqlite", "postgresql")


def upgrade() -> None:
    if op.get_context().dialect.name not in DIALECTS:
        return
    for name, expression in INDEXES.items():
        create_index(name, "images", [expression, "created_at", "id"])


def downgrade() -> None:
    if op.get_context().dialect.name not in DIALECTS:
        return
    for name in INDEXES:
        drop_index(name, "images")
