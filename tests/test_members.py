"""Image members (SPEC 7): create, update/revive, delete, find, count."""

from __future__ import annotations

import datetime
import inspect
import uuid
from typing import Any

import pytest
from hypothesis import given, settings
from sqlalchemy import event

from glancedb import Database, Record, RequestContext, api, exception
from glancedb.models import tables as t
from tests.support.backends import clear_tables, count_statements, peer_databases
from tests.support.factories import count_rows, insert_image, table_rows
from tests.support.races import race
from tests.support.shapes import MEMBER_KEYS
from tests.support.text_strategies import BMP_TEXT, FOUR_BYTE_TEXT

OLD = datetime.datetime(2020, 1, 2, 3, 4, 5)


def member(db: Database, image_id: str, name: str, **values: Any) -> Record:
    admin = RequestContext(is_admin=True)
    return db.image_member_create(admin, {"image_id": image_id, "member": name, **values})


# --- image_member_create --------------------------------------------------------------


def test_create_defaults_and_record_shape(db: Database, ctx: RequestContext) -> None:
    image_id = insert_image(db)
    memb = db.image_member_create(ctx, {"image_id": image_id, "member": "tenant-b"})
    assert isinstance(memb, Record) and set(memb) == MEMBER_KEYS
    assert memb.member == memb["member"] == "tenant-b"
    assert (memb.image_id, memb.can_share, memb.status, memb.deleted) == (
        image_id,
        False,
        "pending",
        False,
    )
    assert isinstance(memb.created_at, datetime.datetime) and memb.updated_at == memb.created_at
    [stored] = table_rows(db, t.image_members)
    assert stored == {**memb, "deleted_at": None}


def test_create_with_can_share_and_status(db: Database, ctx: RequestContext) -> None:
    image_id = insert_image(db)
    memb = db.image_member_create(
        ctx, {"image_id": image_id, "member": "b", "can_share": True, "status": "accepted"}
    )
    [stored] = table_rows(db, t.image_members)
    assert (
        (stored["can_share"], stored["status"])
        == (True, "accepted")
        == (
            memb.can_share,
            memb.status,
        )
    )


def test_second_live_membership_is_duplicate(db: Database, ctx: RequestContext) -> None:
    image_id = insert_image(db)
    other_image = insert_image(db)
    first = member(db, image_id, "tenant-b")
    with pytest.raises(exception.Duplicate, match="tenant-b"):
        member(db, image_id, "tenant-b", status="accepted")
    member(db, other_image, "tenant-b")
    member(db, image_id, "tenant-c")
    db.image_member_delete(ctx, first.id)
    again = member(db, image_id, "tenant-b")
    assert again.id != first.id
    assert [
        (r["member"], r["deleted"]) for r in table_rows(db, t.image_members, image_id=image_id)
    ] == [
        ("tenant-b", True),
        ("tenant-c", False),
        ("tenant-b", False),
    ]


def test_create_stores_given_bookkeeping_columns(db: Database) -> None:
    image_id = insert_image(db)
    member(db, image_id, "b")
    old = member(
        db,
        image_id,
        "b",
        created_at=OLD,
        updated_at=OLD,
        deleted=True,
        deleted_at=OLD,
    )
    stored = table_rows(db, t.image_members, id=old.id)[0]
    assert (
        stored["created_at"],
        stored["updated_at"],
        stored["deleted"],
        stored["deleted_at"],
    ) == (
        OLD,
        OLD,
        True,
        OLD,
    )


def test_create_on_unknown_image(db: Database) -> None:
    with pytest.raises(exception.ImageNotFound, match="no-such-image"):
        member(db, "no-such-image", "b")
    with pytest.raises(exception.ImageNotFound):
        member(db, "i" * 37, "b")
    assert count_rows(db, t.image_members) == 0


@pytest.mark.parametrize(
    "values",
    [
        {"member": "b", "status": "approved"},
        {"member": "b", "status": None},
        {},
        {"member": None},
        {"member": ""},
        {"member": "m" * 256},
        {"member": "b", "role": "admin"},
    ],
    ids=["bad-status", "none-status", "no-member", "none-member", "empty", "long", "unknown-key"],
)
def test_create_rejects_bad_values(
    db: Database, ctx: RequestContext, values: dict[str, Any]
) -> None:
    image_id = insert_image(db)
    with pytest.raises(exception.Invalid):
        db.image_member_create(ctx, {"image_id": image_id, **values})
    assert count_rows(db, t.image_members) == 0


