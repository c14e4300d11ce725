"""MySQL/MariaDB: index images(created_at, id, deleted, status, visibility, owner) for page walks.

Revision ID: 0010_mysql_images_walk
Revises: 0009_image_members_access

InnoDB keeps a table's rows in primary-key order, and Glance's image ids are
random UUIDs: a page walking ``created_at_image_idx`` reads each walked image
from a random place of the table, to test whether the context may see it,
and a tenant's page walks some thousands of images to find 25 it may see.
At a million images those reads were most of the page.  This index holds,
in the page's order, every column that test reads, so the page's walk reads
the index alone and only the page's own images come from the table
(:mod:`glancedb.images.listing`, the walk as a derived table).  Measured at
a million images (docs/performance.md): a tenant's tag page 31 -> 8 ms.

Additive and harmless to a Glance server sharing the database: one index
named with glancedb's prefix, built online (``ALGORITHM=INPLACE,
LOCK=NONE``).  Elsewhere this revision does nothing: PostgreSQL and SQLite
store rows in insertion order, close to ``created_at`` order.
"""

from __future__ import annotations

from alembic import op

from glancedb.migrations.online import create_index, drop_index

revision = "0010_mysql_images_walk"
down_revision = "0009_image_members_access"
branch_labels = None
depends_on = None

INDEX = "ix_glancedb_images_walk"
COLUMNS = ["created_at", "id", "deleted", "status", "visibility", "owner"]
DIALECTS = ("mysql", "mariadb")


def upgrade() -> None:
    if op.get_context().dialect.name not in DIALECTS:
        return
    create_index(INDEX, "images", COLUMNS)


def downgrade() -> None:
    if op.get_context().dialect.name not in DIALECTS:
        return
    drop_index(INDEX, "images")
