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
from glancedb.rows import row_id
from glancedb.timeutils import utcnow
from glancedb.transactions import DatabaseCore, retrying
from glancedb.validation import (
    LOCATION_DELETE_STATUSES,
    check_datetime,
    image_key,
    require_image_key,
)


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
        image_id = require_image_key(image_id)
        prepared = prepare_location(location)
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
        key = image_key(image_id)
        if key is None:
            raise NotFound(f"No location found with ID {prepared.id} from image {image_id!r}")
        with self._writing() as conn:
            lock_image(conn, key, required=False)
            update_locations(conn, key, [prepared], now=utcnow())

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
        if not isinstance(status, str) or status not in LOCATION_DELETE_STATUSES:
            raise Invalid(
                f"The status of a deleted image location can only be 'deleted' or "
                f"'pending_delete', got {status!r}"
            )
        number = row_id(location_id, "location id")
        when = check_datetime("delete_time", delete_time) if delete_time is not None else utcnow()
        key = image_key(image_id)
        if number is None or key is None:
            raise NotFound(f"No location found with ID {location_id!r} from image {image_id!r}")
        image_id = key
        loc = t.image_locations
        with self._writing() as conn:
            lock_image(conn, image_id, required=False)
            result = conn.execute(
                update(loc)
                .where(loc.c.id == number, loc.c.image_id == image_id)
                .values(deleted=True, status=status, deleted_at=when, updated_at=when)
            )
            if result.rowcount == 0:
                raise NotFound(f"No location found with ID {location_id} from image {image_id}")
