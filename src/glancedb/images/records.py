"""Image rows to image dicts, with children loaded in bulk.

Shared by every call that returns images (get, create, update, destroy,
listing): the image rows are fetched first, then each child table is read
with one ``IN`` query per chunk of image ids, never one query per image and
never a join that multiplies rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Row, false, select

from glancedb.models import tables as t
from glancedb.records import Record, load_json
from glancedb.rows import chunks

#: Columns of ``images``: the keys of an image dict, and the only names a
#: filter or sort key may refer to as columns.
IMAGE_COLUMNS: tuple[str, ...] = tuple(c.name for c in t.images.columns)
PROPERTY_COLUMNS: tuple[str, ...] = (
    "id",
    "image_id",
    "name",
    "value",
    "created_at",
    "updated_at",
    "deleted_at",
    "deleted",
)


def image_dicts(
    conn: Connection,
    rows: Sequence[Row[Any]],
    *,
    show_deleted_locations: bool = False,
    hide_deactivated_locations: bool = False,
    return_tag: bool = False,
    v1_mode: bool = False,
) -> list[Record]:
    """Turn ``images`` rows into image dicts (SPEC 1.6), preserving order.

    ``properties`` includes soft-deleted ones; ``locations`` skips deleted
    ones unless ``show_deleted_locations``, and is empty for deactivated
    images when ``hide_deactivated_locations`` (non-admin callers);
    ``tags`` (live values, insertion order) is added only with
    ``return_tag``.
    """
    images = [Record((c, row._mapping[c]) for c in IMAGE_COLUMNS) for row in rows]
    if not images:
        return images
    ids = [image["id"] for image in images]
    properties = load_properties(conn, ids)
    locations = load_locations(conn, ids, show_deleted=show_deleted_locations)
    tags = load_tags(conn, ids) if return_tag else {}
    for image in images:
        image["properties"] = properties.get(image["id"], [])
        if hide_deactivated_locations and image["status"] == "deactivated":
            image["locations"] = []
        else:
            image["locations"] = locations.get(image["id"], [])
        if return_tag:
            image["tags"] = tags.get(image["id"], [])
        if v1_mode:
            image["is_public"] = image.pop("visibility") == "public"
    return images


def load_properties(conn: Connection, image_ids: Sequence[str]) -> dict[str, list[Record]]:
    """Every property row (deleted ones too) of the images, by image id."""
    result: dict[str, list[Record]] = {}
    cols = [t.image_properties.c[name] for name in PROPERTY_COLUMNS]
    for chunk in chunks(image_ids):
        stmt = (
            select(*cols)
            .where(t.image_properties.c.image_id.in_(chunk))
            .order_by(t.image_properties.c.id)
        )
        for row in conn.execute(stmt).mappings():
            result.setdefault(row["image_id"], []).append(Record(row))
    return result


def load_locations(
    conn: Connection, image_ids: Sequence[str], *, show_deleted: bool = False
) -> dict[str, list[Record]]:
    """Location dicts ``{id, url, metadata, status}`` of the images, by image id."""
    loc = t.image_locations
    result: dict[str, list[Record]] = {}
    for chunk in chunks(image_ids):
        stmt = select(loc.c.id, loc.c.image_id, loc.c.value, loc.c.meta_data, loc.c.status).where(
            loc.c.image_id.in_(chunk)
        )
        if not show_deleted:
            stmt = stmt.where(loc.c.deleted == false())
        for row in conn.execute(stmt.order_by(loc.c.id)).mappings():
            result.setdefault(row["image_id"], []).append(
                Record(
                    id=row["id"],
                    url=row["value"],
                    metadata=load_json(row["meta_data"]) or {},
                    status=row["status"],
                )
            )
    return result


def load_tags(conn: Connection, image_ids: Sequence[str]) -> dict[str, list[str]]:
    """Live tag values of the images in insertion order, by image id."""
    tag = t.image_tags
    result: dict[str, list[str]] = {}
    for chunk in chunks(image_ids):
        stmt = (
            select(tag.c.image_id, tag.c.value)
            .where(tag.c.image_id.in_(chunk), tag.c.deleted == false())
            .order_by(tag.c.id)
        )
        for image_id, value in conn.execute(stmt):
            result.setdefault(image_id, []).append(value)
    return result
