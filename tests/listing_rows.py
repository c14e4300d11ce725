"""Listing-test data written with plain Core inserts (no dependency on image_create)."""

from __future__ import annotations

import datetime
import itertools
import uuid
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection

from glancedb import Database
from glancedb.models import tables as t
from glancedb.records import dump_json

BASE_TIME = datetime.datetime(2024, 1, 1, 12, 0, 0)
_clock = itertools.count()


def next_time() -> datetime.datetime:
    """A fresh, strictly increasing creation time (one second apart)."""
    return BASE_TIME + datetime.timedelta(seconds=next(_clock))


def insert_image(
    conn: Connection,
    *,
    properties: dict[str, str | None] | None = None,
    tags: Iterable[str] = (),
    members: Iterable[tuple[str, str]] = (),
    locations: Iterable[str] = (),
    **columns: Any,
) -> str:
    """Insert one image (active, shared, owner tenant-a unless given) and children.

    ``members`` is a list of ``(member, status)``; a status prefixed with
    ``-`` makes the membership row soft-deleted.  Returns the image id.
    """
    created = columns.pop("created_at", None) or next_time()
    row: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "name": None,
        "status": "active",
        "visibility": "shared",
        "owner": "tenant-a",
        "min_disk": 0,
        "min_ram": 0,
        "protected": False,
        "os_hidden": False,
        "created_at": created,
        "updated_at": created,
        "deleted": False,
        "deleted_at": None,
    }
    row.update(columns)
    conn.execute(t.images.insert(), [row])
    image_id: str = row["id"]
    child = {"image_id": image_id, "created_at": created, "updated_at": created}
    if properties:
        conn.execute(
            t.image_properties.insert(),
            [{**child, "name": k, "value": v, "deleted": False} for k, v in properties.items()],
        )
    tag_rows = [{**child, "value": tag, "deleted": False} for tag in tags]
    if tag_rows:
        conn.execute(t.image_tags.insert(), tag_rows)
    member_rows = [
        {
            **child,
            "member": member,
            "status": status.lstrip("-"),
            "can_share": False,
            "deleted": status.startswith("-"),
            "deleted_at": created if status.startswith("-") else None,
        }
        for member, status in members
    ]
    if member_rows:
        conn.execute(t.image_members.insert(), member_rows)
    location_rows = [
        {
            **child,
            "value": url,
            "meta_data": dump_json({"n": i}),
            "status": "active",
            "deleted": False,
        }
        for i, url in enumerate(locations)
    ]
    if location_rows:
        conn.execute(t.image_locations.insert(), location_rows)
    return image_id


def add_image(db: Database, **kwargs: Any) -> str:
    """:func:`insert_image` in its own transaction."""
    with db.engine.begin() as conn:
        return insert_image(conn, **kwargs)


def add_rows(db: Database, table: Any, rows: list[dict[str, Any]]) -> None:
    """Insert raw rows into ``table`` in one transaction."""
    with db.engine.begin() as conn:
        conn.execute(table.insert(), rows)