def test_error_messages_name_the_value(db: Database, ctx: RequestContext) -> None:
    image_id = insert_image(db)
    with pytest.raises(exception.Invalid, match="approved"):
        db.image_member_create(ctx, {"image_id": image_id, "member": "b", "status": "approved"})
    with pytest.raises(exception.Invalid, match=r"image_members\.member"):
        db.image_member_create(ctx, {"image_id": image_id, "member": "m" * 256})


@settings(max_examples=25, deadline=None)
@given(name=FOUR_BYTE_TEXT)
def test_four_byte_member_is_rejected(session_db: Database, name: str) -> None:
    clear_tables(session_db)
    image_id = insert_image(session_db)
    with pytest.raises(exception.Invalid, match="4-byte"):
        member(session_db, image_id, name)
    memb = member(session_db, image_id, "ok")
    with pytest.raises(exception.Invalid, match="4-byte"):
        session_db.image_member_update(RequestContext(is_admin=True), memb.id, {"member": name})
    assert [r["member"] for r in table_rows(session_db, t.image_members)] == ["ok"]


@settings(max_examples=25, deadline=None)
@given(name=BMP_TEXT.filter(bool))
def test_bmp_member_round_trips(session_db: Database, name: str) -> None:
    clear_tables(session_db)
    image_id = insert_image(session_db, owner="owner")
    memb = member(session_db, image_id, name)
    assert memb.member == name
    ctx = RequestContext(project_id=name)
    found = session_db.image_member_find(ctx, image_id=image_id)
    assert [m.member for m in found] == [name]


# --- image_member_update ----------------------------------------------------------------


def test_update_sets_values_and_updated_at(db: Database, ctx: RequestContext) -> None:
    image_id = insert_image(db)
    memb = member(db, image_id, "b", can_share=True, created_at=OLD, updated_at=OLD)
    updated = db.image_member_update(
        ctx,
        memb.id,
        {
            "status": "accepted",
            "created_at": datetime.datetime(1999, 1, 1),
            "updated_at": datetime.datetime(1999, 1, 1),
            "deleted_at": datetime.datetime(1999, 1, 1),
            "unknown": "ignored",
        },
    )
    assert isinstance(updated, Record) and set(updated) == MEMBER_KEYS
    assert (updated.status, updated.can_share, updated.deleted) == ("accepted", False, False)
    assert updated.created_at == OLD and updated.updated_at > OLD
    [stored] = table_rows(db, t.image_members)
    assert stored == {**updated, "deleted_at": None}


def test_update_keeps_can_share_when_given(db: Database, ctx: RequestContext) -> None:
    image_id = insert_image(db)
    memb = member(db, image_id, "b")
    updated = db.image_member_update(ctx, memb.id, {"can_share": True})
    assert (updated.can_share, updated.status) == (True, "pending")
    assert table_rows(db, t.image_members)[0]["can_share"] is True


def test_update_revives_a_deleted_membership(db: Database, ctx: RequestContext) -> None:
    image_id = insert_image(db)
    memb = member(db, image_id, "b")
    db.image_member_delete(ctx, memb.id)
    revived = db.image_member_update(ctx, memb.id, {"status": "accepted"})
    assert (revived.deleted, revived.status) == (False, "accepted")
    [stored] = table_rows(db, t.image_members)
    assert (stored["deleted"], stored["deleted_at"]) == (False, None)
    assert db.image_member_count(ctx, image_id) == 1


def test_update_revival_onto_a_live_membership_is_duplicate(
    db: Database, ctx: RequestContext
) -> None:
    image_id = insert_image(db)
    old = member(db, image_id, "b")
    db.image_member_delete(ctx, old.id)
    member(db, image_id, "b")
    with pytest.raises(exception.Duplicate, match="'b'"):
        db.image_member_update(ctx, old.id, {"status": "accepted"})
    other = member(db, image_id, "c")
    with pytest.raises(exception.Duplicate):
        db.image_member_update(ctx, other.id, {"member": "b"})
    assert db.image_member_count(ctx, image_id) == 2


def test_update_errors(db: Database, ctx: RequestContext) -> None:
    image_id = insert_image(db)
    memb = member(db, image_id, "b")
    with pytest.raises(exception.NotFound, match="12345"):
        db.image_member_update(ctx, 12345, {"status": "accepted"})
    with pytest.raises(exception.Invalid, match="bogus"):
        db.image_member_update(ctx, memb.id, {"status": "bogus"})
    with pytest.raises(exception.ImageNotFound):
        db.image_member_update(ctx, memb.id, {"image_id": "gone"})
    assert table_rows(db, t.image_members)[0]["status"] == "pending"


