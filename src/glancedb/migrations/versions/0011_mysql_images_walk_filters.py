"""MySQL/MariaDB: the walk indexes of images also hold the columns pages filter on most.

Revision ID: 0011_mysql_images_walk_filters
Revises: 0010_mysql_images_walk

Revision 0010 indexed each page order followed by what the visibility test
reads, so that a page's walk reads an index and not the (randomly placed)
rows.  A filter on any other column still read every walked row: a
tenant's page filtered ``disk_format=in:raw,iso`` took 8.95-9.34 ms at a
million images against 7.05-7.20 ms at 10k.  These indexes add
``os_hidden`` (Glance's hidden images), ``disk_format`` and
``container_format`` (filtered with ``in:``), a few bytes per image: the
same page then took 6.55-6.85 ms and 5.92-6.09 ms (docs/performance.md).

They supersede revision 0010's indexes, their prefixes, which are dropped
once these are built (built first, so pages always have one to walk).
Built online (``ALGORITHM=INPLACE, LOCK=NONE``) and named with glancedb's
prefix: harmless to a Glance server sharing the database.  Elsewhere this
revision does nothing (see revision 0010).
"""

from __future__ import annotations

from glancedb.migrations.online import replace_indexes

revision = "0011_mysql_images_walk_filters"
down_revision = "0010_mysql_images_walk"
branch_labels = None
depends_on = None

#: What a regular context's visibility test reads of an image.
VISIBILITY = ["deleted", "status", "visibility", "owner"]
#: The columns listing pages filter on most, after the visibility columns.
FILTERED = ["os_hidden", "disk_format", "container_format"]
ORDERS = {
    "": ["created_at", "id"],
    "name_": ["name", "created_at", "id"],
    "size_": ["size", "created_at", "id"],
}
INDEXES = {
    f"ix_glancedb_images_{prefix}walk_filters": [*order, *VISIBILITY, *FILTERED]
    for prefix, order in ORDERS.items()
}
#: Revision 0010's indexes, which these supersede.
SUPERSEDED = {
    f"ix_glancedb_images_{prefix}walk": [*order, *VISIBILITY] for prefix, order in ORDERS.items()
}
DIALECTS = ("mysql", "mariadb")


def upgrade() -> None:
    replace_indexes("images", INDEXES, SUPERSEDED, dialects=DIALECTS)


def downgrade() -> None:
    replace_indexes("images", SUPERSEDED, INDEXES, dialects=DIALECTS)
