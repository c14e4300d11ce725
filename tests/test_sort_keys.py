"""Every column a listing takes as its sort key pages completely and in order.

For images, tasks, metadef namespaces and metadef tags: each column, both
directions, NULLs and ties included, walked page by page through markers.
The pages together must be the whole listing, each row once, ordered by
the key (a NULL counting as the column type's empty value: '', 0, False,
1900-01-01).  A marker row's value is what the next page compares with, so
every column type is compared here at least once (booleans were refused by
SQLAlchemy as the right side of ``<``).
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Sequence
from typing import Any

import pytest
from sqlalchemy import Table

from glancedb import Database, RequestContext
from glancedb.keyset import sort_value
from glancedb.models import tables as t
from tests.support.factories import image_row, insert, task_row

ADMIN = RequestContext(is_admin=True)
ROWS = 13
PAGE = 3
START = datetime.datetime(2024, 5, 1, 12, 0, 0, 250000)


def cycle(values: Sequence[Any], i: int) -> Any:
    return values[i % len(values)]


def moment(i: int) -> datetime.datetime:
    # Four distinct times for thirteen rows: ties broken by the keys after them.
    return START + datetime.timedelta(hours=i % 4)


def assert_pages_complete_and_ordered(
    table: Table, column: str, direction: str, fetch: Callable[[Any, int | None], list[Any]]
) -> None:
    """``fetch(marker, limit)`` lists the rows: walked page by page (the last
    row's id as the next marker), the pages are the whole listing, in order."""
    full = fetch(None, None)
    assert len(full) == ROWS
    paged: list[Any] = []
    marker = None
    for _ in range(ROWS + 2):
        page = fetch(marker, PAGE)
        if not page:
            break
        assert len(page) <= PAGE
        paged.extend(page)
        marker = page[-1]["id"]
    else:
        raise AssertionError("the pages never ended")
    assert [r["id"] for r in paged] == [r["id"] for r in full]
    # A NULL orders as its type's empty value, an enum as its text.
    order = [sort_value(table.c[column], r[column]) for r in full]
    assert order == sorted(order, reverse=direction == "desc"), (column, direction, order)


def image_values(i: int) -> dict[str, Any]:
    return image_row(
        name=cycle([None, "alpha", "beta", "alpha"], i),
        disk_format=cycle([None, "qcow2", "raw"], i),
        container_format=cycle([None, "bare", "ovf"], i),
        size=cycle([None, 0, 5, 5, 10**12], i),
        virtual_size=cycle([None, 3, 3, 2**40], i),
        status=cycle(["active", "queued", "saving"], i),
        visibility=cycle(["public", "private", "shared", "community"], i),
        checksum=cycle([None, "c1", "c0"], i),
        os_hash_algo=cycle([None, "sha512"], i),
        os_hash_value=cycle([None, "h2", "h1"], i),
        min_disk=cycle([0, 1, 0, 20], i),
        min_ram=cycle([512, 0, 512], i),
        owner=cycle([None, "tenant-a", "tenant-b"], i),
        protected=cycle([False, True], i),
        os_hidden=cycle([True, False, False], i),
        deleted_at=cycle([None, moment(1), moment(2)], i),
        created_at=moment(i),
        updated_at=cycle([None, moment(3), moment(3), moment(0)], i),
    )


@pytest.mark.parametrize("direction", ["asc", "desc"])
@pytest.mark.parametrize("column", [c.name for c in t.images.c])
def test_images_page_by_every_column(db: Database, column: str, direction: str) -> None:
    insert(db, t.images, [image_values(i) for i in range(ROWS)])
    # 'all': community images too (left out of a listing without the filter).
    options: dict[str, Any] = {
        "filters": {"visibility": "all"},
        "sort_key": [column],
        "sort_dir": [direction],
    }
    assert_pages_complete_and_ordered(
        t.images,
        column,
        direction,
        lambda marker, limit: db.image_get_all(ADMIN, marker=marker, limit=limit, **options),
    )


def task_values(i: int) -> dict[str, Any]:
    future = datetime.datetime(2999, 1, 1)
    return task_row(
        type=cycle(["import", "api_image_import", "import"], i),
        status=cycle(["pending", "success", "failure"], i),
        owner=cycle(["tenant-a", "tenant-b"], i),
        expires_at=cycle([None, future, future + datetime.timedelta(days=1)], i),
        image_id=cycle([None, "img-b", "img-a"], i),
        request_id=cycle([None, "req-1"], i),
        user_id=cycle([None, "user-2", "user-1", None], i),
        deleted_at=cycle([None, moment(1)], i),
        created_at=moment(i),
        updated_at=cycle([None, moment(2)], i),
    )


@pytest.mark.parametrize("direction", ["asc", "desc"])
@pytest.mark.parametrize("column", [c.name for c in t.tasks.c])
def test_tasks_page_by_every_column(db: Database, column: str, direction: str) -> None:
    insert(db, t.tasks, [task_values(i) for i in range(ROWS)])
    assert_pages_complete_and_ordered(
        t.tasks,
        column,
        direction,
        lambda marker, limit: db.task_get_all(
            ADMIN, marker=marker, limit=limit, sort_key=column, sort_dir=direction
        ),
    )


def make_namespaces(db: Database) -> None:
    for i in range(ROWS):
        db.metadef_namespace_create(
            ADMIN,
            {
                "namespace": f"ns-{(i * 7) % ROWS:02d}",
                "display_name": cycle([None, "shown", "other", "shown"], i),
                "description": cycle([None, "b text", "a text"], i),
                "visibility": cycle(["public", "private"], i),
                "protected": cycle([None, True, False], i),
                "owner": cycle(["tenant-a", "tenant-b", "admin"], i),
                "created_at": moment(i),
                "updated_at": cycle([moment(2), moment(0)], i),
            },
        )


@pytest.mark.parametrize("direction", ["asc", "desc"])
@pytest.mark.parametrize("column", [c.name for c in t.metadef_namespaces.c])
def test_metadef_namespaces_page_by_every_column(db: Database, column: str, direction: str) -> None:
    make_namespaces(db)
    options: dict[str, Any] = {"sort_key": column, "sort_dir": direction}
    assert_pages_complete_and_ordered(
        t.metadef_namespaces,
        column,
        direction,
        lambda marker, limit: db.metadef_namespace_get_all(
            ADMIN, marker=marker, limit=limit, **options
        ),
    )


@pytest.mark.parametrize("direction", ["asc", "desc"])
@pytest.mark.parametrize("column", [c.name for c in t.metadef_tags.c])
def test_metadef_tags_page_by_every_column(db: Database, column: str, direction: str) -> None:
    db.metadef_namespace_create(ADMIN, {"namespace": "tagged", "owner": "admin"})
    for i in range(ROWS):
        db.metadef_tag_create(
            ADMIN,
            "tagged",
            {"name": f"tag-{(i * 5) % ROWS:02d}", "created_at": moment(i)},
        )
    options: dict[str, Any] = {"sort_key": column, "sort_dir": direction}
    assert_pages_complete_and_ordered(
        t.metadef_tags,
        column,
        direction,
        lambda marker, limit: db.metadef_tag_get_all(
            ADMIN, "tagged", marker=marker, limit=limit, **options
        ),
    )
