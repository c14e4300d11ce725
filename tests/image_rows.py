"""Test helpers: image rows inserted directly, and child-table reads.

Tests of the property, member and tag calls build their images with plain
SQLAlchemy Core, so that they depend on nothing but the table definitions.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, select

from glancedb import Database
from glancedb.models import tables as t
from glancedb.timeutils import utcnow


def insert_image(db: Database, **columns: Any) -> str:
    """Insert one ``images`` row (status ``active``, owner ``tenant-a``,
    visibility ``shared`` unless given) and return its id."""
    now = utcnow()
    row: dict[str, Any] = {
        "id": str(uuid.uuid4()),
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
    }
    row.update(columns)
    with db.engine.begin() as conn:
        conn.execute(t.images.insert().values(**row))
    return str(row["id"])


def rows(db: Database, table_name: str, **where: Any) -> list[dict[str, Any]]:
    """Every row of ``table_name`` matching ``where`` (equality), ordered by id."""
    table = getattr(t, table_name)
    stmt = select(table)
    for column, value in where.items():
        stmt = stmt.where(table.c[column] == value)
    with db.engine.connect() as conn:
        return [dict(row) for row in conn.execute(stmt.order_by(table.c.id)).mappings()]


def count_rows(db: Database, table_name: str) -> int:
    """Number of rows of ``table_name``."""
    table = getattr(t, table_name)
    with db.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())