# --- image_member_delete ----------------------------------------------------------------


def test_delete_soft_deletes(db: Database, ctx: RequestContext) -> None:
    image_id = insert_image(db)
    memb = member(db, image_id, "b")
    keep = member(db, image_id, "c")
    assert db.image_member_delete(ctx, memb.id) is None
    stored = {r["id"]: r for r in table_rows(db, t.image_members)}
    assert stored[memb.id]["deleted"] is True
    assert isinstance(stored[memb.id]["deleted_at"], datetime.datetime)
    assert stored[keep.id]["deleted"] is False
    # Deleting again is harmless and keeps the first deletion time.
    db.image_member_delete(ctx, memb.id)
    assert (
        table_rows(db, t.image_members, id=memb.id)[0]["deleted_at"]
        == stored[memb.id]["deleted_at"]
    )


def test_delete_unknown(db: Database, ctx: RequestContext) -> None:
    with pytest.raises(exception.NotFound, match="777"):
        db.image_member_delete(ctx, 777)


# --- image_member_find --------------------------------------------------------------------


@pytest.fixture
def shares(db: Database) -> dict[str, str]:
    """Images of several owners, each shared with a few projects."""
    images = {
        "a": insert_image(db, owner="tenant-a"),
        "b": insert_image(db, owner="tenant-b"),
        "c": insert_image(db, owner="tenant-c"),
        "none": insert_image(db, owner=None),
    }
    member(db, images["a"], "tenant-b", status="accepted")
    member(db, images["a"], "tenant-c")
    member(db, images["b"], "tenant-a", status="rejected")
    member(db, images["c"], "tenant-d")
    member(db, images["none"], "tenant-e")
    gone = member(db, images["a"], "tenant-z")
    db.image_member_delete(RequestContext(is_admin=True), gone.id)
    return images


def pairs(found: list[Record], images: dict[str, str]) -> set[tuple[str, str]]:
    names = {image_id: name for name, image_id in images.items()}
    return {(names[m.image_id], m.member) for m in found}


def test_find_owner_sees_its_images_members(
    db: Database, ctx: RequestContext, shares: dict[str, str]
) -> None:
    found = db.image_member_find(ctx)
    assert all(isinstance(m, Record) and set(m) == MEMBER_KEYS for m in found)
    assert pairs(found, shares) == {
        ("a", "tenant-b"),
        ("a", "tenant-c"),
        ("b", "tenant-a"),
    }


def test_find_member_sees_its_own_memberships(
    db: Database, other_ctx: RequestContext, shares: dict[str, str]
) -> None:
    assert pairs(db.image_member_find(other_ctx), shares) == {
        ("a", "tenant-b"),
        ("b", "tenant-a"),
    }
    # The member does not see the other members of an image shared with it.
    assert pairs(db.image_member_find(other_ctx, image_id=shares["a"]), shares) == {
        ("a", "tenant-b")
    }


def test_find_other_tenant_sees_nothing(db: Database, shares: dict[str, str]) -> None:
    stranger = RequestContext(project_id="tenant-x")
    assert db.image_member_find(stranger) == []
    assert db.image_member_find(stranger, image_id=shares["a"]) == []
    assert db.image_member_find(stranger, include_deleted=True) == []


def test_find_admin_sees_everything(
    db: Database, admin_ctx: RequestContext, shares: dict[str, str]
) -> None:
    assert len(db.image_member_find(admin_ctx)) == 5
    assert len(db.image_member_find(admin_ctx, include_deleted=True)) == 6


def test_find_context_without_owner_matches_null_owner(
    db: Database, shares: dict[str, str]
) -> None:
    anonymous = RequestContext(project_id=None)
    assert pairs(db.image_member_find(anonymous), shares) == {("none", "tenant-e")}


def test_find_accepts_a_foreign_context(db: Database, shares: dict[str, str]) -> None:
    class OsloLikeContext:
        is_admin = False
        project_id = "tenant-c"
        show_deleted = False

    assert pairs(db.image_member_find(OsloLikeContext()), shares) == {
        ("a", "tenant-c"),
        ("c", "tenant-d"),
    }


