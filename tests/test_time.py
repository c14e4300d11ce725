"""Time keeps its microseconds (SPEC 1.4), on every backend.

Every writer sets ``updated_at`` (or ``deleted_at`` / ``last_accessed``) to
an exact now, so a change made in the same second as the create still moves
it forward; values given by callers are stored exactly; ordering and paging
by ``created_at`` tell microseconds apart; an expiry of "now" is expired a
moment later.  On SQLite the stored text is the one SQLAlchemy writes, so a
file can be shared with Glance.
"""

from __future__ import annotations

import datetime
import random
import re
import sqlite3
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    create_engine,
    select,
)

from glancedb import Database, RequestContext
from glancedb.models import tables as t
from glancedb.timeutils import to_timestamp
from tests.support.factories import image_row, insert, table_rows, task_row

#: A time with microseconds, the way Glance's upper layer sends them.
EXACT = datetime.datetime(2024, 5, 1, 12, 0, 7, 237074)
SQLALCHEMY_SQLITE_TEXT = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}$")


def callers_now() -> datetime.datetime:
    """Now as a caller's own clock gives it (naive UTC, microseconds included)."""
    return datetime.datetime.now(datetime.UTC).replace(tzinfo=None)


def stored(db: Database, table: Table, **where: Any) -> dict[str, Any]:
    """The one row of ``table`` matching ``where``, read back raw."""
    rows = table_rows(db, table, **where)
    assert len(rows) == 1, rows
    return rows[0]


# --- every writer moves updated_at forward ---------------------------------------------
#
# Each case creates a record through the API (times: now, microseconds
# included) and at once changes it, in the same second in practice.  It
# returns the time before, the time the change stored (read back raw) and
# the time the call returned, if it returns the record.

Change = tuple[datetime.datetime, datetime.datetime, datetime.datetime | None]
Writer = Callable[[Database, RequestContext], Change]


def _image(db: Database, ctx: RequestContext, **values: Any) -> dict[str, Any]:
    return db.image_create(ctx, {"status": "active", "owner": ctx.owner, **values})


def image_update(db: Database, ctx: RequestContext) -> Change:
    image = _image(db, ctx)
    updated = db.image_update(ctx, image["id"], {"name": "x"})
    row = stored(db, t.images, id=image["id"])
    return image["updated_at"], row["updated_at"], updated["updated_at"]


def image_update_properties_only(db: Database, ctx: RequestContext) -> Change:
    image = _image(db, ctx, properties={"a": "1"})
    updated = db.image_update(ctx, image["id"], {"properties": {"a": "2"}})
    prop = stored(db, t.image_properties, image_id=image["id"])
    assert prop["updated_at"] > image["properties"][0]["updated_at"]
    row = stored(db, t.images, id=image["id"])
    return image["updated_at"], row["updated_at"], updated["updated_at"]


def image_destroy(db: Database, ctx: RequestContext) -> Change:
    image = _image(db, ctx, properties={"a": "1"})
    db.image_tag_create(ctx, image["id"], "t")
    destroyed = db.image_destroy(ctx, image["id"])
    row = stored(db, t.images, id=image["id"])
    assert row["deleted_at"] == row["updated_at"] == destroyed["deleted_at"]
    assert row["deleted_at"] > image["created_at"]
    for child in (t.image_properties, t.image_tags):
        assert stored(db, child, image_id=image["id"])["deleted_at"] == row["deleted_at"]
    return image["updated_at"], row["updated_at"], destroyed["updated_at"]


def image_restore(db: Database, ctx: RequestContext) -> Change:
    image = _image(db, ctx, status="pending_delete")
    db.image_restore(ctx, image["id"])
    row = stored(db, t.images, id=image["id"])
    return image["updated_at"], row["updated_at"], None


def image_location_update(db: Database, ctx: RequestContext) -> Change:
    image = _image(db, ctx, locations=[{"url": "file:///a", "metadata": {}, "status": "active"}])
    location = image["locations"][0]
    before = stored(db, t.image_locations, id=location["id"])["updated_at"]
    db.image_location_update(
        ctx, image["id"], {"id": location["id"], "url": "file:///b", "metadata": {}}
    )
    return before, stored(db, t.image_locations, id=location["id"])["updated_at"], None


