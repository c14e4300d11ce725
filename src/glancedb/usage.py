"""Usage (quota) queries, each one aggregate statement (SPEC 9)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, and_, exists, false, func, or_, select

from glancedb.context import ContextLike
from glancedb.models import tables as t
from glancedb.transactions import DatabaseCore, retrying
from glancedb.validation import image_key, lookup_key

#: The property Glance sets on an image while it is being copied to stores.
IMPORTING_PROPERTY = "os_glance_importing_to_stores"
_GONE = ("killed", "deleted", "pending_delete")
_STAGING = ("uploading", "importing")
_UPLOADING = ("saving", "uploading", "importing")

_images = t.images
_props = t.image_properties


def _owned(owner_id: Any) -> list[ColumnElement[bool]]:
    """The live images of ``owner_id`` (None: the images without an owner)."""
    owner = lookup_key(owner_id, "owner_id")
    if owner_id is not None and owner is None:
        return [false()]  # an owner no image can have
    # Soft-deleted images never count, whatever status they were left in.
    return [_images.c.owner == owner, _images.c.deleted == false()]


def _importing_to_stores() -> ColumnElement[bool]:
    """The image has a live, non-empty ``os_glance_importing_to_stores``."""
    return exists().where(
        _props.c.image_id == _images.c.id,
        _props.c.name == IMPORTING_PROPERTY,
        _props.c.deleted == false(),
        _props.c.value.is_not(None),
        _props.c.value != "",
    )


def _as_int(value: Any) -> int:
    # SUM over BIGINT comes back as Decimal on PostgreSQL and MySQL.
    return int(value or 0)


class UsageAPI(DatabaseCore):
    """Usage (quota) queries, each one aggregate statement (SPEC 9)."""

    @retrying
    def user_get_storage_usage(
        self, context: ContextLike, owner_id: str | None, image_id: str | None = None
    ) -> int:
        """Bytes stored for ``owner_id``: size times live locations, summed.

        Counts images with a size above 0 that are not killed, deleted or
        pending_delete, each once per location whose status is not
        ``deleted``; ``image_id`` (if given) is left out.
        """
        excluded = image_key(image_id)
        locations = t.image_locations
        query = (
            select(func.coalesce(func.sum(_images.c.size), 0))
            .select_from(_images.join(locations, locations.c.image_id == _images.c.id))
            .where(
                *_owned(owner_id),
                _images.c.size > 0,
                _images.c.status.not_in(_GONE),
                locations.c.status != "deleted",
            )
        )
        if excluded is not None:
            query = query.where(_images.c.id != excluded)
        with self._reading() as conn:
            return _as_int(conn.execute(query).scalar())

    @retrying
    def user_get_staging_usage(self, context: ContextLike, owner_id: str | None) -> int:
        """Bytes staged for ``owner_id``: images being uploaded or imported.

        Sizes of the owner's images in ``uploading``/``importing``, plus those
        of its other live images still being copied to stores (a non-empty
        ``os_glance_importing_to_stores`` property).
        """
        query = select(func.coalesce(func.sum(_images.c.size), 0)).where(
            *_owned(owner_id),
            _images.c.size > 0,
            or_(
                _images.c.status.in_(_STAGING),
                and_(_images.c.status.not_in(_STAGING + _GONE), _importing_to_stores()),
            ),
        )
        with self._reading() as conn:
            return _as_int(conn.execute(query).scalar())

    @retrying
    def user_get_image_count(self, context: ContextLike, owner_id: str | None) -> int:
        """Number of ``owner_id``'s images that are not killed, deleted or pending_delete."""
        query = (
            select(func.count())
            .select_from(_images)
            .where(*_owned(owner_id), _images.c.status.not_in(_GONE))
        )
        with self._reading() as conn:
            return _as_int(conn.execute(query).scalar())

    @retrying
    def user_get_uploading_count(self, context: ContextLike, owner_id: str | None) -> int:
        """Number of ``owner_id``'s images being uploaded, imported or copied.

        Images in ``saving``/``uploading``/``importing``, plus other live
        images with a non-empty ``os_glance_importing_to_stores`` property.
        """
        query = (
            select(func.count())
            .select_from(_images)
            .where(
                *_owned(owner_id),
                or_(
                    _images.c.status.in_(_UPLOADING),
                    and_(_images.c.status.not_in(_UPLOADING + _GONE), _importing_to_stores()),
                ),
            )
        )
        with self._reading() as conn:
            return _as_int(conn.execute(query).scalar())
