"""Who may see an image (SPEC 1.2), for calls that check one image in Python.

Listing applies the same rules as SQL conditions (:mod:`glancedb.images.listing`);
the single-image checks (``image_get``, ``is_image_visible``, a listing's
marker) all go through :func:`visibility_without_membership` so the rules
live in one place.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, false, select

from glancedb.context import ContextLike, context_is_admin, context_owner
from glancedb.models import tables as t


def image_field(image: Any, name: str) -> Any:
    """Read ``name`` from an image dict (or, failing that, an image object)."""
    if isinstance(image, Mapping):
        return image.get(name)
    return getattr(image, name, None)


def visibility_without_membership(context: ContextLike, image: Any) -> bool | None:
    """Rules 1-4 and 6 of SPEC 1.2; None when only a membership can decide (rule 5)."""
    if context_is_admin(context):
        return True
    owner = image_field(image, "owner")
    if owner is None:
        return True
    visibility = image_field(image, "visibility")
    if visibility in ("public", "community"):
        return True
    context_project = context_owner(context)
    if context_project is None:
        return False
    if context_project == owner:
        return True
    if visibility == "shared":
        return None
    return False


def has_membership(conn: Connection, image_id: str, member: str | None, status: str | None) -> bool:
    """Whether ``member`` has a live membership (of ``status``, if given) on the image."""
    if member is None:
        return False
    members = t.image_members
    stmt = (
        select(members.c.id)
        .where(
            members.c.image_id == image_id,
            members.c.member == member,
            members.c.deleted == false(),
        )
        .limit(1)
    )
    if status is not None:
        stmt = stmt.where(members.c.status == status)
    return conn.execute(stmt).first() is not None