def image_property_delete(db: Database, ctx: RequestContext) -> Change:
    image = _image(db, ctx, properties={"a": "1"})
    prop = image["properties"][0]
    deleted = db.image_property_delete(ctx, "a", image["id"])
    row = stored(db, t.image_properties, id=prop["id"])
    assert row["deleted_at"] == row["updated_at"]
    return prop["updated_at"], row["updated_at"], deleted["updated_at"]


def image_tag_delete(db: Database, ctx: RequestContext) -> Change:
    image = _image(db, ctx)
    db.image_tag_create(ctx, image["id"], "t")
    before = stored(db, t.image_tags, image_id=image["id"])["updated_at"]
    db.image_tag_delete(ctx, image["id"], "t")
    return before, stored(db, t.image_tags, image_id=image["id"])["updated_at"], None


def image_member_update(db: Database, ctx: RequestContext) -> Change:
    image = _image(db, ctx)
    member = db.image_member_create(ctx, {"image_id": image["id"], "member": "tenant-b"})
    updated = db.image_member_update(ctx, member["id"], {"status": "accepted"})
    row = stored(db, t.image_members, id=member["id"])
    return member["updated_at"], row["updated_at"], updated["updated_at"]


def image_member_delete(db: Database, ctx: RequestContext) -> Change:
    image = _image(db, ctx)
    member = db.image_member_create(ctx, {"image_id": image["id"], "member": "tenant-b"})
    db.image_member_delete(ctx, member["id"])
    row = stored(db, t.image_members, id=member["id"])
    assert row["deleted_at"] == row["updated_at"]
    return member["updated_at"], row["updated_at"], None


def task_update(db: Database, ctx: RequestContext) -> Change:
    task = db.task_create(ctx, {"type": "import", "status": "pending", "owner": ctx.owner})
    updated = db.task_update(ctx, task["id"], {"status": "processing"})
    row = stored(db, t.tasks, id=task["id"])
    return task["updated_at"], row["updated_at"], updated["updated_at"]


def task_delete(db: Database, ctx: RequestContext) -> Change:
    task = db.task_create(ctx, {"type": "import", "status": "pending", "owner": ctx.owner})
    deleted = db.task_delete(ctx, task["id"])
    row = stored(db, t.tasks, id=task["id"])
    assert row["deleted_at"] == row["updated_at"]
    return task["updated_at"], row["updated_at"], deleted["updated_at"]


def metadef_namespace_update(db: Database, ctx: RequestContext) -> Change:
    ns = db.metadef_namespace_create(ctx, {"namespace": "NS"})
    updated = db.metadef_namespace_update(ctx, ns["id"], {"display_name": "x"})
    row = stored(db, t.metadef_namespaces, id=ns["id"])
    return ns["updated_at"], row["updated_at"], updated["updated_at"]


def _metadef_update(kind: str, table: Table, values: dict[str, Any]) -> Writer:
    def change(db: Database, ctx: RequestContext) -> Change:
        db.metadef_namespace_create(ctx, {"namespace": "NS"})
        created = getattr(db, f"metadef_{kind}_create")(ctx, "NS", values)
        updated = getattr(db, f"metadef_{kind}_update")(ctx, "NS", created["id"], {"name": "y"})
        row = stored(db, table, id=created["id"])
        return created["updated_at"], row["updated_at"], updated["updated_at"]

    change.__name__ = f"metadef_{kind}_update"
    return change


def update_hit_count(db: Database, ctx: RequestContext) -> Change:
    db.node_reference_create(ctx, "http://node")
    db.insert_cache_details(ctx, "http://node", "img", 10)
    before = stored(db, t.cached_images, image_id="img")["last_accessed"]
    db.update_hit_count(ctx, "img", "http://node")
    return before, stored(db, t.cached_images, image_id="img")["last_accessed"], None


WRITERS: list[Writer] = [
    image_update,
    image_update_properties_only,
    image_destroy,
    image_restore,
    image_location_update,
    image_property_delete,
    image_tag_delete,
    image_member_update,
    image_member_delete,
    task_update,
    task_delete,
    metadef_namespace_update,
    _metadef_update("object", t.metadef_objects, {"name": "x", "json_schema": {}}),
    _metadef_update("property", t.metadef_properties, {"name": "x", "json_schema": {}}),
    _metadef_update("tag", t.metadef_tags, {"name": "x"}),
    update_hit_count,
]


