"""A small database with a row in every table and odd values, for copy tests.

Unicode (three-byte characters only: MySQL's ``utf8`` columns hold no more),
long texts, NULLs, booleans both ways, every visibility (PostgreSQL's enum),
JSON text, soft-deleted rows, and timestamps with microseconds.
"""

from __future__ import annotations

import datetime
from typing import Any

from sqlalchemy import select

from glancedb import Database
from glancedb.context import get_admin_context
from glancedb.metadefs.loader import load_metadefs
from glancedb.models import tables as t
from tests.support.data_files import SMALL_CATALOGUE
from tests.support.factories import (
    image_row,
    insert,
    location_row,
    member_row,
    property_row,
    tag_row,
    task_info_row,
    task_row,
)

ADMIN = get_admin_context()

#: A time with microseconds (kept by SQLite and PostgreSQL).
PRECISE = datetime.datetime(2024, 2, 29, 23, 59, 58, 987654)
UNICODE = "Ünïcødé ✓ 中文 ᚠ"
LONG = "long value " * 5000  # 55,000 characters: more than a VARCHAR, within MySQL's TEXT


def fill(database: Database) -> dict[str, int]:
    """Write the catalogue into ``database`` (synced, empty); return rows per table."""
    images = [
        image_row(
            name=UNICODE,
            size=2**40,
            visibility="public",
            protected=True,
            created_at=PRECISE,
            updated_at=PRECISE,
            checksum="c" * 32,
        ),
        image_row(
            name=None,
            size=None,
            visibility="private",
            os_hidden=True,
            owner=None,
            disk_format="qcow2",
            container_format="bare",
            min_disk=2**31 - 1,
        ),
        image_row(name="community", visibility="community", status="queued"),
        image_row(
            name="gone", visibility="shared", status="deleted", deleted=True, deleted_at=PRECISE
        ),
    ]
    insert_each(database, t.images, images)
    first, second = images[0]["id"], images[1]["id"]
    insert(
        database,
        t.image_properties,
        [
            property_row(first, name="os_distro", value=UNICODE, created_at=PRECISE),
            property_row(first, name="blob", value=LONG),
            property_row(first, name="nothing", value=None),
            property_row(second, name="old", value="x", deleted=True, deleted_at=PRECISE),
        ],
    )
    insert(
        database,
        t.image_locations,
        [
            location_row(first, value="rbd://pool/img", meta_data='{"store": "ceph", "n": [1, 2]}'),
            location_row(
                first, value="file:///gone", status="deleted", deleted=True, deleted_at=PRECISE
            ),
            location_row(second, value="swift://x", meta_data=None),
        ],
    )
    insert(
        database,
        t.image_members,
        [
            member_row(first, member="tenant-b", can_share=True, status="accepted"),
            member_row(
                second, member="tenant-c", status="pending", deleted=True, deleted_at=PRECISE
            ),
        ],
    )
    insert(
        database,
        t.image_tags,
        [
            tag_row(first, value=UNICODE),
            tag_row(first, value="plain"),
            tag_row(second, value="x"),
        ],
    )
    tasks = [
        task_row(
            status="success", expires_at=PRECISE, image_id=first, request_id="req", user_id="user"
        ),
        task_row(deleted=True, deleted_at=PRECISE),
    ]
    insert_each(database, t.tasks, tasks)
    insert(
        database,
        t.task_info,
        [
            task_info_row(
                tasks[0]["id"],
                input=f'{{"image_id": "{first}"}}',
                result='"not json {"',
                message=UNICODE,
            ),
            task_info_row(tasks[1]["id"]),
        ],
    )
    summary = load_metadefs(database, str(SMALL_CATALOGUE))
    assert summary.ok
    database.node_reference_create(ADMIN, "http://cache-1:9292")
    database.node_reference_create(ADMIN, "http://cache-2:9292")
    database.insert_cache_details(
        ADMIN, "http://cache-1:9292", first, 123, checksum="abc", last_accessed=PRECISE, hits=7
    )
    database.insert_cache_details(ADMIN, "http://cache-2:9292", second, 0)
    return row_counts(database)


def insert_each(database: Database, table: Any, rows: list[dict[str, Any]]) -> None:
    """Insert rows one by one (their keys differ)."""
    for row in rows:
        insert(database, table, [row])


def row_counts(database: Database) -> dict[str, int]:
    with database.engine.connect() as conn:
        return {table.name: len(conn.execute(select(table)).all()) for table in t.DELETE_ORDER}


def dump(database: Database, *, whole_seconds: bool = False) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, sorted, values as the driver returns them.

    ``whole_seconds`` drops microseconds (to compare with a database that
    keeps none).
    """
    result: dict[str, list[tuple[Any, ...]]] = {}
    with database.engine.connect() as conn:
        for table in t.DELETE_ORDER:
            rows = []
            for row in conn.execute(select(table)):
                values = []
                for value in row:
                    if isinstance(value, datetime.datetime) and whole_seconds:
                        value = value.replace(microsecond=0)
                    values.append(value)
                rows.append(tuple(values))
            result[table.name] = sorted(rows, key=repr)
    return result
