"""Helpers shared by the calls that write an image's child rows
(properties, members, tags)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, CursorResult, select

from glancedb.exception import DBError, ImageNotFound
from glancedb.models import tables as t


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
