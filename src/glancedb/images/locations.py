"""Image locations: add, update, delete (SPEC 4)."""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any

from sqlalchemy import update

from glancedb.context import ContextLike
from glancedb.exception import Invalid, NotFound
from glancedb.images.values import prepare_location
from glancedb.images.writes import insert_locations, lock_image, update_locations
from glancedb.models import tables as t
from glancedb.rows import as_key
from glancedb.timeutils import to_naive_utc, utcnow
from glancedb.transactions import DatabaseCore, retrying
from glancedb.validation import LOCATION_DELETE_STATUSES, check_image_id_length, to_int


class ImageLocationsAPI(DatabaseCore):
    """Image locations: add, update, delete (SPEC 4)."""

    @retrying
    def image_location_add(
        self, context: ContextLike, image_id: str, location: Mapping[str, Any]
    ) -> None:
        """Add ``location`` (``{'url', 'metadata', 'status'}``) to image ``image_id``.

        A location whose status is ``deleted`` or ``pending_delete`` is
        stored soft-deleted.  Like Glance, no visibility check is made here.

        :raises ImageNotFound: the image does not exist.
        :raises Invalid: bad location values (4-byte characters included).
        """
        check_image_id_length(image_id)
        prepared = prepare_location(location)
        image_id = as_key(image_id)
        with self._writing() as conn:
            lock_image(conn, image_id)
            insert_locations(conn, image_id, [prepared], now=utcnow())

    @retrying
    def image_location_update(
        self, context: ContextLike, image_id: str, location: Mapping[str, Any]
    ) -> None:
        """Rewrite location ``location['id']`` of image ``image_id``.

        Sets its url, metadata and status; ``deleted``/``pending_delete``
        soft-deletes it, another status makes it live again.

        :raises Invalid: ``location`` has no ``id``, or bad values.
        :raises NotFound: no such location on this image.
        """
        prepared = prepare_location(location, require_id=True)
        image_id = as_key(image_id)
        with self._writing() as conn:
            lock_image(conn, image_id, required=False)
            update_locations(conn, image_id, [prepared], now=utcnow())

    @retrying
    def image_location_delete(
        self,
        context: ContextLike,
        image_id: str,
        location_id: int,
        status: str,
        delete_time: datetime.datetime | None = None,
    ) -> None:
        """Soft-delete location ``location_id`` of image ``image_id``.

        :param status: the location's new status, ``deleted`` or
            ``pending_delete``.
        :param delete_time: the ``deleted_at`` to store (default now).
        :raises Invalid: another status.
        :raises NotFound: no such location on this image.
        """
        if status not in LOCATION_DELETE_STATUSES:
            raise Invalid(
                f"The status of a deleted image location can only be 'deleted' or "
                f"'pending_delete', got {status!r}"
            )
        number = to_int("location id", location_id)
        if delete_time is not None and not isinstance(delete_time, datetime.datetime):
            raise Invalid(f"delete_time must be a datetime, got {delete_time!r}")
        when = to_naive_utc(delete_time) if delete_time is not None else utcnow()
        loc = t.image_locations
        image_id = as_key(image_id)
        with self._writing() as conn:
            lock_image(conn, image_id, required=False)
            result = conn.execute(
                update(loc)
                .where(loc.c.id == number, loc.c.image_id == image_id)
                .values(deleted=True, status=status, deleted_at=when, updated_at=when)
            )
            if result.rowcount == 0:
                raise NotFound(f"No location found with ID {location_id} from image {image_id}")
