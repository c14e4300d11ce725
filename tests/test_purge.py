"""Purging soft-deleted rows (SPEC 10), on every backend."""

from __future__ import annotations

import datetime
from collections import defaultdict
from typing import Any

import pytest
from sqlalchemy import Table, event, exc, select

from glancedb import Database, RequestContext, exception
from glancedb.models import tables as t
from glancedb.purge import IMAGE_CHILD_TABLES
from tests.support.backends import count_statements
from tests.support.factories import (
    child_row,
    count_rows,
    days_ago,
    ids,
    image_row,
    insert,
    task_info_row,
    task_row,
)

AGES = (1, 5, 10, 20, 40)  # days since deletion
CUTOFF_DAYS = 7
CHILD_NAMES = [table.name for table in IMAGE_CHILD_TABLES]


class Data:
    """What was inserted: ids per table, and the rows expected to survive."""

    def __init__(self) -> None:
        self.keep: dict[str, set[Any]] = defaultdict(set)
        self.purge: dict[str, set[Any]] = defaultdict(set)
        self.skipped_images: set[str] = set()

    def expect(self, table: str, key: Any, purged: bool) -> None:
        (self.purge if purged else self.keep)[table].add(key)


def populate(db: Database) -> Data:
    """A mix of soft-deleted and live rows at several ages."""
    data = Data()
    images: list[dict[str, Any]] = []
    children: dict[str, list[dict[str, Any]]] = defaultdict(list)
    tasks: list[dict[str, Any]] = []
    infos: list[dict[str, Any]] = []

    def add_children(image_id: str, deleted_at: Any) -> None:
        for table in IMAGE_CHILD_TABLES:
            for _ in range(2):
                row = child_row(table, image_id, deleted=deleted_at is not None)
                row["deleted_at"] = deleted_at
                children[table.name].append(row)

    for age in AGES:
        when = days_ago(age)
        # A deleted image whose children were deleted with it.
        image = image_row(deleted=True, deleted_at=when, status="deleted")
        images.append(image)
        add_children(image["id"], when)
        data.expect("images", image["id"], purged=age > CUTOFF_DAYS)
        # A live image with some deleted children of that age.
        live = image_row()
        images.append(live)
        add_children(live["id"], when)
        add_children(live["id"], None)
        data.expect("images", live["id"], purged=False)
        # A deleted task with its info, and one without info.
        task = task_row(deleted=True, deleted_at=when)
        tasks.append(task)
        infos.append(task_info_row(task["id"], input='{"a": 1}', message="m"))
        data.expect("tasks", task["id"], purged=age > CUTOFF_DAYS)
        data.expect("task_info", task["id"], purged=age > CUTOFF_DAYS)
        bare = task_row(deleted=True, deleted_at=when)
        tasks.append(bare)
        data.expect("tasks", bare["id"], purged=age > CUTOFF_DAYS)

    old = days_ago(30)
    # Old deleted image whose children were deleted only recently: skipped.
    young_children = image_row(deleted=True, deleted_at=old)
    images.append(young_children)
    add_children(young_children["id"], days_ago(1))
    data.skipped_images.add(young_children["id"])
    # Old deleted image with live children (an inconsistent database): skipped.
    live_children = image_row(deleted=True, deleted_at=old)
    images.append(live_children)
    add_children(live_children["id"], None)
    data.skipped_images.add(live_children["id"])
    for image_id in data.skipped_images:
        data.expect("images", image_id, purged=False)
    # Revived rows keep an old deleted_at but are live: never purged.
    revived_task = task_row(deleted=False, deleted_at=old)
    tasks.append(revived_task)
    infos.append(task_info_row(revived_task["id"]))
    data.expect("tasks", revived_task["id"], purged=False)
    data.expect("task_info", revived_task["id"], purged=False)
    revived_image = image_row(deleted=False, deleted_at=old)
    images.append(revived_image)
    data.expect("images", revived_image["id"], purged=False)
    # Deleted without a deletion time: no age, never purged.
    timeless = task_row(deleted=True, deleted_at=None)
    tasks.append(timeless)
    data.expect("tasks", timeless["id"], purged=False)

    insert(db, t.images, images)
    for table in IMAGE_CHILD_TABLES:
        insert(db, table, children[table.name])
    insert(db, t.tasks, tasks)
    insert(db, t.task_info, infos)
    for table in IMAGE_CHILD_TABLES:
        for row in children[table.name]:
            purged = row["deleted"] and row["deleted_at"] < days_ago(CUTOFF_DAYS)
            data.expect(table.name, _child_key(row), purged)
    return data