@pytest.mark.parametrize("writer", WRITERS, ids=lambda w: w.__name__)
def test_a_change_right_after_the_create_moves_the_time_forward(
    db: Database, ctx: RequestContext, writer: Writer
) -> None:
    before, after, returned = writer(db, ctx)
    assert after > before
    if returned is not None:
        assert returned == after  # what the call returned is what was stored


def test_an_update_never_goes_back_before_a_create_with_microseconds(
    db: Database, ctx: RequestContext
) -> None:
    # Glance's upper layer sends created_at/updated_at of its own clock.
    now = callers_now()
    image = _image(db, ctx, created_at=now, updated_at=now)
    assert (image["created_at"], image["updated_at"]) == (now, now)
    updated = db.image_update(ctx, image["id"], {"name": "x"})
    assert updated["updated_at"] > now
    assert updated["created_at"] == now


# --- caller-given times are stored exactly --------------------------------------------


def test_image_times_round_trip_exactly(db: Database, admin_ctx: RequestContext) -> None:
    times = {
        "created_at": EXACT,
        "updated_at": EXACT + datetime.timedelta(microseconds=1),
        "deleted": True,
        "deleted_at": EXACT + datetime.timedelta(microseconds=999999),
    }
    image = db.image_create(admin_ctx, {"status": "active", **times})
    row = stored(db, t.images, id=image["id"])
    shown = db.image_get(admin_ctx, image["id"], force_show_deleted=True)
    for key in ("created_at", "updated_at", "deleted_at"):
        assert image[key] == row[key] == shown[key] == times[key]


def test_property_and_member_times_round_trip_exactly(db: Database, ctx: RequestContext) -> None:
    image = _image(db, ctx)
    prop = db.image_property_create(
        ctx,
        {
            "image_id": image["id"],
            "name": "p",
            "value": "v",
            "created_at": EXACT,
            "updated_at": EXACT,
        },
    )
    member = db.image_member_create(
        ctx,
        {
            "image_id": image["id"],
            "member": "tenant-b",
            "created_at": EXACT,
            "updated_at": EXACT + datetime.timedelta(microseconds=5),
            "deleted": True,
            "deleted_at": EXACT + datetime.timedelta(microseconds=7),
        },
    )
    prop_row = stored(db, t.image_properties, id=prop["id"])
    member_row = stored(db, t.image_members, id=member["id"])
    assert prop["created_at"] == prop_row["created_at"] == prop_row["updated_at"] == EXACT
    assert member_row["created_at"] == member["created_at"] == EXACT
    assert (
        member_row["updated_at"]
        == member["updated_at"]
        == EXACT + datetime.timedelta(microseconds=5)
    )
    assert member_row["deleted_at"] == EXACT + datetime.timedelta(microseconds=7)


def test_task_times_round_trip_exactly(db: Database, ctx: RequestContext) -> None:
    expires = EXACT + datetime.timedelta(days=3650, microseconds=3)
    task = db.task_create(
        ctx,
        {
            "type": "import",
            "status": "pending",
            "owner": ctx.owner,
            "created_at": EXACT,
            "updated_at": EXACT,
            "expires_at": expires,
        },
    )
    row = stored(db, t.tasks, id=task["id"])
    assert (row["created_at"], row["updated_at"], row["expires_at"]) == (EXACT, EXACT, expires)
    assert db.task_get(ctx, task["id"])["expires_at"] == expires


def test_cache_times_round_trip_exactly(db: Database, admin_ctx: RequestContext) -> None:
    db.node_reference_create(admin_ctx, "http://node")
    accessed = EXACT
    modified = EXACT + datetime.timedelta(microseconds=1)
    db.insert_cache_details(
        admin_ctx, "http://node", "a", 1, last_accessed=accessed, last_modified=modified
    )
    # A POSIX timestamp keeps its microseconds too.
    db.insert_cache_details(
        admin_ctx,
        "http://node",
        "b",
        1,
        last_accessed=to_timestamp(modified),
        last_modified=to_timestamp(accessed),
    )
    rows = {row["image_id"]: row for row in table_rows(db, t.cached_images)}
    assert (rows["a"]["last_accessed"], rows["a"]["last_modified"]) == (accessed, modified)
    assert (rows["b"]["last_accessed"], rows["b"]["last_modified"]) == (modified, accessed)
    cached = {c["image_id"]: c for c in db.get_cached_images(admin_ctx, "http://node")}
    assert cached["a"]["last_accessed"] == to_timestamp(accessed)
    assert cached["a"]["last_modified"] == to_timestamp(modified)
    assert db.get_least_recently_accessed(admin_ctx, "http://node") == "a"


