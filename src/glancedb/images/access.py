"""Who may see and who may change an image (SPEC 1.2), for calls on one image.

Listing applies the same rules as SQL conditions (:mod:`glancedb.images.listing`);
the single-image checks (``image_get``, ``is_image_visible``, a listing's
marker) all go through :func:`visibility_without_membership` so the rules
live in one place.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from sqlalchemy import ColumnElement, Connection, Select, bindparam, exists, false, select

from glancedb.context import ContextLike, context_can_see_deleted, context_is_admin, context_owner
from glancedb.exception import Forbidden, ForbiddenPublicImage, ImageNotFound
from glancedb.images.records import image_record
from glancedb.models import tables as t
from glancedb.records import Record
from glancedb.statements import fetch_one


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


@functools.cache
def image_row_statement(*, live_only: bool, membership: bool) -> Select[Any]:
    """The image row by ``:image_id``, and with ``membership`` whether ``:member`` is a member.

    The membership (live, any status) is read in the same statement as an
    extra last column, so that deciding visibility never needs a second
    round trip.  Built once per shape; the values are bound.
    """
    images = t.images
    columns: list[Any] = [images]
    if membership:
        member = t.image_members.c
        is_member: ColumnElement[bool] = exists().where(
            member.image_id == images.c.id,
            member.member == bindparam("member"),
            member.deleted == false(),
        )
        columns.append(is_member.label("glancedb_is_member"))
    stmt = select(*columns).where(images.c.id == bindparam("image_id"))
    if live_only:
        stmt = stmt.where(images.c.deleted == false())
    return stmt


def membership_to_read(context: ContextLike, image_id: str) -> tuple[bool, dict[str, Any]]:
    """Whether reading ``image_id`` for ``context`` also reads its membership
    (a project that is no admin), and the values the statement binds."""
    owner = context_owner(context)
    if owner is not None and not context_is_admin(context):
        return True, {"image_id": image_id, "member": owner}
    return False, {"image_id": image_id}


def image_with_membership(
    conn: Connection, context: ContextLike, image_id: str, *, live_only: bool
) -> tuple[Record, bool] | None:
    """The image (a dict without children) and whether ``context``'s project is a
    live member of it; None when there is no such image (or it is deleted and
    ``live_only``).  One statement."""
    membership, params = membership_to_read(context, image_id)
    stmt = image_row_statement(live_only=live_only, membership=membership)
    row = fetch_one(conn, stmt, params)
    if row is None:
        return None
    if membership:
        return image_record(row[:-1]), bool(row[-1])
    return image_record(row), False


def visible_image_row(
    conn: Connection,
    context: ContextLike,
    image_id: str,
    force_show_deleted: bool,
) -> Record:
    """The image (a dict without children), applying the deleted and visibility
    rules of ``image_get``: one statement."""
    found = image_with_membership(
        conn,
        context,
        image_id,
        live_only=not force_show_deleted and not context_can_see_deleted(context),
    )
    return visible_or_raise(context, image_id, found)


def image_not_found(image_id: str) -> ImageNotFound:
    """The error of ``image_get`` for an unknown (or hidden deleted) image."""
    return ImageNotFound(f"No image found with ID {image_id}")


def visible_or_raise(
    context: ContextLike, image_id: str, found: tuple[Record, bool] | None
) -> Record:
    """The image of ``found`` (an image and whether ``context`` is a member of
    it, as :func:`image_with_membership` returns) if ``context`` may see it.

    :raises ImageNotFound: ``found`` is None.
    :raises Forbidden: the image is not visible to ``context``.
    """
    if found is None:
        raise image_not_found(image_id)
    image, is_member = found
    verdict = visibility_without_membership(context, image)
    if verdict is None:
        verdict = is_member
    if not verdict:
        raise Forbidden(f"Forbidden to access image {image_id}")
    return image
