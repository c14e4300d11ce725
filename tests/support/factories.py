"""Test data written directly with SQLAlchemy Core, and raw reads of the tables.

Tests build their rows with plain inserts so that they depend on nothing but
the table definitions, never on the calls under test.  Every builder sets the
bookkeeping columns explicitly (``created_at``, ``updated_at``, ``deleted``,
``deleted_at``) and takes any column as a keyword to override its default.

Builders ending in ``_row`` return a dict and write nothing (build many, then
:func:`insert` them in one executemany); ``insert_image``, ``add_member`` and
``add_tag`` write at once, each in its own transaction.
"""

from __future__ import annotations

import datetime
import itertools
import uuid
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from sqlalchemy import Table, func, select

from glancedb import Database
from glancedb.models import tables as t
from glancedb.records import dump_json
from glancedb.timeutils import utcnow

#: The image-side tables, in the order :func:`snapshot` and :func:`row_counts` list them.
IMAGE_TABLES: tuple[Table, ...] = (
    t.images,
    t.image_properties,
    t.image_locations,
    t.image_members,
    t.image_tags,
)

#: Start of :func:`next_time`'s clock.
BASE_TIME = datetime.datetime(2024, 1, 1, 12, 0, 0)
_clock = itertools.count()


def next_time() -> datetime.datetime:
    """A fresh creation time, one second after the previous one (from :data:`BASE_TIME`)."""
    return BASE_TIME + datetime.timedelta(seconds=next(_clock))


def days_ago(days: float) -> datetime.datetime:
    """Naive UTC (microseconds included, as glancedb stores them), ``days`` before now."""
    return utcnow() - datetime.timedelta(days=days)


def _unique(prefix: str, length: int = 12) -> str:
    return f"{prefix}{uuid.uuid4().hex[:length]}"


def _stamped(columns: dict[str, Any], **defaults: Any) -> dict[str, Any]:
    """``defaults`` with live-row bookkeeping, then ``columns`` on top.

    ``created_at`` is now unless given; ``updated_at`` follows ``created_at``.
    """
    created = columns.get("created_at") or utcnow()
    row: dict[str, Any] = {
        **defaults,
        "created_at": created,
        "updated_at": created,
        "deleted": False,
        "deleted_at": None,
    }
    row.update(columns)
    return row


# --- row builders ---------------------------------------------------------------------


def image_row(**columns: Any) -> dict[str, Any]:
    """An ``images`` row: active, owner ``tenant-a``, shared, unless given."""
    return _stamped(
        columns,
        id=str(uuid.uuid4()),
        name=None,
        size=None,
        status="active",
        owner="tenant-a",
        visibility="shared",
        min_disk=0,
        min_ram=0,
        protected=False,
        os_hidden=False,
    )


def property_row(image_id: str, **columns: Any) -> dict[str, Any]:
    """An ``image_properties`` row with a fresh name and the value ``v``, unless given."""
    return _stamped(columns, image_id=image_id, name=_unique("p-"), value="v")


def location_row(image_id: str, **columns: Any) -> dict[str, Any]:
    """An active ``image_locations`` row with a fresh URL and empty metadata, unless given."""
    return _stamped(
        columns,
        image_id=image_id,
        value=f"file:///{uuid.uuid4().hex}",
        meta_data="{}",
        status="active",
    )


def member_row(image_id: str, **columns: Any) -> dict[str, Any]:
    """An accepted, non-sharing ``image_members`` row of a fresh member, unless given."""
    return _stamped(
        columns, image_id=image_id, member=_unique("m-"), can_share=False, status="accepted"
    )


def tag_row(image_id: str, **columns: Any) -> dict[str, Any]:
    """An ``image_tags`` row with a fresh value, unless given."""
    return _stamped(columns, image_id=image_id, value=_unique("tag-", 8))


_CHILD_BUILDERS: dict[str, Callable[..., dict[str, Any]]] = {
    t.image_properties.name: property_row,
    t.image_locations.name: location_row,
    t.image_members.name: member_row,
    t.image_tags.name: tag_row,
}


def child_row(table: Table, image_id: str, **columns: Any) -> dict[str, Any]:
    """A row of the image child table ``table`` (see the builder of each table)."""
    return _CHILD_BUILDERS[table.name](image_id, **columns)