def test_metadef_times_round_trip_exactly(db: Database, ctx: RequestContext) -> None:
    later = EXACT + datetime.timedelta(microseconds=1)
    ns = db.metadef_namespace_create(
        ctx, {"namespace": "NS", "created_at": EXACT, "updated_at": later}
    )
    assert (ns["created_at"], ns["updated_at"]) == (EXACT, later)
    row = stored(db, t.metadef_namespaces, id=ns["id"])
    assert (row["created_at"], row["updated_at"]) == (EXACT, later)
    for kind, table, values in (
        ("object", t.metadef_objects, {"json_schema": {}}),
        ("property", t.metadef_properties, {"json_schema": {}}),
        ("tag", t.metadef_tags, {}),
    ):
        created = getattr(db, f"metadef_{kind}_create")(
            ctx, "NS", {"name": kind, "created_at": later, "updated_at": EXACT, **values}
        )
        assert (created["created_at"], created["updated_at"]) == (later, EXACT)
        row = stored(db, table, id=created["id"])
        assert (row["created_at"], row["updated_at"]) == (later, EXACT)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    moment=st.datetimes(
        min_value=datetime.datetime(1000, 1, 1), max_value=datetime.datetime(9999, 12, 31)
    )
)
def test_any_time_round_trips_exactly(
    db: Database, admin_ctx: RequestContext, moment: datetime.datetime
) -> None:
    image = db.image_create(admin_ctx, {"status": "active", "created_at": moment})
    assert db.image_get(admin_ctx, image["id"])["created_at"] == moment
    assert stored(db, t.images, id=image["id"])["created_at"] == moment
    db.image_destroy(admin_ctx, image["id"])


# --- ordering and paging by created_at -------------------------------------------------


@pytest.mark.parametrize("direction", ["desc", "asc"])
def test_listing_orders_and_pages_by_microseconds(
    db: Database, admin_ctx: RequestContext, direction: str
) -> None:
    # Twelve images in one second, created in a shuffled order: only the
    # microseconds tell them apart (the ids would order them otherwise).
    offsets = random.Random(7).sample(range(1_000_000), 12)
    made = {
        db.image_create(
            admin_ctx,
            {"status": "active", "created_at": EXACT.replace(microsecond=offset)},
        )["id"]: offset
        for offset in offsets
    }
    expected = sorted(made, key=made.__getitem__, reverse=direction == "desc")
    assert sorted(made) != expected
    listed = db.image_get_all(admin_ctx, sort_key=["created_at"], sort_dir=[direction])
    assert [image["id"] for image in listed] == expected
    pages: list[str] = []
    marker = None
    for _ in range(len(made)):  # bounded: a broken marker could loop
        page = db.image_get_all(
            admin_ctx, marker=marker, limit=5, sort_key=["created_at"], sort_dir=[direction]
        )
        if not page:
            break
        pages.extend(image["id"] for image in page)
        marker = page[-1]["id"]
    assert pages == expected


@pytest.mark.parametrize("direction", ["desc", "asc"])
def test_paging_by_a_nullable_time_with_whole_seconds_and_microseconds(
    db: Database, admin_ctx: RequestContext, direction: str
) -> None:
    """``updated_at`` may be NULL (it sorts as a fixed early time): pages by it
    still meet every image once, whether a time has a fraction or not."""
    whole = EXACT.replace(microsecond=0)
    times = [None, whole, whole, whole + datetime.timedelta(microseconds=1), None, EXACT, whole]
    rows = [image_row(created_at=whole, updated_at=updated) for updated in times]
    insert(db, t.images, rows)
    made = [row["id"] for row in rows]
    empty = datetime.datetime(1900, 1, 1)
    expected = [
        image_id
        for image_id, _ in sorted(
            zip(made, times, strict=True),
            key=lambda pair: (pair[1] or empty, pair[0]),
            reverse=direction == "desc",
        )
    ]
    options: dict[str, Any] = {"sort_key": ["updated_at"], "sort_dir": [direction]}
    assert [i["id"] for i in db.image_get_all(admin_ctx, **options)] == expected
    pages: list[str] = []
    marker = None
    for _ in range(len(expected) + 1):  # bounded: a broken marker could loop
        page = db.image_get_all(admin_ctx, marker=marker, limit=1, **options)
        if not page:
            break
        pages.append(page[0]["id"])
        marker = page[0]["id"]
    assert pages == expected


