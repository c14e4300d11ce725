"""Index images(name): ``name`` filters of a listing (``in:a,b`` and equality).

Revision ID: 0004_images_name
Revises: 0003_image_properties_value

Glance has no index on ``images.name``; an ``in:`` name filter otherwise
walks the ``created_at`` index through every image.

Additive and harmless to a Glance server sharing the database: one new
index, named with glancedb's prefix.
"""

from __future__ import annotations

from glancedb.migrations.online import create_index, drop_index

revision = "0004_images_name"
down_revision = "0003_image_properties_value"
branch_labels = None
depends_on = None

INDEX = "ix_glancedb_images_name"


def upgrade() -> None:
    create_index(INDEX, "images", ["name"])


def downgrade() -> None:
    drop_index(INDEX, "images")
