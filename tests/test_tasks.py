"""Tasks and task info (SPEC 8), on every backend."""

from __future__ import annotations

import datetime
import pickle
import uuid
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from glancedb import Database, RequestContext, exception
from glancedb.models import tables as t
from glancedb.timeutils import utcnow
from tests.support.backends import clear_tables, count_statements
from tests.support.factories import days_ago, insert, task_row

TASK_KEYS = {
    "id",
    "type",
    "status",
    "owner",
    "expires_at",
    "image_id",
    "request_id",
    "user_id",
    "created_at",
    "updated_at",
    "deleted_at",
    "deleted",
}
INFO_KEYS = {"input", "result", "message"}


def make_task(db: Database, ctx: Any, **values: Any) -> Any:
    base = {"type": "import", "status": "pending", "owner": "tenant-a"}
    base.update(values)
    return db.task_create(ctx, base)


class ForeignContext:
    """A duck-typed context (like oslo.context's) exposing only the basics."""

    def __init__(self, project_id: str | None, is_admin: bool = False) -> None:
        self.project_id = project_id
        self.is_admin = is_admin
        self.show_deleted = False


# --- create / get ---------------------------------------------------------------


def test_create_returns_task_with_info(db: Database, ctx: RequestContext) -> None:
    task = make_task(
        db,
        ctx,
        input={"import_from": "http://x", "nested": [1, 2]},
        result=None,
        message="started",
        image_id="img-1",
        request_id="req-1",
        user_id="user-a",
    )
    assert set(task) == TASK_KEYS | INFO_KEYS
    assert task.input == {"import_from": "http://x", "nested": [1, 2]}
    assert task["result"] is None and task.message == "started"
    assert task.deleted is False and task.deleted_at is None
    assert task.created_at == task.updated_at
    uuid.UUID(task.id)
    again = db.task_get(ctx, task.id)
    assert again == task
    assert pickle.loads(pickle.dumps(again)) == again


def test_create_stores_given_id_times_and_deleted(db: Database, admin_ctx: Any) -> None:
    created = datetime.datetime(2020, 1, 2, 3, 4, 5)
    task = make_task(
        db,
        admin_ctx,
        id="t-1",
        created_at=created,
        updated_at=created,
        deleted=True,
        deleted_at=created,
        expires_at=datetime.datetime(2030, 1, 1, tzinfo=datetime.UTC),
    )
    assert task.id == "t-1"
    assert task.created_at == created and task.deleted is True and task.deleted_at == created
    assert task.expires_at == datetime.datetime(2030, 1, 1)


def test_json_string_input_round_trips(db: Database, ctx: RequestContext) -> None:
    task = make_task(db, ctx, input="{not json", result="plain")
    assert db.task_get(ctx, task.id)["input"] == "{not json"
    assert db.task_get(ctx, task.id)["result"] == "plain"


def test_create_duplicate_id(db: Database, ctx: RequestContext) -> None:
    make_task(db, ctx, id="dup")
    with pytest.raises(exception.Duplicate):
        make_task(db, ctx, id="dup")


@pytest.mark.parametrize("missing", ["type", "status", "owner"])
def test_create_requires_columns(db: Database, ctx: RequestContext, missing: str) -> None:
    values = {"type": "import", "status": "pending", "owner": "tenant-a"}
    del values[missing]
    with pytest.raises(exception.Invalid, match=missing):
        db.task_create(ctx, values)
    assert db.task_get_all(ctx) == []


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("type", "x" * 31),
        ("owner", "o" * 256),
        ("id", "i" * 37),
        ("request_id", "r" * 65),
    ],
)
def test_create_rejects_long_strings(
    db: Database, ctx: RequestContext, key: str, value: str
) -> None:
    with pytest.raises(exception.Invalid, match=rf"tasks\.{key}"):
        make_task(db, ctx, **{key: value})
    with db.transaction(write=False) as conn:
        assert conn.execute(select(t.tasks.c.id)).first() is None