def _child_key(row: dict[str, Any]) -> tuple[Any, ...]:
    return (row["image_id"], row.get("name"), row.get("value"), row.get("member"))


def child_keys(db: Database, table: Any) -> set[tuple[Any, ...]]:
    with db.engine.connect() as conn:
        return {_child_key(dict(r)) for r in conn.execute(select(table)).mappings()}


def insert_deleted_children(db: Database, table: Table, count: int) -> None:
    """A live image with ``count`` rows of ``table`` soft-deleted 30 days ago."""
    image = image_row()
    insert(db, t.images, [image])
    when = days_ago(30)
    insert(
        db,
        table,
        [child_row(table, image["id"], deleted=True, deleted_at=when) for _ in range(count)],
    )


def surviving(db: Database) -> dict[str, set[Any]]:
    state = {table.name: child_keys(db, table) for table in IMAGE_CHILD_TABLES}
    state["images"] = ids(db, t.images)
    state["tasks"] = ids(db, t.tasks)
    state["task_info"] = ids(db, t.task_info, "task_id")
    return state


def test_purge_removes_exactly_the_old_rows(db: Database, admin_ctx: RequestContext) -> None:
    data = populate(db)
    result = db.purge_deleted_rows(admin_ctx, CUTOFF_DAYS, -1)
    assert result == {name: len(data.purge[name]) for name in ["task_info", "tasks", *CHILD_NAMES]}
    state = surviving(db)
    for name in ["tasks", "task_info", *CHILD_NAMES]:
        assert state[name] == data.keep[name], name
    # The regular purge never touches images.
    assert state["images"] == data.keep["images"] | data.purge["images"]

    result = db.purge_deleted_rows_from_images(admin_ctx, CUTOFF_DAYS, -1)
    assert result == {"images": len(data.purge["images"]), "images_skipped": 2}
    assert ids(db, t.images) == data.keep["images"]
    # Nothing left to do: a second run deletes nothing.
    assert set(db.purge_deleted_rows(admin_ctx, CUTOFF_DAYS, -1).values()) == {0}
    again = db.purge_deleted_rows_from_images(admin_ctx, CUTOFF_DAYS, -1)
    assert again == {"images": 0, "images_skipped": 2}


def test_purge_images_first_skips_every_referenced_image(
    db: Database, admin_ctx: RequestContext
) -> None:
    data = populate(db)
    before = count_rows(db, t.images)
    result = db.purge_deleted_rows_from_images(admin_ctx, CUTOFF_DAYS, -1)
    # Every old deleted image still has child rows: all skipped, no FK error.
    assert result == {"images": 0, "images_skipped": len(data.purge["images"]) + 2}
    assert count_rows(db, t.images) == before


