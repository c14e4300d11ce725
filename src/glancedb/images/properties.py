"""Image properties, including the atomic ones (SPEC 6)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import delete, false, insert, select, true, update

from glancedb.context import ContextLike
from glancedb.driver_errors import duplicate_as
from glancedb.exception import Duplicate, Invalid, NotFound
from glancedb.images.records import PROPERTY_COLUMNS
from glancedb.images.writes import lock_image
from glancedb.models import tables as t
from glancedb.records import Record
from glancedb.rows import given_time, inserted_id
from glancedb.timeutils import utcnow
from glancedb.transactions import DatabaseCore, retrying
from glancedb.validation import (
    check_lengths,
    check_mapping,
    check_scalar,
    lookup_key,
    reject_unstorable_text,
    require_image_key,
    unknown_keys,
)

# Keys a caller may pass to image_property_create (SPEC 1.4: the four
# bookkeeping columns are stored as given on create).
_CREATE_KEYS = frozenset(PROPERTY_COLUMNS) - {"id"}


def _check_property(image_id: Any, name: Any, value: Any) -> tuple[str, str]:
    """Validate one property before anything is written (SPEC 12).

    Returns the image id and the name, now known to be strings.
    """
    if image_id is None or image_id == "":
        raise Invalid(f"A property needs an image id, got {image_id!r}")
    image_id = require_image_key(image_id)  # a uuid.UUID is welcome too
    if not isinstance(name, str) or not name:
        raise Invalid(f"A property needs a non-empty string name, got {name!r}")
    if value is not None and not isinstance(value, str):
        raise Invalid(f"Property {name!r}: the value must be a string, got {value!r}")
    reject_unstorable_text(name, "Property name")
    if value is not None:
        reject_unstorable_text(value, f"Property {name!r} value")
    check_lengths(t.image_properties, {"name": name, "value": value})
    return image_id, name


class ImagePropertiesAPI(DatabaseCore):
    """Image properties, including the atomic ones (SPEC 6)."""

    @retrying
    def image_property_create(self, context: ContextLike, values: Mapping[str, Any]) -> Record:
        """Create a property of an image and return its record.

        ``values`` holds ``image_id``, ``name`` and ``value`` (and, as on
        every create, optionally ``created_at``, ``updated_at``, ``deleted``
        and ``deleted_at``).  A soft-deleted property of the same name is
        revived with the new value; a live one raises :class:`Duplicate`.
        An unknown image raises :class:`ImageNotFound`.
        """
        check_mapping("image property values", values)
        extra = unknown_keys(values, _CREATE_KEYS)
        if extra:
            raise Invalid(f"Unknown image property attribute(s): {', '.join(extra)}")
        value = values.get("value")
        image_id, name = _check_property(values.get("image_id"), values.get("name"), value)
        check_scalar("Property deleted", values.get("deleted"))
        now = utcnow()
        deleted = bool(values.get("deleted", False))
        row: dict[str, Any] = {
            "image_id": image_id,
            "name": name,
            "value": value,
            "updated_at": given_time(values, "updated_at") or now,
            "deleted": deleted,
            "deleted_at": (given_time(values, "deleted_at") or now) if deleted else None,
        }
        prop = t.image_properties
        with self._writing() as conn:
            lock_image(conn, image_id)
            existing = (
                conn.execute(
                    select(prop.c.id, prop.c.created_at, prop.c.deleted).where(
                        prop.c.image_id == image_id, prop.c.name == name
                    )
                )
                .mappings()
                .first()
            )
            if existing is None:
                row["created_at"] = given_time(values, "created_at") or now
                result = conn.execute(insert(prop).values(**row))
                row["id"] = inserted_id(result)
            elif existing["deleted"]:
                row["created_at"] = given_time(values, "created_at") or existing["created_at"]
                conn.execute(update(prop).where(prop.c.id == existing["id"]).values(**row))
                row["id"] = existing["id"]
            else:
                raise Duplicate(f"Image {image_id} already has a property named {name!r}")
        return Record((c, row[c]) for c in PROPERTY_COLUMNS)

    @retrying
    def image_property_delete(self, context: ContextLike, prop_ref: str, image_ref: str) -> Record:
        """Soft-delete the property named ``prop_ref`` of image ``image_ref``.

        Returns the deleted property's record; :class:`NotFound` when the
        image has no live property of that name.
        """
        name, image_id = lookup_key(prop_ref, "prop_ref"), lookup_key(image_ref, "image_ref")
        if name is None or image_id is None:
            raise NotFound(f"Image {image_ref!r} has no property named {prop_ref!r}")
        prop_ref, image_ref = name, image_id
        prop = t.image_properties
        cols = [prop.c[c] for c in PROPERTY_COLUMNS]
        with self._writing() as conn:
            found = (
                conn.execute(
                    select(*cols)
                    .where(
                        prop.c.image_id == image_ref,
                        prop.c.name == prop_ref,
                        prop.c.deleted == false(),
                    )
                    .with_for_update()
                )
                .mappings()
                .first()
            )
            if found is None:
                raise NotFound(f"Image {image_ref} has no property named {prop_ref!r}")
            record = Record(found)
            now = utcnow()
            record.update(deleted=True, deleted_at=now, updated_at=now)
            conn.execute(
                update(prop)
                .where(prop.c.id == record["id"])
                .values(deleted=True, deleted_at=now, updated_at=now)
            )
        return record

    @retrying
    def image_set_property_atomic(self, image_id: str, name: str, value: str) -> None:
        """Create property ``name`` = ``value`` only if it has no live value yet.

        Exactly one of several concurrent callers succeeds: a soft-deleted
        property is revived by one conditional UPDATE, otherwise the row is
        inserted and the ``(image_id, name)`` unique key decides the race.
        Every loser gets :class:`Duplicate`.  Takes no context.
        """
        image_id, name = _check_property(image_id, name, value)
        prop = t.image_properties
        now = utcnow()
        with self._writing() as conn:
            lock_image(conn, image_id)
            revived = conn.execute(
                update(prop)
                .where(
                    prop.c.image_id == image_id,
                    prop.c.name == name,
                    prop.c.deleted == true(),
                )
                .values(value=value, deleted=False, deleted_at=None, updated_at=now)
            )
            if revived.rowcount == 1:
                return
            with duplicate_as(Duplicate, f"Image {image_id} already has a property named {name!r}"):
                conn.execute(
                    insert(prop).values(
                        image_id=image_id,
                        name=name,
                        value=value,
                        created_at=now,
                        updated_at=now,
                        deleted=False,
                    )
                )

    @retrying
    def image_delete_property_atomic(self, image_id: str, name: str, value: str) -> None:
        """Hard-delete property ``name`` if it is live and equals ``value``.

        Otherwise raises :class:`NotFound`.  Takes no context.
        """
        image_key, name_key = lookup_key(image_id, "image_id"), lookup_key(name, "name")
        value_key = lookup_key(value, "value")
        if image_key is None or name_key is None or (value is not None and value_key is None):
            raise NotFound(f"Image {image_id!r} has no property {name!r} with value {value!r}")
        image_id, name, value = image_key, name_key, value_key
        prop = t.image_properties
        with self._writing() as conn:
            result = conn.execute(
                delete(prop).where(
                    prop.c.image_id == image_id,
                    prop.c.name == name,
                    prop.c.value == value,
                    prop.c.deleted == false(),
                )
            )
            if result.rowcount == 0:
                raise NotFound(f"Image {image_id} has no property {name!r} with value {value!r}")
