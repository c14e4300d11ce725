"""MySQL/MariaDB: index each page order of images with what the visibility test reads.

Revision ID: 0010_mysql_images_walk
Revises: 0009_image_members_access

InnoDB keeps a table's rows in primary-key order, and Glance's image ids are
random UUIDs: a page walking an order index (``created_at_image_idx``, or
revision 0008's ``(name, created_at, id)`` and ``(size, created_at, id)``)
read each walked image from a random place of the table to test whether
the context may see it, and a tenant's page walks some thousands of images
to find 25 it may see.  At a million images those reads were most of the
page.  These indexes hold each order followed by every column that test
reads (``deleted, status, visibility, owner``), so a page's walk reads the
index alone and only the page's own images come from the table
(:mod:`glancedb.images.listing`: the walk is a derived table of ids).
Measured at a million images (docs/performance.md): a tenant's tag page
33-37 -> 15-17 ms.

The name and size indexes supersede revision 0008's, their prefixes, which
are dropped once these are built.  Built online (``ALGORITHM=INPLACE,
LOCK=NONE``) and named with glancedb's prefix: harmless to a Glance server
sharing the database.  Elsewhere this revision does nothing: PostgreSQL and
SQLite store rows in insertion order, close to ``created_at`` order.
"""

from __future__ import annotations

from glancedb.migrations.online import replace_indexes

revision = "0010_mysql_images_walk"
down_revision = "0009_image_members_access"
branch_labels = None
depends_on = None

#: What a regular context's visibility test reads of an image.
VISIBILITY = ["deleted", "status", "visibility", "owner"]
INDEXES = {
    "ix_glancedb_images_walk": ["created_at", "id", *VISIBILITY],
    "ix_glancedb_images_name_walk": ["name", "created_at", "id", *VISIBILITY],
    "ix_glancedb_images_size_walk": ["size", "created_at", "id", *VISIBILITY],
}
#: Revision 0008's indexes, which the name and size ones supersede.
SUPERSEDED = {
    "ix_glancedb_images_name_order": ["name", "created_at", "id"],
    "ix_glancedb_images_size_order": ["size", "created_at", "id"],
}
DIALECTS = ("mysql", "mariadb")


def upgrade() -> None:
    replace_indexes("images", INDEXES, SUPERSEDED, dialects=DIALECTS)


def downgrade() -> None:
    replace_indexes("images", SUPERSEDED, INDEXES, dialects=DIALECTS)
