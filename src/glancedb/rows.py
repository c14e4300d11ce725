"""Helpers shared by the calls that write an image's child rows
(properties, members, tags)."""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, CursorResult, select

from glancedb.exception import DBError, ImageNotFound, Invalid, NotFound
from glancedb.models import tables as t
from glancedb.timeutils import to_naive_utc


def lock_image(conn: Connection, image_id: str) -> None:
    """Lock the image row for this transaction; ImageNotFound if it does not exist.

    Writers of an image's child rows take this lock first (image updates
    take it by updating the row), so that they serialise per image: checks
    such as "no live membership yet" then hold until commit, and MySQL's gap
    locks cannot deadlock concurrent inserts into the same image.
    """
    stmt = select(t.images.c.id).where(t.images.c.id == image_id).with_for_update()
    if conn.execute(stmt).first() is None:
        raise ImageNotFound(f"No image found with ID {image_id}")


def inserted_id(result: CursorResult[Any]) -> int:
    """The primary key of the row a single-row INSERT created."""
    key = result.inserted_primary_key
    if key is None or key[0] is None:
        raise DBError("The database did not report the new row's id")
    return int(key[0])


def as_key(value: Any) -> str:
    """An image id, name or tag used only to look rows up, as a string.

    Bound as the string column's type, so that a caller passing an int
    finds nothing instead of making PostgreSQL reject the comparison.
    """
    return value if isinstance(value, str) else str(value)


def as_row_id(value: Any, what: str) -> int:
    """An integer primary key to look a row up by; NotFound when it cannot be one."""
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise NotFound(f"No {what} found with ID {value!r}") from None
    if isinstance(value, bool) or not -(2**31) <= number < 2**31:
        raise NotFound(f"No {what} found with ID {value!r}")
    return number


def given_time(values: Mapping[str, Any], key: str) -> datetime.datetime | None:
    """A bookkeeping timestamp a caller passed on create (SPEC 1.4), as naive UTC."""
    value = values.get(key)
    if value is None:
        return None
    if not isinstance(value, datetime.datetime):
        raise Invalid(f"{key} must be a datetime, got {value!r}")
    return to_naive_utc(value)