@pytest.mark.parametrize("key", ["type", "message", "input"])
def test_create_rejects_four_byte_characters(db: Database, ctx: RequestContext, key: str) -> None:
    value: Any = "snake \U0001f40d"
    if key == "input":
        value = {"nested": ["ok", value]}
    with pytest.raises(exception.Invalid, match="4-byte"):
        make_task(db, ctx, **{key: value})
    with db.transaction(write=False) as conn:
        assert conn.execute(select(t.tasks.c.id)).first() is None
        assert conn.execute(select(t.task_info.c.task_id)).first() is None


def test_create_rejects_info_larger_than_text(db: Database, ctx: RequestContext) -> None:
    with pytest.raises(exception.Invalid, match=r"task_info\.message"):
        make_task(db, ctx, message="m" * 65536)
    task = make_task(db, ctx, message="m" * 65535)
    assert len(db.task_get(ctx, task.id).message) == 65535


def test_create_ignores_unknown_keys(db: Database, ctx: RequestContext) -> None:
    task = make_task(db, ctx, no_such_column="x")
    assert "no_such_column" not in task


def test_get_unknown_and_forbidden(
    db: Database, ctx: RequestContext, other_ctx: RequestContext, admin_ctx: Any
) -> None:
    with pytest.raises(exception.TaskNotFound, match="nope"):
        db.task_get(ctx, "nope")
    task = make_task(db, ctx)
    with pytest.raises(exception.Forbidden, match=task.id):
        db.task_get(other_ctx, task.id)
    with pytest.raises(exception.Forbidden):
        db.task_get(RequestContext(), task.id)
    assert db.task_get(admin_ctx, task.id)["id"] == task.id
    assert db.task_get(ForeignContext("tenant-a"), task.id)["id"] == task.id


def test_get_deleted_needs_show_deleted(db: Database, ctx: RequestContext) -> None:
    task = make_task(db, ctx)
    db.task_delete(ctx, task.id)
    with pytest.raises(exception.TaskNotFound):
        db.task_get(ctx, task.id)
    assert db.task_get(ctx, task.id, force_show_deleted=True).deleted is True
    shown = RequestContext(project_id="tenant-a", show_deleted=True)
    assert db.task_get(shown, task.id).deleted is True


def test_task_without_info_row(db: Database, ctx: RequestContext) -> None:
    row = task_row()
    insert(db, t.tasks, [row])
    task = db.task_get(ctx, row["id"])
    assert task.input is None and task.result is None and task.message is None


# --- update / delete ------------------------------------------------------------


def test_update_changes_columns_and_info(db: Database, ctx: RequestContext) -> None:
    old = datetime.datetime(2020, 1, 1)
    task = make_task(db, ctx, input={"a": 1}, message="m", created_at=old, updated_at=old)
    updated = db.task_update(
        ctx,
        task.id,
        {
            "status": "success",
            "result": {"image_id": "i1"},
            "created_at": datetime.datetime(1999, 1, 1),
            "id": "ignored",
            "bogus": 1,
        },
    )
    assert updated.id == task.id and updated.status == "success"
    assert updated.result == {"image_id": "i1"}
    assert updated.input == {"a": 1} and updated.message == "m"
    assert updated.created_at == old
    assert updated.updated_at >= utcnow() - datetime.timedelta(minutes=1)


def test_update_revives_unless_told(db: Database, ctx: RequestContext, admin_ctx: Any) -> None:
    task = make_task(db, ctx)
    db.task_delete(ctx, task.id)
    revived = db.task_update(admin_ctx, task.id, {"status": "processing"})
    assert revived.deleted is False
    gone = db.task_update(ctx, task.id, {"deleted": True})
    assert gone.deleted is True and gone.deleted_at is not None


def test_update_creates_missing_info_row(db: Database, ctx: RequestContext) -> None:
    row = task_row()
    insert(db, t.tasks, [row])
    assert db.task_update(ctx, row["id"], {"message": "hello"}).message == "hello"


