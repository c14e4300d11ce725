"""Validation and normalisation of the values given to image writes (SPEC 2, 4, 12).

Everything here is pure Python and runs before a transaction is opened, so
bad input is rejected identically on every backend and nothing is written.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from glancedb.exception import Invalid
from glancedb.images.records import IMAGE_COLUMNS
from glancedb.models import tables as t
from glancedb.models.images import IMAGE_VISIBILITIES
from glancedb.records import dump_json
from glancedb.validation import (
    LOCATION_DELETE_STATUSES,
    check_datetime,
    check_image_status,
    check_int32,
    check_lengths,
    check_mapping,
    check_scalar,
    reject_unstorable_text,
    to_int,
    unknown_keys,
)

#: Keys that are not image columns but that image_create/image_update accept.
EXTRA_KEYS = frozenset({"properties", "locations", "is_public"})
#: Columns callers may set on create but that update ignores (SPEC 1.4).
PROTECTED_ON_UPDATE = frozenset({"created_at", "updated_at", "deleted_at", "deleted"})
#: ``id`` is the key of the update, never a value to write.
IGNORED_ON_UPDATE = PROTECTED_ON_UPDATE | {"id"}


@dataclass
class LocationValues:
    """One location to store: ``id`` is None for a new one."""

    url: str
    meta_data: str | None
    status: str
    id: int | None = None

    @property
    def deleted(self) -> bool:
        """Whether this status stores the location soft-deleted."""
        return self.status in LOCATION_DELETE_STATUSES


@dataclass
class ImageValues:
    """Validated input of an image write, split by destination table."""

    columns: dict[str, Any]
    properties: dict[str, str | None] | None = None
    locations: list[LocationValues] = field(default_factory=list)


def prepare_create(values: Mapping[str, Any]) -> ImageValues:
    """Validate and coerce the ``values`` of ``image_create`` (SPEC 2.1)."""
    check_mapping("image values", values)
    reject_unstorable_text(dict(values), "image")
    unknown = unknown_keys(values, EXTRA_KEYS | set(IMAGE_COLUMNS))
    if unknown:
        raise Invalid(f"Unknown image attribute(s): {', '.join(unknown)}")
    if "status" not in values or not values["status"]:
        raise Invalid("Image status is required")
    columns = _image_columns(values, ignored=frozenset())
    columns.setdefault("visibility", "shared")
    columns["min_ram"] = columns.get("min_ram") or 0
    columns["min_disk"] = columns.get("min_disk") or 0
    columns["protected"] = bool(columns.get("protected", False))
    columns["os_hidden"] = bool(columns.get("os_hidden", False))
    columns["deleted"] = bool(columns.get("deleted", False))
    if columns.get("id") is None:
        columns["id"] = str(uuid.uuid4())
    check_lengths(t.images, columns)
    return ImageValues(
        columns=columns,
        properties=prepare_properties(values.get("properties")),
        locations=prepare_locations(values.get("locations")),
    )


def prepare_update(values: Mapping[str, Any]) -> ImageValues:
    """Validate and coerce the ``values`` of ``image_update`` (SPEC 2.2).

    Keys that are not image columns are ignored, as are the timestamps,
    ``deleted`` and ``id``.
    """
    check_mapping("image values", values)
    reject_unstorable_text(dict(values), "image")
    columns = _image_columns(values, ignored=IGNORED_ON_UPDATE)
    for name in ("min_ram", "min_disk"):
        if name in columns and columns[name] is None:
            columns[name] = 0
    for name in ("protected", "os_hidden"):
        if name in columns:
            columns[name] = bool(columns[name])
    check_lengths(t.images, columns)
    return ImageValues(
        columns=columns,
        properties=prepare_properties(values.get("properties")),
        locations=prepare_locations(values.get("locations")),
    )


def _image_columns(values: Mapping[str, Any], *, ignored: frozenset[str]) -> dict[str, Any]:
    """The image-column part of ``values``, checked and coerced."""
    columns = {k: v for k, v in values.items() if k in IMAGE_COLUMNS and k not in ignored}
    for name, value in columns.items():
        check_scalar(f"Image {name}", value)
    if "is_public" in values:
        if "visibility" in values:
            raise Invalid("Give either is_public or visibility, not both")
        check_scalar("Image is_public", values["is_public"])
        columns["visibility"] = "public" if values["is_public"] else "shared"
    if "status" in columns:
        columns["status"] = check_image_status(columns["status"])
    if "visibility" in columns and columns["visibility"] not in IMAGE_VISIBILITIES:
        raise Invalid(
            f"Invalid image visibility {columns['visibility']!r}; "
            f"expected one of {', '.join(IMAGE_VISIBILITIES)}"
        )
    for name in ("min_ram", "min_disk"):
        if columns.get(name) is not None:
            columns[name] = check_int32(name, columns[name])
    for name in ("size", "virtual_size"):
        if columns.get(name) is not None:
            columns[name] = to_int(name, columns[name])
    if "owner" in columns and not columns["owner"]:
        columns["owner"] = None
    if columns.get("id") is not None and not isinstance(columns["id"], str):
        raise Invalid(f"Image id must be a string, got {columns['id']!r}")
    for name in ("created_at", "updated_at", "deleted_at"):
        if columns.get(name) is not None:
            columns[name] = check_datetime(name, columns[name])
    for name, value in columns.items():
        if name in _STRING_COLUMNS and value is not None and not isinstance(value, str):
            raise Invalid(f"Image {name} must be a string, got {value!r}")
    return columns


_STRING_COLUMNS = frozenset(
    {
        "name",
        "disk_format",
        "container_format",
        "status",
        "checksum",
        "os_hash_algo",
        "os_hash_value",
        "owner",
    }
)


def prepare_properties(properties: Any) -> dict[str, str | None] | None:
    """Check a ``properties`` mapping; values become strings (None stays NULL)."""
    if properties is None:
        return None
    check_mapping("properties", properties)
    result: dict[str, str | None] = {}
    for name, value in properties.items():
        if not isinstance(name, str) or not name:
            raise Invalid(f"Property names must be non-empty strings, got {name!r}")
        check_scalar(f"Property {name!r}", value)
        text = None if value is None else value if isinstance(value, str) else str(value)
        check_lengths(t.image_properties, {"name": name, "value": text})
        result[name] = text
    reject_unstorable_text(result, "property")
    return result


def prepare_locations(locations: Any) -> list[LocationValues]:
    """Check a ``locations`` list of ``{'url', 'metadata', 'status'[, 'id']}``."""
    if locations is None:
        return []
    if isinstance(locations, str | bytes) or not isinstance(locations, Sequence):
        raise Invalid(f"locations must be a list, got {type(locations).__name__}")
    return [prepare_location(location) for location in locations]


def prepare_location(location: Any, *, require_id: bool = False) -> LocationValues:
    """Check one location dict and encode its metadata."""
    check_mapping("A location", location)
    reject_unstorable_text(dict(location), "location")
    url = location.get("url")
    if not isinstance(url, str) or not url:
        raise Invalid(f"A location needs a non-empty string url, got {url!r}")
    status = location.get("status") or "active"
    if not isinstance(status, str):
        raise Invalid(f"Location status must be a string, got {status!r}")
    try:
        meta_data = dump_json(location.get("metadata") or {})
    except (TypeError, ValueError) as exc:
        raise Invalid(f"Location metadata is not JSON-serialisable: {exc}") from None
    check_lengths(t.image_locations, {"status": status, "value": url, "meta_data": meta_data})
    location_id = location.get("id")
    if location_id is None:
        if require_id:
            raise Invalid(f"The location has no id: {dict(location)!r}")
    elif isinstance(location_id, bool):
        # Python's True is 1: it would quietly name location 1.
        raise Invalid(f"location id must be an integer, got {location_id!r}")
    elif not isinstance(location_id, int):
        location_id = to_int("location id", location_id)
    # An integer id no location can have (beyond 64 bits, say) is kept: the
    # update reports it as not found, as it does any unknown id.
    return LocationValues(url=url, meta_data=meta_data, status=status, id=location_id)