def task_row(**columns: Any) -> dict[str, Any]:
    """A ``tasks`` row: an import task of ``tenant-a``, pending, not expiring, unless given."""
    return _stamped(
        columns,
        id=str(uuid.uuid4()),
        type="import",
        status="pending",
        owner="tenant-a",
        expires_at=None,
        image_id=None,
        request_id=None,
        user_id=None,
    )


def task_info_row(task_id: str, **columns: Any) -> dict[str, Any]:
    """A ``task_info`` row of ``task_id``: no input, result or message unless given."""
    return {"task_id": task_id, "input": None, "result": None, "message": None, **columns}


# --- writing --------------------------------------------------------------------------


def insert(db: Database, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Insert ``rows`` into ``table`` in one executemany (nothing when empty)."""
    if rows:
        with db.engine.begin() as conn:
            conn.execute(table.insert(), list(rows))


def insert_image(
    db: Database,
    *,
    properties: dict[str, str | None] | None = None,
    tags: Iterable[str] = (),
    members: Iterable[tuple[str, str]] = (),
    locations: Iterable[str] = (),
    **columns: Any,
) -> str:
    """Insert one image (:func:`image_row` defaults) and its children; return its id.

    The image and its children share one creation time: ``created_at`` if
    given, else :func:`next_time`, so that images inserted one after the other
    list newest first.  ``members`` is a list of ``(member, status)``; a
    status prefixed with ``-`` makes the membership soft-deleted.  Location
    ``i`` has the metadata ``{"n": i}``.
    """
    columns.setdefault("created_at", next_time())
    row = image_row(**columns)
    image_id: str = row["id"]
    when = {"created_at": row["created_at"]}
    children: dict[Table, list[dict[str, Any]]] = {
        t.image_properties: [
            property_row(image_id, name=name, value=value, **when)
            for name, value in (properties or {}).items()
        ],
        t.image_tags: [tag_row(image_id, value=value, **when) for value in tags],
        t.image_members: [
            member_row(
                image_id,
                member=member,
                status=status.lstrip("-"),
                deleted=status.startswith("-"),
                deleted_at=row["created_at"] if status.startswith("-") else None,
                **when,
            )
            for member, status in members
        ],
        t.image_locations: [
            location_row(image_id, value=url, meta_data=dump_json({"n": i}), **when)
            for i, url in enumerate(locations)
        ],
    }
    with db.engine.begin() as conn:
        conn.execute(t.images.insert(), [row])
        for table, rows in children.items():
            if rows:
                conn.execute(table.insert(), rows)
    return image_id


def add_member(
    db: Database, image_id: str, member: str, status: str = "accepted", *, deleted: bool = False
) -> None:
    """Insert one ``image_members`` row; a deleted one is deleted now."""
    deleted_at = utcnow() if deleted else None
    row = member_row(image_id, member=member, status=status, deleted=deleted, deleted_at=deleted_at)
    insert(db, t.image_members, [row])


def add_tag(db: Database, image_id: str, value: str) -> None:
    """Insert one live ``image_tags`` row."""
    insert(db, t.image_tags, [tag_row(image_id, value=value)])


# --- reading --------------------------------------------------------------------------


def table_rows(db: Database, table: Table, **where: Any) -> list[dict[str, Any]]:
    """Rows of ``table`` (deleted ones included) matching ``where`` (equality), by id."""
    stmt = select(table)
    for column, value in where.items():
        stmt = stmt.where(table.c[column] == value)
    with db.engine.connect() as conn:
        return [dict(row) for row in conn.execute(stmt.order_by(table.c.id)).mappings()]


def count_rows(db: Database, table: Table) -> int:
    """Number of rows (deleted ones included) of ``table``."""
    with db.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def ids(db: Database, table: Table, column: str = "id") -> set[Any]:
    """The set of ``column`` values of ``table``."""
    with db.engine.connect() as conn:
        return set(conn.execute(select(table.c[column])).scalars())


def row_counts(db: Database) -> dict[str, int]:
    """Row counts of every image-side table, by table name."""
    return {table.name: count_rows(db, table) for table in IMAGE_TABLES}


def snapshot(db: Database) -> dict[str, list[dict[str, Any]]]:
    """Every row of every image-side table, to compare before and after a call."""
    return {table.name: table_rows(db, table) for table in IMAGE_TABLES}
