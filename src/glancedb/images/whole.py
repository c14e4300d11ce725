"""An image with its children in one statement (PostgreSQL's ``image_get``).

Elsewhere ``image_get`` sends the image row (with the caller's membership)
and then one statement for all its children.  On PostgreSQL each statement
is a network round trip, and a call of two statements also needs a
transaction around them (BEGIN ... COMMIT: two more) so that both see one
snapshot.  Here the properties and locations come back as two JSON arrays
in extra columns of the image row: one statement, which is one snapshot by
itself, so the call runs without a transaction - one round trip instead of
four (benchmarks/RESULTS.md).
"""

from __future__ import annotations

import datetime
import functools
from typing import Any

from sqlalchemy import Connection, DateTime, Label, Select, false, func, select
from sqlalchemy.dialects.postgresql import aggregate_order_by

from glancedb.context import ContextLike
from glancedb.images.access import (
    image_not_found,
    image_row_statement,
    membership_to_read,
    visible_or_raise,
)
from glancedb.images.records import (
    IMAGE_COLUMNS,
    image_record,
    location_record,
    property_record,
)
from glancedb.models import tables as t
from glancedb.records import Record
from glancedb.statements import fetch_one


@functools.cache
def whole_image_statement(
    *, live_only: bool, membership: bool, show_deleted_locations: bool
) -> Select[Any]:
    """:func:`~glancedb.images.access.image_row_statement` as one JSON array:
    its columns, then the image's properties (deleted ones too) and locations
    (live ones unless ``show_deleted_locations``) as arrays of arrays, in id
    order.

    One column rather than 23: the driver describes every result column of
    every statement (psycopg builds an object per column for SQLAlchemy's
    ``cursor.description``), which cost more than decoding the JSON and the
    image's three timestamps (measured on the bare driver: 290 against 230
    us per call).
    """
    images = t.images.c
    prop, loc = t.image_properties.c, t.image_locations.c
    properties = (
        select(
            func.json_agg(
                aggregate_order_by(
                    func.json_build_array(
                        prop.id,
                        prop.name,
                        prop.value,
                        prop.created_at,
                        prop.updated_at,
                        prop.deleted_at,
                        prop.deleted,
                    ),
                    prop.id,
                )
            )
        )
        .where(prop.image_id == images.id)
        .scalar_subquery()
    )
    live = [loc.image_id == images.id]
    if not show_deleted_locations:
        live.append(loc.deleted == false())
    locations = (
        select(
            func.json_agg(
                aggregate_order_by(
                    func.json_build_array(loc.id, loc.value, loc.meta_data, loc.status), loc.id
                )
            )
        )
        .where(*live)
        .scalar_subquery()
    )
    row = image_row_statement(live_only=live_only, membership=membership)
    # The membership column's label has no place inside the array.
    values = [c.element if isinstance(c, Label) else c for c in row.selected_columns]
    return row.with_only_columns(
        func.json_build_array(*values, properties, locations).label("glancedb_image")
    )


#: Where the image's timestamps are in its columns (JSON has them as text).
_TIME_SLOTS = tuple(
    i for i, column in enumerate(t.images.columns) if isinstance(column.type, DateTime)
)


def _time(value: str | None) -> datetime.datetime | None:
    # PostgreSQL writes a timestamp in JSON as ISO 8601 without a zone.
    return None if value is None else datetime.datetime.fromisoformat(value)


def whole_visible_image(
    conn: Connection,
    context: ContextLike,
    image_id: str,
    *,
    live_only: bool,
    show_deleted_locations: bool,
) -> tuple[Record, list[Record], list[Record]]:
    """The image (a dict without children) if ``context`` may see it, its
    properties and its locations, in one statement; the visibility rules
    and errors of ``image_get``."""
    membership, params = membership_to_read(context, image_id)
    stmt = whole_image_statement(
        live_only=live_only,
        membership=membership,
        show_deleted_locations=show_deleted_locations,
    )
    found = fetch_one(conn, stmt, params)
    if found is None:
        raise image_not_found(image_id)
    row: list[Any] = found[0]
    columns = len(IMAGE_COLUMNS)
    is_member = bool(row[columns]) if membership else False
    values = row[:columns]
    for slot in _TIME_SLOTS:
        values[slot] = _time(values[slot])
    image = visible_or_raise(context, image_id, (image_record(values), is_member))
    properties = [
        property_record(
            row_id, image_id, name, value, _time(created), _time(updated), _time(gone), deleted
        )
        for row_id, name, value, created, updated, gone, deleted in row[-2] or ()
    ]
    locations = [
        location_record(row_id, url, meta_data, status)
        for row_id, url, meta_data, status in row[-1] or ()
    ]
    return image, properties, locations