def test_created_at_filters_tell_microseconds_apart(
    db: Database, admin_ctx: RequestContext
) -> None:
    early = db.image_create(admin_ctx, {"status": "active", "created_at": EXACT})
    late = db.image_create(
        admin_ctx,
        {"status": "active", "created_at": EXACT + datetime.timedelta(microseconds=1)},
    )
    after = db.image_get_all(admin_ctx, filters={"created_at": f"gt:{EXACT.isoformat()}"})
    assert [image["id"] for image in after] == [late["id"]]
    same = db.image_get_all(admin_ctx, filters={"created_at": f"eq:{EXACT.isoformat()}"})
    assert [image["id"] for image in same] == [early["id"]]


def test_task_listing_pages_by_microseconds(db: Database, ctx: RequestContext) -> None:
    offsets = random.Random(11).sample(range(1_000_000), 9)
    rows = [task_row(created_at=EXACT.replace(microsecond=offset)) for offset in offsets]
    insert(db, t.tasks, rows)
    expected = [row["id"] for row in sorted(rows, key=lambda r: r["created_at"], reverse=True)]
    pages: list[str] = []
    marker = None
    for _ in range(len(rows)):  # bounded: a broken marker could loop
        page = db.task_get_all(ctx, marker=marker, limit=4)
        if not page:
            break
        pages.extend(task["id"] for task in page)
        marker = page[-1]["id"]
    assert pages == expected


# --- an expiry of "now" is expired -------------------------------------------------------


def test_a_task_expiring_now_is_expired_a_moment_later(db: Database, ctx: RequestContext) -> None:
    image = _image(db, ctx)
    common = {"type": "import", "status": "success", "owner": ctx.owner, "image_id": image["id"]}
    expiring = db.task_create(ctx, {**common, "expires_at": callers_now()})
    lasting = db.task_create(
        ctx, {**common, "expires_at": callers_now() + datetime.timedelta(hours=1)}
    )
    assert [task["id"] for task in db.tasks_get_by_image(ctx, image["id"])] == [lasting["id"]]
    assert stored(db, t.tasks, id=expiring["id"])["deleted"] is True


def test_task_get_all_soft_deletes_a_task_expiring_now(db: Database, ctx: RequestContext) -> None:
    expiring = db.task_create(
        ctx,
        {"type": "import", "status": "success", "owner": ctx.owner, "expires_at": callers_now()},
    )
    listed = {task["id"]: task for task in db.task_get_all(ctx)}
    assert listed[expiring["id"]]["deleted"] is True
    assert listed[expiring["id"]]["deleted_at"] > expiring["expires_at"]
    assert db.task_get_all(ctx, filters={"deleted": False}) == []


# --- SQLite: the text SQLAlchemy writes, shared with Glance ---------------------------------


def _glance_style_images(engine_url: Any) -> tuple[Any, Table]:
    """An engine and ``images`` declared the way Glance's models declare it
    (plain ``DateTime`` columns), for the columns an image row needs."""
    metadata = MetaData()
    images = Table(
        "images",
        metadata,
        Column("id", String(36), primary_key=True),
        Column("status", String(30), nullable=False),
        Column("created_at", DateTime, nullable=False),
        Column("updated_at", DateTime),
        Column("deleted", Boolean, nullable=False),
        Column("min_disk", Integer, nullable=False),
        Column("min_ram", Integer, nullable=False),
        Column("protected", Boolean, nullable=False),
    )
    return create_engine(engine_url), images