def test_update_errors_write_nothing(
    db: Database, ctx: RequestContext, other_ctx: RequestContext
) -> None:
    task = make_task(db, ctx, message="before")
    with pytest.raises(exception.TaskNotFound):
        db.task_update(ctx, "missing", {"status": "x"})
    with pytest.raises(exception.Forbidden):
        db.task_update(other_ctx, task.id, {"message": "hijack"})
    with pytest.raises(exception.Invalid, match="4-byte"):
        db.task_update(ctx, task.id, {"message": "\U0001f600"})
    with pytest.raises(exception.Invalid, match=r"tasks\.status"):
        db.task_update(ctx, task.id, {"status": "s" * 31, "message": "half"})
    with pytest.raises(exception.Invalid, match="status"):
        db.task_update(ctx, task.id, {"status": None})
    assert db.task_get(ctx, task.id).message == "before"


def test_delete_soft_deletes(db: Database, ctx: RequestContext, other_ctx: RequestContext) -> None:
    task = make_task(db, ctx, message="keep")
    with pytest.raises(exception.Forbidden):
        db.task_delete(other_ctx, task.id)
    deleted = db.task_delete(ctx, task.id)
    assert deleted.deleted is True and deleted.deleted_at is not None
    assert deleted.message == "keep"
    with pytest.raises(exception.TaskNotFound):
        db.task_delete(ctx, task.id)
    with pytest.raises(exception.TaskNotFound):
        db.task_delete(ctx, "unknown")


# --- listing --------------------------------------------------------------------


def test_get_all_visibility(
    db: Database, ctx: RequestContext, other_ctx: RequestContext, admin_ctx: Any
) -> None:
    mine = make_task(db, ctx)
    theirs = make_task(db, other_ctx, owner="tenant-b")
    admins = make_task(db, admin_ctx, owner="admin-project")

    def listed(context: Any, **kw: Any) -> set[str]:
        return {task.id for task in db.task_get_all(context, **kw)}

    everything = {mine.id, theirs.id, admins.id}
    assert listed(ctx) == {mine.id}
    assert listed(other_ctx) == {theirs.id}
    assert listed(admin_ctx) == everything
    # A non-admin without an owner sees all (as Glance does).
    assert listed(RequestContext()) == everything
    assert listed(ForeignContext(None)) == everything
    assert listed(ForeignContext("tenant-b")) == {theirs.id}
    # admin_as_user narrows an admin to its own tasks ...
    admin_a = RequestContext(project_id="admin-project", is_admin=True)
    assert listed(admin_a, admin_as_user=True) == {admins.id}
    assert listed(admin_a) == everything
    # ... and never widens what a regular context sees (deliberate difference).
    assert listed(ctx, admin_as_user=True) == {mine.id}
    # An ownerless admin acting as a user is an ownerless user: sees all.
    assert listed(admin_ctx, admin_as_user=True) == everything


def test_get_all_returns_no_info(db: Database, ctx: RequestContext) -> None:
    make_task(db, ctx, input={"x": 1}, message="m")
    (task,) = db.task_get_all(ctx)
    assert set(task) == TASK_KEYS


def test_get_all_filters(db: Database, ctx: RequestContext, admin_ctx: Any) -> None:
    a = make_task(db, ctx, status="success", type="import")
    b = make_task(db, ctx, status="failure", type="import")
    c = make_task(db, ctx, status="success", type="api_image_import")
    db.task_delete(ctx, c.id)

    def listed(filters: dict[str, Any]) -> set[str]:
        return {task.id for task in db.task_get_all(ctx, filters=filters)}

    assert listed({}) == {a.id, b.id, c.id}  # no implicit deleted filter
    assert listed({"deleted": False}) == {a.id, b.id}
    assert listed({"deleted": True}) == {c.id}
    assert listed({"status": "success"}) == {a.id, c.id}
    assert listed({"status": "success", "deleted": False}) == {a.id}
    assert listed({"type": "import", "status": None, "unknown_key": "x"}) == {a.id, b.id}
    assert listed({"owner": "tenant-b"}) == set()
    filters = {"deleted": False, "status": "success"}
    db.task_get_all(ctx, filters=filters)
    assert filters == {"deleted": False, "status": "success"}  # caller's dict untouched


