"""Image rows to image dicts, with children loaded in bulk.

Shared by every call that returns images (get, create, update, destroy,
listing): the image rows are fetched first, then all their children -
properties, locations and, when asked for, tags - with one ``UNION ALL``
statement per chunk of image ids: never one query per image, never a join
that multiplies rows.

This is the hot path of every read, so it is written for cost: the
statements are built once per number of id slots (see
:func:`children_statement`), so SQLAlchemy's compiled cache serves every
call, rows are read as tuples by position, and the only per-row work is
building the returned dicts.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    CompoundSelect,
    Connection,
    Text,
    bindparam,
    cast,
    false,
    literal_column,
    null,
    select,
    union_all,
)

from glancedb.models import tables as t
from glancedb.records import Record, load_json
from glancedb.rows import chunks, slot_count, slot_parameters
from glancedb.statements import fetch_all

#: Columns of ``images``: the keys of an image dict, and the only names a
#: filter or sort key may refer to as columns.  ``select(t.images)`` returns
#: them in this order.
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

_PROPERTY, _LOCATION, _TAG = "p", "l", "t"


def image_record(row: Iterable[Any]) -> Record:
    """An ``images`` row (all columns, in table order) as an image dict without children."""
    return Record(zip(IMAGE_COLUMNS, row, strict=True))


@functools.cache
def children_statement(
    *, show_deleted_locations: bool, tags: bool, slots: int
) -> CompoundSelect[Any]:
    """The one statement reading every child row of the images given in ``slots`` ids.

    Each branch fills the same ten columns (kind, image_id, id, then its own
    values, NULL where it has none; the first branch's types type them all),
    so properties, locations and tags come back in one round trip: fewer
    statements cost less on every backend
    (SQLite: less of SQLAlchemy's per-statement work; PostgreSQL and MySQL:
    also one network round trip instead of two or three), and the rows are
    no wider than the widest child.  Ordered by id, which keeps each kind in
    insertion order.

    The ids are ``slots`` plain parameters (:func:`~glancedb.rows.slot_parameters`), not one
    expanding parameter: SQLAlchemy renders an expanding list anew on every
    execution, which cost a fifth of an ``image_get`` on SQLite; a handful of
    power-of-two shapes are compiled once each instead.
    """
    ids: list[BindParameter[str]] = [bindparam(f"id_{slot}") for slot in range(slots)]
    prop, loc, tag = t.image_properties.c, t.image_locations.c, t.image_tags.c
    no_text = cast(null(), Text)
    branches = [
        select(
            literal_column(f"'{_PROPERTY}'").label("kind"),
            prop.image_id,
            prop.id,
            prop.name.label("a"),
            prop.value.label("b"),
            no_text.label("c"),
            prop.created_at,
            prop.updated_at,
            prop.deleted_at,
            prop.deleted,
        ).where(prop.image_id.in_(ids)),
    ]
    live_locations: list[ColumnElement[bool]] = [loc.image_id.in_(ids)]
    if not show_deleted_locations:
        live_locations.append(loc.deleted == false())
    branches.append(
        select(
            literal_column(f"'{_LOCATION}'"),
            loc.image_id,
            loc.id,
            loc.status,
            loc.value,
            loc.meta_data,
            null(),
            null(),
            null(),
            null(),
        ).where(*live_locations)
    )
    if tags:
        branches.append(
            select(
                literal_column(f"'{_TAG}'"),
                tag.image_id,
                tag.id,
                tag.value,
                null(),
                null(),
                null(),
                null(),
                null(),
                null(),
            ).where(tag.image_id.in_(ids), tag.deleted == false())
        )
    return union_all(*branches).order_by(literal_column("id"))


Children = tuple[dict[str, list[Record]], dict[str, list[Record]], dict[str, list[str]]]


def property_record(
    row_id: int,
    image_id: str,
    name: str,
    value: str | None,
    created_at: Any,
    updated_at: Any,
    deleted_at: Any,
    deleted: Any,
) -> Record:
    """An ``image_properties`` row as the dict an image's ``properties`` lists."""
    return Record(
        id=row_id,
        image_id=image_id,
        name=name,
        value=value,
        created_at=created_at,
        updated_at=updated_at,
        deleted_at=deleted_at,
        deleted=deleted,
    )


def location_record(row_id: int, url: str, meta_data: str | None, status: str) -> Record:
    """An ``image_locations`` row as the dict an image's ``locations`` lists."""
    return Record(id=row_id, url=url, metadata=load_json(meta_data) or {}, status=status)


def load_children(
    conn: Connection,
    image_ids: Sequence[str],
    *,
    show_deleted_locations: bool = False,
    tags: bool = False,
) -> Children:
    """Properties (deleted ones too), locations and live tags of the images, by image id."""
    properties: dict[str, list[Record]] = {}
    locations: dict[str, list[Record]] = {}
    tag_values: dict[str, list[str]] = {}
    for chunk in chunks(image_ids):
        stmt = children_statement(
            show_deleted_locations=bool(show_deleted_locations),
            tags=bool(tags),
            slots=slot_count(len(chunk)),
        )
        rows = fetch_all(conn, stmt, slot_parameters("id", chunk))
        for kind, image_id, row_id, a, b, c, created, updated, deleted_at, deleted in rows:
            if kind == _PROPERTY:
                record = property_record(
                    row_id, image_id, a, b, created, updated, deleted_at, deleted
                )
                found = properties.get(image_id)
                if found is None:
                    properties[image_id] = [record]
                else:
                    found.append(record)
            elif kind == _LOCATION:
                location = location_record(row_id, b, c, a)
                found = locations.get(image_id)
                if found is None:
                    locations[image_id] = [location]
                else:
                    found.append(location)
            else:
                values = tag_values.get(image_id)
                if values is None:
                    tag_values[image_id] = [a]
                else:
                    values.append(a)
    return properties, locations, tag_values


def image_dicts(
    conn: Connection,
    rows: Sequence[Sequence[Any]],
    *,
    show_deleted_locations: bool = False,
    hide_deactivated_locations: bool = False,
    return_tag: bool = False,
    v1_mode: bool = False,
) -> list[Record]:
    """Turn ``images`` rows (all columns, in table order) into image dicts (SPEC 1.6).

    Order is preserved.  ``properties`` includes soft-deleted ones;
    ``locations`` skips deleted ones unless ``show_deleted_locations``, and
    is empty for deactivated images when ``hide_deactivated_locations``
    (non-admin callers); ``tags`` (live values, insertion order) is added
    only with ``return_tag``.
    """
    return with_children(
        conn,
        [image_record(row) for row in rows],
        show_deleted_locations=show_deleted_locations,
        hide_deactivated_locations=hide_deactivated_locations,
        return_tag=return_tag,
        v1_mode=v1_mode,
    )


def with_children(
    conn: Connection,
    images: list[Record],
    *,
    show_deleted_locations: bool = False,
    hide_deactivated_locations: bool = False,
    return_tag: bool = False,
    v1_mode: bool = False,
) -> list[Record]:
    """Add ``properties``, ``locations`` (and ``tags``) to image dicts, read in bulk.

    The options are those of :func:`image_dicts`.
    """
    if not images:
        return images
    properties, locations, tags = load_children(
        conn,
        [image["id"] for image in images],
        show_deleted_locations=show_deleted_locations,
        tags=return_tag,
    )
    for image in images:
        image_id = image["id"]
        attach_children(
            image,
            properties.get(image_id, []),
            locations.get(image_id, []),
            hide_deactivated_locations=hide_deactivated_locations,
            v1_mode=v1_mode,
        )
        if return_tag:
            image["tags"] = tags.get(image_id, [])
    return images


def attach_children(
    image: Record,
    properties: list[Record],
    locations: list[Record],
    *,
    hide_deactivated_locations: bool,
    v1_mode: bool,
) -> Record:
    """Complete an image dict with its children (the options of :func:`image_dicts`)."""
    image["properties"] = properties
    if hide_deactivated_locations and image["status"] == "deactivated":
        image["locations"] = []
    else:
        image["locations"] = locations
    if v1_mode:
        image["is_public"] = image.pop("visibility") == "public"
    return image