def test_find_filters(
    db: Database, ctx: RequestContext, admin_ctx: RequestContext, shares: dict[str, str]
) -> None:
    assert pairs(db.image_member_find(ctx, image_id=shares["a"]), shares) == {
        ("a", "tenant-b"),
        ("a", "tenant-c"),
    }
    assert pairs(db.image_member_find(ctx, member="tenant-c"), shares) == {("a", "tenant-c")}
    assert pairs(db.image_member_find(ctx, status="pending"), shares) == {("a", "tenant-c")}
    assert pairs(db.image_member_find(ctx, status="rejected"), shares) == {("b", "tenant-a")}
    assert (
        db.image_member_find(ctx, image_id=shares["a"], member="tenant-b", status="pending") == []
    )
    assert pairs(db.image_member_find(admin_ctx, member="tenant-z"), shares) == set()
    deleted = db.image_member_find(ctx, member="tenant-z", include_deleted=True)
    assert pairs(deleted, shares) == {("a", "tenant-z")} and deleted[0].deleted is True


def test_find_is_one_statement(db: Database, ctx: RequestContext) -> None:
    def statements(members: int) -> int:
        clear_tables(db)
        image_id = insert_image(db)
        for n in range(members):
            member(db, image_id, f"tenant-{n}")
        with count_statements(db) as counter:
            assert len(db.image_member_find(ctx, image_id=image_id)) == members
        return counter.count

    assert statements(1) == statements(30) == 1


# --- image_member_count ---------------------------------------------------------------------


def test_count(db: Database, ctx: RequestContext, shares: dict[str, str]) -> None:
    assert db.image_member_count(ctx, shares["a"]) == 2
    assert db.image_member_count(ctx, shares["c"]) == 1
    assert db.image_member_count(ctx, "unknown-image") == 0


@pytest.mark.parametrize("image_id", [None, ""])
def test_count_requires_an_image_id(db: Database, ctx: RequestContext, image_id: Any) -> None:
    with pytest.raises(exception.Invalid):
        db.image_member_count(ctx, image_id)


# --- facade -------------------------------------------------------------------------------


def test_facade_has_glances_signatures() -> None:
    expected = {
        "image_member_create": (["context", "values"], {}),
        "image_member_update": (["context", "memb_id", "values"], {}),
        "image_member_delete": (["context", "memb_id"], {}),
        "image_member_find": (
            ["context", "image_id", "member", "status", "include_deleted"],
            {"image_id": None, "member": None, "status": None, "include_deleted": False},
        ),
        "image_member_count": (["context", "image_id"], {}),
    }
    for name, (params, defaults) in expected.items():
        signature = inspect.signature(getattr(api, name))
        assert list(signature.parameters) == params, name
        for param, default in defaults.items():
            assert signature.parameters[param].default == default, (name, param)


@pytest.mark.parametrize("memb_id", ["abc", None, 10**20, -(2**40)])
def test_impossible_member_ids_are_not_found(
    db: Database, ctx: RequestContext, memb_id: Any
) -> None:
    with pytest.raises(exception.NotFound):
        db.image_member_update(ctx, memb_id, {"status": "accepted"})
    with pytest.raises(exception.NotFound):
        db.image_member_delete(ctx, memb_id)


def test_unencodable_member_and_non_string_filters(db: Database, admin_ctx: RequestContext) -> None:
    image_id = insert_image(db)
    with pytest.raises(exception.Invalid, match="surrogate"):
        member(db, image_id, "b\ud800")
    assert count_rows(db, t.image_members) == 0
    member(db, image_id, "5")
    assert db.image_member_find(admin_ctx, image_id=5) == []  # type: ignore[arg-type]
    assert [m.member for m in db.image_member_find(admin_ctx, member=5)] == ["5"]  # type: ignore[arg-type]
    assert db.image_member_count(admin_ctx, image_id) == 1


@pytest.mark.backends("sqlite")  # the planner that falls for the deleted index
def test_find_uses_the_image_id_index_without_statistics(
    db: Database, ctx: RequestContext, backend: str
) -> None:
    """On SQLite without statistics, the two-valued ``deleted`` index must not win."""
    image_id = insert_image(db)
    member(db, image_id, "tenant-b")
    captured: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        captured.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", capture)
    try:
        db.image_member_find(ctx, image_id=image_id)
        db.image_member_count(ctx, image_id)
    finally:
        event.remove(db.engine, "before_cursor_execute", capture)
    queries = [(s, p) for s, p in captured if s.lstrip().upper().startswith("SELECT")]
    assert len(queries) == 2
    with db.engine.connect() as conn:
        for statement, parameters in queries:
            plan = " ".join(
                row[3]
                for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)
            )
            assert "ix_image_members_deleted" not in plan, plan
            assert "USING INDEX ix_image_members_image_id" in plan, plan