def test_a_row_deleted_exactly_at_the_cutoff_is_kept(
    db: Database, admin_ctx: RequestContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    # "More than age_in_days ago": deleted_at < now - age, as Glance's purge.
    now = datetime.datetime(2031, 5, 6, 7, 8, 9, 123456)
    monkeypatch.setattr("glancedb.purge.utcnow", lambda: now)
    cutoff = now - datetime.timedelta(days=CUTOFF_DAYS)
    just_before = cutoff - datetime.timedelta(microseconds=1)
    at_cutoff = image_row(deleted=True, deleted_at=cutoff, status="deleted")
    older = image_row(deleted=True, deleted_at=just_before, status="deleted")
    tasks = [task_row(deleted=True, deleted_at=when) for when in (cutoff, just_before)]
    insert(db, t.images, [at_cutoff, older])
    insert(db, t.tasks, tasks)
    assert db.purge_deleted_rows(admin_ctx, CUTOFF_DAYS, -1)["tasks"] == 1
    assert db.purge_deleted_rows_from_images(admin_ctx, CUTOFF_DAYS, -1)["images"] == 1
    assert ids(db, t.images) == {at_cutoff["id"]}
    assert ids(db, t.tasks) == {tasks[0]["id"]}


def test_purge_age_zero_takes_everything_deleted(db: Database, admin_ctx: RequestContext) -> None:
    populate(db)
    db.purge_deleted_rows(admin_ctx, 0, -1)
    db.purge_deleted_rows_from_images(admin_ctx, 0, -1)
    with db.engine.connect() as conn:
        for table in (*IMAGE_CHILD_TABLES, t.tasks, t.images):
            stale = select(table.c.id).where(
                table.c.deleted.is_(True), table.c.deleted_at.is_not(None)
            )
            remaining = set(conn.execute(stale).scalars())
            if table is t.images:
                assert len(remaining) == 1  # the one with live children
            else:
                assert remaining == set(), table.name


def test_max_rows_limits_each_table_oldest_first(db: Database, admin_ctx: RequestContext) -> None:
    data = populate(db)
    tags = t.image_tags
    with db.engine.connect() as conn:
        ordered = list(
            conn.execute(
                select(tags.c.id)
                .where(tags.c.deleted.is_(True), tags.c.deleted_at < days_ago(CUTOFF_DAYS))
                .order_by(tags.c.deleted_at, tags.c.id)
            ).scalars()
        )
    result = db.purge_deleted_rows(admin_ctx, CUTOFF_DAYS, 3)
    assert all(value <= 3 for value in result.values())
    assert result["image_tags"] == 3 and result["tasks"] == 3
    assert not ids(db, tags) & set(ordered[:3])
    assert ids(db, tags) >= set(ordered[3:])
    # Tasks go with their info: never an info row without its task.
    assert ids(db, t.task_info, "task_id") <= ids(db, t.tasks)
    # Repeated runs finish the job.
    while any(db.purge_deleted_rows(admin_ctx, CUTOFF_DAYS, 3).values()):
        pass
    state = surviving(db)
    for name in ["tasks", "task_info", *CHILD_NAMES]:
        assert state[name] == data.keep[name], name
    first = db.purge_deleted_rows_from_images(admin_ctx, CUTOFF_DAYS, 1)
    assert first["images"] == 1
    with db.engine.connect() as conn:
        left = list(
            conn.execute(
                select(t.images.c.deleted_at).where(t.images.c.id.in_(data.purge["images"]))
            ).scalars()
        )
    oldest_gone = days_ago(max(AGES))
    assert all(when > oldest_gone for when in left)
    assert db.purge_deleted_rows(admin_ctx, CUTOFF_DAYS, 0) == dict.fromkeys(
        ["task_info", "tasks", *CHILD_NAMES], 0
    )


def test_batches_are_bounded_and_separate_transactions(
    db: Database, admin_ctx: RequestContext
) -> None:
    insert_deleted_children(db, t.image_properties, 23)
    commits: list[int] = []

    def on_commit(_conn: Any) -> None:
        commits.append(1)

    event.listen(db.engine, "commit", on_commit)
    try:
        with count_statements(db) as counter:
            result = db.purge_deleted_rows(admin_ctx, 1, -1, batch_size=5)
    finally:
        event.remove(db.engine, "commit", on_commit)
    assert result["image_properties"] == 23
    deletes = [
        s
        for s in counter.statements
        if s.lstrip().upper().startswith("DELETE FROM IMAGE_PROPERTIES")
    ]
    assert len(deletes) == 5  # 5 + 5 + 5 + 5 + 3
    assert len(commits) >= 5
    assert count_rows(db, t.image_properties) == 0


def test_each_batch_is_retried_on_its_own(db: Database, admin_ctx: RequestContext) -> None:
    insert_deleted_children(db, t.image_tags, 6)
    seen: list[str] = []

    def fail_second_delete_once(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().upper().startswith("DELETE FROM IMAGE_TAGS"):
            seen.append(statement)
            if len(seen) == 2:
                raise exc.OperationalError(statement, {}, Exception("deadlock detected"))

    event.listen(db.engine, "before_cursor_execute", fail_second_delete_once)
    try:
        result = db.purge_deleted_rows(admin_ctx, 1, -1, batch_size=2)
    finally:
        event.remove(db.engine, "before_cursor_execute", fail_second_delete_once)
    assert result["image_tags"] == 6
    assert len(seen) == 4  # three batches, the second one twice
    assert count_rows(db, t.image_tags) == 0


def test_dry_run_counts_without_deleting(db: Database, admin_ctx: RequestContext) -> None:
    populate(db)
    before = surviving(db)
    for max_rows in (-1, 3):
        dry = db.purge_deleted_rows(admin_ctx, CUTOFF_DAYS, max_rows, dry_run=True)
        dry_images = db.purge_deleted_rows_from_images(
            admin_ctx, CUTOFF_DAYS, max_rows, dry_run=True
        )
        assert surviving(db) == before
        assert dry_images["images"] == 0  # children not purged yet
        if max_rows == 3:
            assert all(value <= 3 for value in dry.values())
    dry = db.purge_deleted_rows(admin_ctx, CUTOFF_DAYS, -1, dry_run=True)
    real = db.purge_deleted_rows(admin_ctx, CUTOFF_DAYS, -1)
    assert dry == real
    dry_images = db.purge_deleted_rows_from_images(admin_ctx, CUTOFF_DAYS, 2, dry_run=True)
    real_images = db.purge_deleted_rows_from_images(admin_ctx, CUTOFF_DAYS, 2)
    assert dry_images == real_images == {"images": 2, "images_skipped": 2}


def test_dry_run_task_info_count_follows_max_rows(db: Database, admin_ctx: RequestContext) -> None:
    rows = [task_row(deleted=True, deleted_at=days_ago(30 - i)) for i in range(4)]
    insert(db, t.tasks, rows)
    # Only the two newest of the four have info rows.
    insert(db, t.task_info, [task_info_row(row["id"]) for row in rows[2:]])
    assert db.purge_deleted_rows(admin_ctx, 1, 2, dry_run=True)["task_info"] == 0
    assert db.purge_deleted_rows(admin_ctx, 1, 3, dry_run=True)["task_info"] == 1
    result = db.purge_deleted_rows(admin_ctx, 1, 3)
    assert (result["tasks"], result["task_info"]) == (3, 1)


def test_progress_reports_every_batch(db: Database, admin_ctx: RequestContext) -> None:
    populate(db)
    reported: dict[str, int] = defaultdict(int)
    calls: list[tuple[str, int]] = []

    def progress(table: str, rows: int) -> None:
        calls.append((table, rows))
        reported[table] += rows

    result = db.purge_deleted_rows(admin_ctx, CUTOFF_DAYS, -1, progress=progress, batch_size=3)
    assert {k: v for k, v in result.items() if v} == dict(reported)
    assert all(0 < rows <= 3 for _, rows in calls)


@pytest.mark.parametrize(
    ("age", "max_rows", "match"),
    [
        (1, 2**31, "max_rows"),
        (1, -2, "max_rows"),
        (1, "many", "max_rows"),
        (-1, 10, "age_in_days"),
        ("old", 10, "age_in_days"),
    ],
)
def test_bad_arguments_are_invalid(
    db: Database, admin_ctx: RequestContext, age: Any, max_rows: Any, match: str
) -> None:
    populate(db)
    before = surviving(db)
    with pytest.raises(exception.Invalid, match=match):
        db.purge_deleted_rows(admin_ctx, age, max_rows)
    with pytest.raises(exception.Invalid, match=match):
        db.purge_deleted_rows_from_images(admin_ctx, age, max_rows)
    assert surviving(db) == before


def test_max_rows_at_the_int32_limit_is_accepted(db: Database, admin_ctx: RequestContext) -> None:
    populate(db)
    result = db.purge_deleted_rows(admin_ctx, CUTOFF_DAYS, 2**31 - 1)
    assert result["tasks"] > 0


def test_sqlite_batches_fit_a_low_parameter_limit(tmp_path: Any) -> None:
    # Older SQLite builds allow only 999 bound parameters per statement.
    import sqlite3

    database = Database(f"sqlite:///{tmp_path / 'limited.sqlite'}")

    @event.listens_for(database.engine, "connect")
    def lower_limit(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 100)

    database.db_sync()
    insert_deleted_children(database, t.image_tags, 250)
    result = database.purge_deleted_rows(RequestContext(is_admin=True), 1, -1)
    assert result["image_tags"] == 250
    database.dispose()


def test_options_of_the_wrong_type_are_invalid(db: Database, admin_ctx: RequestContext) -> None:
    populate(db)
    before = surviving(db)
    for kwargs, match in (
        ({"progress": "not callable"}, "progress"),
        ({"batch_size": 2**40}, "batch_size"),
        ({"batch_size": [5]}, "batch_size"),
        ({"max_rows": 2**64}, "max_rows"),
    ):
        arguments: dict[str, Any] = {"age_in_days": CUTOFF_DAYS, "max_rows": 10, **kwargs}
        with pytest.raises(exception.Invalid, match=match):
            db.purge_deleted_rows(admin_ctx, **arguments)
        with pytest.raises(exception.Invalid, match=match):
            db.purge_deleted_rows_from_images(admin_ctx, **arguments)
    for age in (2**64, float("nan"), {"days": 1}):
        with pytest.raises(exception.Invalid, match="age_in_days"):
            db.purge_deleted_rows(admin_ctx, age, 10)
    assert surviving(db) == before