@pytest.mark.backends("sqlite")
def test_sqlite_stores_sqlalchemys_text(db: Database, admin_ctx: RequestContext) -> None:
    whole = datetime.datetime(2024, 5, 1, 12, 0, 7)
    first = db.image_create(admin_ctx, {"status": "active", "created_at": EXACT})
    second = db.image_create(admin_ctx, {"status": "active", "created_at": whole})
    raw = sqlite3.connect(str(db.engine.url.database))
    try:
        texts = dict(raw.execute("SELECT id, created_at FROM images").fetchall())
        updated = raw.execute("SELECT updated_at FROM images WHERE id = ?", (first["id"],))
        updated_text = updated.fetchone()[0]
    finally:
        raw.close()
    assert texts == {
        first["id"]: "2024-05-01 12:00:07.237074",
        second["id"]: "2024-05-01 12:00:07.000000",
    }
    assert SQLALCHEMY_SQLITE_TEXT.match(updated_text)


@pytest.mark.backends("sqlite")
def test_sqlite_every_written_time_is_sqlalchemys_text(db: Database, ctx: RequestContext) -> None:
    """Whatever writes it (inserts, updates, INSERT ... SELECT, bulk writes), every
    timestamp of every table is stored in the one text form."""
    image = _image(
        db,
        ctx,
        properties={"a": "1", "b": "2"},
        locations=[{"url": "file:///a", "metadata": {}, "status": "active"}],
    )
    db.image_tag_set_all(ctx, image["id"], ["x", "y"])
    member = db.image_member_create(ctx, {"image_id": image["id"], "member": "tenant-b"})
    db.image_member_update(ctx, member["id"], {"status": "accepted"})
    db.image_update(ctx, image["id"], {"properties": {"a": "3"}}, purge_props=True)
    db.task_create(
        ctx,
        {"type": "import", "status": "pending", "owner": ctx.owner, "expires_at": callers_now()},
    )
    db.task_get_all(ctx)  # soft-deletes the expired task
    db.metadef_namespace_create(ctx, {"namespace": "NS"})
    db.metadef_tag_create_tags(ctx, "NS", [{"name": "t1"}, {"name": "t2"}])
    db.metadef_resource_type_association_create(ctx, "NS", {"name": "OS::Glance::Image"})
    db.node_reference_create(ctx, "http://node")
    db.insert_cache_details(ctx, "http://node", image["id"], 1)
    db.update_hit_count(ctx, image["id"], "http://node")
    db.image_destroy(ctx, image["id"])
    raw = sqlite3.connect(str(db.engine.url.database))
    try:
        texts = [
            (table.name, column.name, value)
            for table in t.DELETE_ORDER
            for column in table.columns
            if isinstance(column.type, DateTime)
            for (value,) in raw.execute(f"SELECT {column.name} FROM {table.name}")
            if value is not None
        ]
    finally:
        raw.close()
    assert {name for name, _column, _value in texts} >= {
        "images",
        "image_properties",
        "image_locations",
        "image_members",
        "image_tags",
        "tasks",
        "metadef_namespaces",
        "metadef_tags",
        "metadef_resource_types",
        "metadef_namespace_resource_types",
        "cached_images",
    }
    assert [text for text in texts if not SQLALCHEMY_SQLITE_TEXT.match(text[2])] == []


def test_rows_are_shared_with_glance_style_code(db: Database, admin_ctx: RequestContext) -> None:
    """Glance's driver declares plain ``DateTime`` columns: what it writes glancedb
    reads exactly, and the other way round (on MySQL: on the widened columns)."""
    glance_engine, glance_images = _glance_style_images(db.engine.url)
    try:
        with glance_engine.begin() as conn:
            conn.execute(
                glance_images.insert(),
                [
                    {
                        "id": "g",
                        "status": "active",
                        "created_at": EXACT,
                        "updated_at": EXACT,
                        "deleted": False,
                        "min_disk": 0,
                        "min_ram": 0,
                        "protected": False,
                    }
                ],
            )
        assert db.image_get(admin_ctx, "g")["created_at"] == EXACT
        ours = db.image_create(admin_ctx, {"status": "active", "created_at": EXACT})
        with glance_engine.connect() as conn:
            read = conn.execute(
                select(glance_images.c.created_at).where(glance_images.c.id == ours["id"])
            ).scalar_one()
        assert read == EXACT
        if db.backend == "sqlite":
            raw = sqlite3.connect(str(db.engine.url.database))
            try:
                texts = {row[0] for row in raw.execute("SELECT created_at FROM images")}
            finally:
                raw.close()
            assert texts == {"2024-05-01 12:00:07.237074"}
    finally:
        glance_engine.dispose()
