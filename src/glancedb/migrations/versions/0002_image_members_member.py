"""Index image_members(member, deleted): the shared-image membership check.

Revision ID: 0002_image_members_member
Revises: 0001_glance_2024_1

A regular context's listing asks "which images is this project a live
member of?".  Glance's indexes on ``image_members`` all start with
``image_id`` (or are the low-selectivity ``deleted``), so PostgreSQL and
MySQL scan the whole table for it, on every page.

Additive and harmless to a Glance server sharing the database: one new
index, named with glancedb's prefix so that no Glance revision can clash
with it.  Explicit DDL, independent of :mod:`glancedb.models`.
"""

from __future__ import annotations

from glancedb.migrations.online import create_index, drop_index

revision = "0002_image_members_member"
down_revision = "0001_glance_2024_1"
branch_labels = None
depends_on = None

INDEX = "ix_glancedb_image_members_member_deleted"


def upgrade() -> None:
    create_index(INDEX, "image_members", ["member", "deleted"])


def downgrade() -> None:
    drop_index(INDEX, "image_members")
