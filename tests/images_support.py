"""Helpers of the image, location and visibility tests: raw reads and child rows.

Members and tags are inserted with plain SQLAlchemy Core so that these tests
depend only on the table definitions, not on the member and tag calls.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from glancedb import Database
from glancedb.models import tables as t
from glancedb.timeutils import utcnow

IMAGE_TABLES = ("images", "image_properties", "image_locations", "image_members", "image_tags")


def count_rows(db: Database, table_name: str) -> int:
    """Number of rows (deleted ones included) of ``table_name``."""
    table = getattr(t, table_name)
    with db.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def row_counts(db: Database) -> dict[str, int]:
    """Row counts of every image-side table."""
    return {name: count_rows(db, name) for name in IMAGE_TABLES}


def table_rows(db: Database, table_name: str, **where: Any) -> list[dict[str, Any]]:
    """Rows of ``table_name`` matching ``where`` (equality), ordered by primary key."""
    table = getattr(t, table_name)
    stmt = select(table)
    for column, value in where.items():
        stmt = stmt.where(table.c[column] == value)
    order = table.c.id
    with db.engine.connect() as conn:
        return [dict(row) for row in conn.execute(stmt.order_by(order)).mappings()]


def snapshot(db: Database) -> dict[str, list[dict[str, Any]]]:
    """Every row of every image-side table, to compare before and after a call."""
    return {name: table_rows(db, name) for name in IMAGE_TABLES}


def add_member(
    db: Database, image_id: str, member: str, status: str = "accepted", *, deleted: bool = False
) -> None:
    """Insert one ``image_members`` row."""
    now = utcnow()
    with db.engine.begin() as conn:
        conn.execute(
            t.image_members.insert().values(
                image_id=image_id,
                member=member,
                can_share=False,
                status=status,
                created_at=now,
                updated_at=now,
                deleted=deleted,
                deleted_at=now if deleted else None,
            )
        )


def add_tag(db: Database, image_id: str, value: str) -> None:
    """Insert one live ``image_tags`` row."""
    now = utcnow()
    with db.engine.begin() as conn:
        conn.execute(
            t.image_tags.insert().values(
                image_id=image_id, value=value, created_at=now, updated_at=now, deleted=False
            )
        )