def test_get_all_sorting_and_marker_paging(db: Database, ctx: RequestContext) -> None:
    base = datetime.datetime(2024, 1, 1)
    created = []
    for i in range(7):
        # Pairs share a created_at so that the id tie-breaker matters.
        when = base + datetime.timedelta(minutes=i // 2)
        created.append(make_task(db, ctx, created_at=when, updated_at=when, status=f"s{i % 3}"))
    expected_desc = sorted(created, key=lambda task: (task.created_at, task.id), reverse=True)
    assert [task.id for task in db.task_get_all(ctx)] == [task.id for task in expected_desc]

    key_of = {task.id: task for task in created}
    for sort_key in ("created_at", "status", "id", "image_id", "deleted"):
        for sort_dir in ("asc", "desc"):
            full = [task.id for task in db.task_get_all(ctx, sort_key=sort_key, sort_dir=sort_dir)]
            assert len(full) == 7

            def order(task_id: str, sort_key: str = sort_key) -> tuple[Any, ...]:
                task = key_of[task_id]
                first = task[sort_key] if task[sort_key] is not None else ""
                return (first, task.created_at, task.id)

            assert full == sorted(full, key=order, reverse=sort_dir == "desc")
            pages: list[str] = []
            marker = None
            while True:
                page = db.task_get_all(
                    ctx, marker=marker, limit=3, sort_key=sort_key, sort_dir=sort_dir
                )
                pages += [task.id for task in page]
                if len(page) < 3:
                    break
                marker = page[-1].id
            assert pages == full


def test_get_all_limit_and_bad_arguments(db: Database, ctx: RequestContext) -> None:
    for _ in range(3):
        make_task(db, ctx)
    assert len(db.task_get_all(ctx, limit=2)) == 2
    assert db.task_get_all(ctx, limit=0) == []
    with pytest.raises(exception.Invalid, match="-1"):
        db.task_get_all(ctx, limit=-1)
    with pytest.raises(exception.InvalidSortKey, match="input"):
        db.task_get_all(ctx, sort_key="input")
    with pytest.raises(exception.InvalidSortKey, match="name; drop"):
        db.task_get_all(ctx, sort_key="name; drop table tasks")
    for bad in ("up", "ASC", " desc"):
        with pytest.raises(exception.InvalidSortDir, match=bad.strip()):
            db.task_get_all(ctx, sort_dir=bad)


def test_get_all_marker_errors_and_deleted_marker(
    db: Database, ctx: RequestContext, other_ctx: RequestContext
) -> None:
    with pytest.raises(exception.TaskNotFound):
        db.task_get_all(ctx, marker="missing")
    theirs = make_task(db, other_ctx, owner="tenant-b")
    with pytest.raises(exception.Forbidden):
        db.task_get_all(ctx, marker=theirs.id)
    old = make_task(db, ctx, created_at=datetime.datetime(2020, 1, 1))
    newer = make_task(db, ctx, created_at=datetime.datetime(2019, 1, 1))
    db.task_delete(ctx, old.id)
    db.task_delete(ctx, newer.id)
    with pytest.raises(exception.TaskNotFound):
        db.task_get_all(ctx, marker=old.id)
    page = db.task_get_all(ctx, filters={"deleted": True}, marker=old.id)
    assert [task.id for task in page] == [newer.id]


def test_listing_soft_deletes_callers_expired_tasks(
    db: Database, ctx: RequestContext, other_ctx: RequestContext
) -> None:
    past = days_ago(1)
    expired_mine = task_row(expires_at=past)
    expired_theirs = task_row(owner="tenant-b", expires_at=past)
    future = task_row(expires_at=utcnow() + datetime.timedelta(days=1))
    insert(db, t.tasks, [expired_mine, expired_theirs, future])
    listed = {task.id: task for task in db.task_get_all(ctx)}
    # Still listed (no implicit deleted filter), but now soft-deleted.
    assert listed[expired_mine["id"]].deleted is True
    assert listed[future["id"]].deleted is False
    assert {task.id for task in db.task_get_all(ctx, filters={"deleted": False})} == {future["id"]}
    # Another owner's expired task is left alone.
    admin_view = db.task_get(RequestContext(is_admin=True), expired_theirs["id"])
    assert admin_view.deleted is False


def test_a_task_expiring_this_very_moment_is_expired(
    db: Database, ctx: RequestContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Glance's rule is expires_at <= now: the boundary belongs to the past.
    now = datetime.datetime(2031, 5, 6, 7, 8, 9, 123456)
    monkeypatch.setattr("glancedb.tasks.utcnow", lambda: now)
    at_now = task_row(expires_at=now)
    just_after = task_row(expires_at=now + datetime.timedelta(microseconds=1))
    insert(db, t.tasks, [at_now, just_after])
    listed = {task.id: task for task in db.task_get_all(ctx)}
    assert listed[at_now["id"]].deleted is True
    assert listed[at_now["id"]].deleted_at == now
    assert listed[just_after["id"]].deleted is False


def test_get_all_statement_count_is_constant(db: Database, ctx: RequestContext) -> None:
    insert(db, t.tasks, [task_row() for _ in range(40)])
    with count_statements(db) as few:
        db.task_get_all(ctx, limit=5)
    with count_statements(db) as many:
        db.task_get_all(ctx)
    assert few.count == many.count <= 3


# --- tasks_get_by_image ---------------------------------------------------------


def test_tasks_get_by_image(
    db: Database, ctx: RequestContext, other_ctx: RequestContext, admin_ctx: Any
) -> None:
    image = "img-1"
    live = make_task(db, ctx, image_id=image, input={"i": 1}, message="m")
    make_task(db, ctx, image_id="other-image")
    theirs = make_task(db, other_ctx, owner="tenant-b", image_id=image)
    expired = task_row(image_id=image, expires_at=days_ago(1))
    expired_theirs = task_row(owner="tenant-b", image_id=image, expires_at=days_ago(1))
    future = task_row(image_id=image, expires_at=utcnow() + datetime.timedelta(hours=1))
    insert(db, t.tasks, [expired, expired_theirs, future])
    deleted = make_task(db, ctx, image_id=image)
    db.task_delete(ctx, deleted.id)

    found = db.tasks_get_by_image(ctx, image)
    assert {task.id for task in found} == {live.id, future["id"]}
    by_id = {task.id: task for task in found}
    assert by_id[live.id].input == {"i": 1} and by_id[live.id].message == "m"
    assert set(by_id[live.id]) == TASK_KEYS | INFO_KEYS
    # The caller's expired task was soft-deleted on the way.
    assert db.task_get(ctx, expired["id"], force_show_deleted=True).deleted is True
    # Admins see every owner's live tasks and (can_see_deleted) deleted ones.
    assert {task.id for task in db.tasks_get_by_image(admin_ctx, image)} == {
        live.id,
        theirs.id,
        future["id"],
        deleted.id,
    }
    assert db.tasks_get_by_image(ctx, "no-such-image") == []


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    rows=st.lists(
        st.tuples(
            st.integers(0, 3),  # created_at minute: many ties
            st.sampled_from(["pending", "success", "failure"]),
            st.one_of(st.none(), st.sampled_from(["img-a", "img-b"])),
            st.one_of(st.none(), st.integers(0, 2)),  # expires_at day offset
        ),
        max_size=9,
    ),
    sort_key=st.sampled_from(["created_at", "status", "image_id", "expires_at", "id", "deleted"]),
    sort_dir=st.sampled_from(["asc", "desc"]),
    limit=st.integers(1, 4),
)
def test_marker_paging_visits_every_task_once_in_order(
    session_db: Database,
    rows: list[tuple[int, str, str | None, int | None]],
    sort_key: str,
    sort_dir: str,
    limit: int,
) -> None:
    clear_tables(session_db)
    ctx = RequestContext(project_id="tenant-a")
    base = datetime.datetime(2024, 1, 1)
    far = utcnow() + datetime.timedelta(days=10)
    inserted = [
        task_row(
            created_at=base + datetime.timedelta(minutes=minute),
            status=status,
            image_id=image_id,
            expires_at=None if day is None else far + datetime.timedelta(days=day),
        )
        for minute, status, image_id, day in rows
    ]
    insert(session_db, t.tasks, inserted)

    def order(row: dict[str, Any]) -> tuple[Any, ...]:
        value = row[sort_key]
        if value is None:
            value = datetime.datetime(1900, 1, 1) if sort_key == "expires_at" else ""
        return (value, row["created_at"], row["id"])

    expected = [row["id"] for row in sorted(inserted, key=order, reverse=sort_dir == "desc")]
    seen: list[str] = []
    marker = None
    for _ in range(len(inserted) + 2):
        page = session_db.task_get_all(
            ctx, marker=marker, limit=limit, sort_key=sort_key, sort_dir=sort_dir
        )
        seen += [task.id for task in page]
        if len(page) < limit:
            break
        marker = page[-1].id
    assert seen == expected


# --- hostile input (SPEC 12): the leaks the fuzz test found ---------------------------


@pytest.mark.parametrize(
    ("values", "match"),
    [
        ({"type": ["import"]}, "type"),
        ({"status": 5}, "status"),
        ({"request_id": {"a": 1}}, "request_id"),
        ({"expires_at": "tomorrow"}, "expires_at"),
        (
            {
                "expires_at": datetime.datetime.max.replace(
                    tzinfo=datetime.timezone(datetime.timedelta(hours=-1))
                )
            },
            "expires_at",
        ),
        ({"deleted": [True]}, "deleted"),
        ({"input": b"bytes"}, "input"),
        ({"result": {"a": {1, 2}}}, "result"),
        ({"message": ["text"]}, "message"),
        ({"message": "nul\x00"}, "NUL"),
        ({"input": {"k": "nul\x00"}}, "NUL"),
    ],
    ids=repr,
)
def test_hostile_task_values_are_invalid_and_write_nothing(
    db: Database, ctx: RequestContext, values: dict[str, Any], match: str
) -> None:
    with pytest.raises(exception.Invalid, match=match):
        make_task(db, ctx, **values)
    task = make_task(db, ctx)
    before = db.task_get(ctx, task["id"])
    with pytest.raises(exception.Invalid, match=match):
        db.task_update(ctx, task["id"], values)
    assert db.task_get(ctx, task["id"]) == before
    with pytest.raises(exception.Invalid, match="task values"):
        db.task_create(ctx, ["type", "import"])  # type: ignore[arg-type]


def test_none_for_created_at_or_deleted_means_the_default(
    db: Database, ctx: RequestContext
) -> None:
    task = make_task(db, ctx, created_at=None, updated_at=None, deleted=None)
    assert task["created_at"] is not None and task["deleted"] is False
    assert db.task_update(ctx, task["id"], {"deleted": None})["deleted"] is False


@pytest.mark.parametrize(
    "task_id", ["nul\x00", "\U0001f600", "lone\ud800", 2**70], ids=["nul", "4-byte", "lone", "int"]
)
def test_task_ids_no_row_can_hold_are_not_found(
    db: Database, ctx: RequestContext, task_id: Any
) -> None:
    for call in (
        lambda: db.task_get(ctx, task_id),
        lambda: db.task_update(ctx, task_id, {"status": "x"}),
        lambda: db.task_delete(ctx, task_id),
        lambda: db.task_get_all(ctx, marker=task_id),
    ):
        with pytest.raises(exception.TaskNotFound):
            call()
    assert db.tasks_get_by_image(ctx, task_id) == []


def test_task_lookups_by_values_no_row_can_hold(db: Database, ctx: RequestContext) -> None:
    make_task(db, ctx, image_id="i-1")
    with pytest.raises(exception.Invalid, match="task id"):
        db.task_get(ctx, ["x"])  # type: ignore[arg-type]
    # Filters: one value per key; NUL is invalid, a 4-byte character matches nothing.
    assert db.task_get_all(ctx, filters={"image_id": "\U0001f600"}) == []
    with pytest.raises(exception.InvalidParameterValue, match="NUL"):
        db.task_get_all(ctx, filters={"status": "x\x00"})
    with pytest.raises(exception.Invalid, match="status"):
        db.task_get_all(ctx, filters={"status": ["pending"]})
    with pytest.raises(exception.Invalid, match="filters"):
        db.task_get_all(ctx, filters=["status"])  # type: ignore[arg-type]
    with pytest.raises(exception.Invalid, match="limit"):
        db.task_get_all(ctx, limit=2**64)
    assert [t["image_id"] for t in db.task_get_all(ctx, filters={1: "x", "image_id": "i-1"})] == [
        "i-1"
    ]
