"""Index image_members(member, deleted, status, image_id): membership reads from the index alone.

Revision ID: 0009_image_members_access
Revises: 0008_mysql_images_sort_order

A regular context's listing checks, for the shared images it walks,
whether the project is a live member with the wanted status.  Revision
0002's (member, deleted) index finds the project's memberships but not their
status nor their image, so each check also read the membership's row.  This
index holds all four columns the check compares: PostgreSQL reads the
project's memberships once per page from it alone ("hashed SubPlan" over an
index-only scan) or probes it per image, and every backend answers "which
images is this project a member of" without touching the table.  Measured
at a million images (1,690 memberships for the project), a tenant's tag page
on PostgreSQL read 877 buffers instead of 5,317 (docs/performance.md).

It supersedes 0002's index, which is its prefix: that one is dropped once
this one is built (concurrently on PostgreSQL, in place elsewhere).
Additive otherwise and harmless to a Glance server sharing the database:
named with glancedb's prefix, built online.
"""

from __future__ import annotations

from glancedb.migrations.online import create_index, drop_index

revision = "0009_image_members_access"
down_revision = "0008_mysql_images_sort_order"
branch_labels = None
depends_on = None

INDEX = "ix_glancedb_image_members_member_access"
#: Revision 0002's index, which this one supersedes.
SUPERSEDED = "ix_glancedb_image_members_member_deleted"


def upgrade() -> None:
    create_index(INDEX, "image_members", ["member", "deleted", "status", "image_id"])
    drop_index(SUPERSEDED, "image_members")


def downgrade() -> None:
    create_index(SUPERSEDED, "image_members", ["member", "deleted"])
    drop_index(INDEX, "image_members")
