"""Who may see and who may change an image (SPEC 1.2), for calls on one image.

Listing applies the same rules as SQL conditions (:mod:`glancedb.images.listing`);
the single-image checks (``image_get``, ``is_image_visible``, a listing's
marker) all go through :func:`visibility_without_membership` so the rules
live in one place.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, Row, false, select

from glancedb.context import ContextLike, context_can_see_deleted, context_is_admin, context_owner
from glancedb.exception import Forbidden, ForbiddenPublicImage, ImageNotFound
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


def is_image_mutable(context: ContextLike, image: Any) -> bool:
    """Whether ``context`` may change ``image`` (SPEC 1.2).

    Admins may change anything; otherwise the image and the context must
    both have an owner, and the same one.
    """
    if context_is_admin(context):
        return True
    owner = image_field(image, "owner")
    context_project = context_owner(context)
    if owner is None or context_project is None:
        return False
    return bool(owner == context_project)


def check_mutable(context: ContextLike, image: Any) -> None:
    """Raise :class:`Forbidden` (private/shared) or :class:`ForbiddenPublicImage`
    (public/community) when ``context`` may not change ``image``."""
    if is_image_mutable(context, image):
        return
    message = f"You do not own image {image_field(image, 'id')}"
    if image_field(image, "visibility") in ("private", "shared"):
        raise Forbidden(message)
    raise ForbiddenPublicImage(message)


def visible_image_row(
    conn: Connection,
    context: ContextLike,
    image_id: str,
    force_show_deleted: bool,
) -> Row[Any]:
    """The image's row, applying the deleted and visibility rules of ``image_get``."""
    images = t.images
    stmt = select(images).where(images.c.id == image_id)
    if not force_show_deleted and not context_can_see_deleted(context):
        stmt = stmt.where(images.c.deleted == false())
    row = conn.execute(stmt).first()
    if row is None:
        raise ImageNotFound(f"No image found with ID {image_id}")
    image = row._mapping
    verdict = visibility_without_membership(context, image)
    if verdict is None:
        verdict = has_membership(conn, image_id, context_owner(context), None)
    if not verdict:
        raise Forbidden(f"Forbidden to access image {image_id}")
    return row
