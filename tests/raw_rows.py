"""Test helpers: image-side rows written directly with SQLAlchemy Core.

Tests of tasks, usage, purge and the cache build their data with plain
inserts, so that they depend on nothing but the table definitions.
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table, func, select

from glancedb import Database
from glancedb.models import tables as t
from glancedb.timeutils import utcnow


def image_row(**columns: Any) -> dict[str, Any]:
    """An ``images`` row: active, owner ``tenant-a``, shared, unless given."""
    now = utcnow()
    row: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "name": None,
        "size": None,
        "status": "active",
        "owner": "tenant-a",
        "visibility": "shared",
        "min_disk": 0,
        "min_ram": 0,
        "protected": False,
        "os_hidden": False,
        "created_at": now,
        "updated_at": now,
        "deleted": False,
        "deleted_at": None,
    }
    row.update(columns)
    return row


def child_row(table: Table, image_id: str, **columns: Any) -> dict[str, Any]:
    """A live row of an image child table, with the columns it needs."""
    now = utcnow()
    row: dict[str, Any] = {
        "image_id": image_id,
        "created_at": now,
        "updated_at": now,
        "deleted": False,
        "deleted_at": None,
    }
    if table is t.image_properties:
        row.update(name=f"p-{uuid.uuid4().hex[:12]}", value="v")
    elif table is t.image_locations:
        row.update(value=f"file:///{uuid.uuid4().hex}", meta_data="{}", status="active")
    elif table is t.image_members:
        row.update(member=f"m-{uuid.uuid4().hex[:12]}", can_share=False, status="accepted")
    elif table is t.image_tags:
        row.update(value=f"tag-{uuid.uuid4().hex[:8]}")
    row.update(columns)
    return row


def task_row(**columns: Any) -> dict[str, Any]:
    """A ``tasks`` row: an import task of ``tenant-a``, pending, unless given."""
    now = utcnow()
    row: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "type": "import",
        "status": "pending",
        "owner": "tenant-a",
        "expires_at": None,
        "image_id": None,
        "request_id": None,
        "user_id": None,
        "created_at": now,
        "updated_at": now,
        "deleted": False,
        "deleted_at": None,
    }
    row.update(columns)
    return row


def insert(db: Database, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Insert ``rows`` into ``table`` in one executemany."""
    if rows:
        with db.engine.begin() as conn:
            conn.execute(table.insert(), list(rows))


def insert_image(db: Database, **columns: Any) -> str:
    """Insert one image row and return its id."""
    row = image_row(**columns)
    insert(db, t.images, [row])
    return str(row["id"])


def count(db: Database, table: Table) -> int:
    """Number of rows in ``table``."""
    with db.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def ids(db: Database, table: Table, column: str = "id") -> set[Any]:
    """The set of ``column`` values of ``table``."""
    with db.engine.connect() as conn:
        return set(conn.execute(select(table.c[column])).scalars())


def days_ago(days: float) -> datetime.datetime:
    """Naive UTC, no microseconds, ``days`` before now."""
    return utcnow() - datetime.timedelta(days=days)