@pytest.mark.slow
@pytest.mark.topologies
def test_concurrent_creates_leave_one_live_membership(backend: str, db: Database) -> None:
    threads = 8
    contenders = peer_databases(backend, db, 3 if backend == "galera" else 1, pool_size=10)
    admin = RequestContext(is_admin=True)
    try:
        for _ in range(5):
            image_id = insert_image(db)

            def share(n: int, image_id: str = image_id) -> None:
                contender = contenders[n % len(contenders)]
                contender.image_member_create(admin, {"image_id": image_id, "member": "tenant-b"})

            outcomes = race(threads, share)
            assert sorted(outcomes) == ["duplicate"] * (threads - 1) + ["won"], outcomes
            assert len(table_rows(db, t.image_members, image_id=image_id)) == 1
    finally:
        for contender in contenders:
            contender.dispose()


def test_given_timestamps_are_checked_and_made_naive_utc(db: Database) -> None:
    image_id = insert_image(db)
    with pytest.raises(exception.Invalid, match="deleted_at"):
        member(db, image_id, "b", deleted=True, deleted_at=12)
    aware = datetime.datetime(2022, 1, 1, 12, 0, tzinfo=datetime.UTC)
    memb = member(db, image_id, "b", created_at=aware, deleted=True)
    [stored] = table_rows(db, t.image_members)
    assert stored["created_at"] == memb.created_at == datetime.datetime(2022, 1, 1, 12, 0)
    assert stored["deleted"] is True and isinstance(stored["deleted_at"], datetime.datetime)


def test_image_id_may_be_a_uuid_object(db: Database, admin_ctx: RequestContext) -> None:
    image_id = uuid.uuid4()
    insert_image(db, id=str(image_id))
    memb = member(db, image_id, "b")  # type: ignore[arg-type]
    assert memb.image_id == str(image_id)
    assert [m.id for m in db.image_member_find(admin_ctx, image_id=image_id)] == [memb.id]  # type: ignore[arg-type]
    assert db.image_member_count(admin_ctx, image_id) == 1  # type: ignore[arg-type]


# --- hostile input (SPEC 12): the leaks the fuzz test found ---------------------------


@pytest.mark.parametrize(
    ("values", "match"),
    [
        ({"member": ["tenant-b"]}, "member"),
        ({"member": "ten\x00ant"}, "NUL"),
        ({"status": ["pending"]}, "status"),
        ({"status": {"pending": 1}}, "status"),
        ({"can_share": {"yes": True}}, "can_share"),
        ({"deleted": [True]}, "deleted"),
        ({"created_at": "2024-01-01"}, "created_at"),
        ({("tuple", "key"): 1}, "tuple"),
    ],
    ids=repr,
)
def test_hostile_member_values_are_invalid_and_write_nothing(
    db: Database, admin_ctx: RequestContext, values: dict[Any, Any], match: str
) -> None:
    image_id = insert_image(db)
    with pytest.raises(exception.Invalid, match=match):
        db.image_member_create(admin_ctx, {"image_id": image_id, "member": "m", **values})
    assert count_rows(db, t.image_members) == 0
    with pytest.raises(exception.Invalid, match="image member values"):
        db.image_member_create(admin_ctx, ["image_id", image_id])  # type: ignore[arg-type]


def test_member_lookups_by_values_no_row_can_hold(db: Database, admin_ctx: RequestContext) -> None:
    image_id = insert_image(db, members=[("tenant-b", "accepted")])
    for kwargs in (
        {"image_id": "nul\x00"},
        {"member": "\U0001f600"},
        {"status": "lone\ud800"},
        {"image_id": 2**70},
    ):
        assert db.image_member_find(admin_ctx, **kwargs) == []
    assert db.image_member_count(admin_ctx, "nul\x00") == 0
    with pytest.raises(exception.Invalid, match="member"):
        db.image_member_find(admin_ctx, member=["tenant-b"])  # type: ignore[arg-type]
    with pytest.raises(exception.Invalid, match="image_id"):
        db.image_member_count(admin_ctx, {"id": image_id})  # type: ignore[arg-type]
    with pytest.raises(exception.Invalid, match="memb_id"):
        db.image_member_delete(admin_ctx, [1])  # type: ignore[arg-type]
    with pytest.raises(exception.ImageNotFound):
        db.image_member_create(admin_ctx, {"image_id": "nul\x00", "member": "m"})
    assert len(db.image_member_find(admin_ctx, image_id=image_id)) == 1
