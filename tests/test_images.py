"""Image calls (SPEC 2): create, update, destroy, get, restore."""

from __future__ import annotations

import datetime
import inspect
import pickle
import re
import uuid
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from sqlalchemy import event

import glancedb.api
from glancedb import Database, Record, RequestContext
from glancedb.exception import (
    MAX_MESSAGE_LENGTH,
    Conflict,
    DBError,
    Duplicate,
    Forbidden,
    ForbiddenPublicImage,
    ImageNotFound,
    Invalid,
    SchemaError,
)
from glancedb.images.records import IMAGE_COLUMNS
from glancedb.models import tables as t
from glancedb.timeutils import utcnow
from tests.support.backends import clear_tables, count_statements
from tests.support.factories import (
    add_member,
    add_tag,
    insert_image,
    row_counts,
    snapshot,
    table_rows,
)
from tests.support.shapes import PROPERTY_KEYS

OLD = datetime.datetime(2020, 1, 2, 3, 4, 5)


def create(db: Database, ctx: RequestContext, **values: Any) -> Record:
    values.setdefault("status", "queued")
    values.setdefault("owner", ctx.owner)
    return db.image_create(ctx, values)


# --- image_create ---------------------------------------------------------------------


def test_create_returns_full_image_dict(db: Database, ctx: RequestContext) -> None:
    image = db.image_create(
        ctx,
        {
            "status": "queued",
            "name": "cirros",
            "owner": "tenant-a",
            "disk_format": "qcow2",
            "container_format": "bare",
            "properties": {"os_distro": "cirros", "hw_disk_bus": "virtio"},
            "locations": [{"url": "file:///a", "metadata": {"store": "x"}, "status": "active"}],
        },
    )
    assert isinstance(image, Record)
    assert set(image) == set(IMAGE_COLUMNS) | {"properties", "locations"}
    assert "tags" not in image
    assert image.name == image["name"] == "cirros"
    uuid.UUID(image["id"])
    assert image["visibility"] == "shared"
    assert (image["min_disk"], image["min_ram"]) == (0, 0)
    assert image["protected"] is False and image["os_hidden"] is False
    assert image["deleted"] is False and image["deleted_at"] is None
    assert image["created_at"] == image["updated_at"]
    assert abs(image["created_at"] - utcnow()) < datetime.timedelta(seconds=5)
    props = {p["name"]: p for p in image["properties"]}
    assert set(props) == {"os_distro", "hw_disk_bus"}
    assert all(set(p) == PROPERTY_KEYS for p in image["properties"])
    assert props["os_distro"]["value"] == "cirros" and props["os_distro"].deleted is False
    assert image["locations"] == [
        {
            "id": image["locations"][0]["id"],
            "url": "file:///a",
            "metadata": {"store": "x"},
            "status": "active",
        }
    ]
    assert db.image_get(ctx, image["id"]) == image
    # Independent plain data.
    assert pickle.loads(pickle.dumps(image)) == image


def test_create_returns_what_get_reads_in_constant_statements(
    db: Database, ctx: RequestContext, admin_ctx: Any
) -> None:
    """The created image is not read back: the INSERTs return what they stored,
    which is exactly what image_get reads (microseconds, orders, deleted
    locations left out), in three statements whatever the number of children."""

    def created(n: int) -> tuple[Record, int]:
        values: dict[str, Any] = {
            "status": "active",
            "name": f"img-{n}",
            "owner": "tenant-a",
            "size": 2**40,
            "created_at": datetime.datetime(2020, 1, 2, 3, 4, 5),
            "properties": {f"p{i:02d}": f"v{i}" for i in range(n)},
            "locations": [
                {"url": f"file:///{i}", "metadata": {"i": i, "t": [1, 2]}, "status": "active"}
                for i in range(n)
            ]
            + [{"url": "file:///gone", "metadata": {}, "status": "deleted"}],
        }
        with count_statements(db) as counter:
            image = db.image_create(ctx, values)
        return image, counter.count

    small, small_count = created(1)
    big, big_count = created(30)
    # Three INSERTs, each returning what it stored.  On PostgreSQL they are
    # one statement (the children's as CTEs), which returns the transaction
    # id as well: the COMMIT needs no statement of its own.
    postgresql = db.engine.dialect.name == "postgresql"
    assert small_count == big_count == (1 if postgresql else 3)
    for image in (small, big):
        assert image == db.image_get(ctx, image["id"])
        assert [p["name"] for p in image["properties"]] == sorted(
            p["name"] for p in image["properties"]
        )
        assert "file:///gone" not in [loc["url"] for loc in image["locations"]]
    assert db.image_create(ctx, {"status": "active"}, v1_mode=True) == db.image_get(
        ctx, db.image_get_all(admin_ctx, limit=1)[0]["id"], v1_mode=True
    )


def test_create_coercions(db: Database, ctx: RequestContext) -> None:
    image = create(
        db, ctx, size="12", min_ram=None, min_disk="3", protected=1, owner="", os_hidden=1
    )
    assert image["size"] == 12
    assert image["min_ram"] == 0 and image["min_disk"] == 3
    assert image["protected"] is True and image["os_hidden"] is True
    assert image["owner"] is None


def test_create_with_given_id_and_duplicate(db: Database, ctx: RequestContext) -> None:
    image_id = str(uuid.uuid4())
    assert create(db, ctx, id=image_id)["id"] == image_id
    with pytest.raises(Duplicate, match=image_id):
        create(db, ctx, id=image_id, name="again")
    assert row_counts(db)["images"] == 1


def test_create_stores_given_timestamps(db: Database, ctx: RequestContext, admin_ctx: Any) -> None:
    deleted_at = datetime.datetime(2021, 5, 6, 7, 8, 9)
    image = create(
        db,
        ctx,
        created_at=OLD,
        updated_at=OLD + datetime.timedelta(days=1),
        deleted=True,
        deleted_at=deleted_at,
    )
    stored = db.image_get(admin_ctx, image["id"])
    assert stored["created_at"] == OLD
    assert stored["updated_at"] == OLD + datetime.timedelta(days=1)
    assert stored["deleted"] is True and stored["deleted_at"] == deleted_at
    with pytest.raises(ImageNotFound):
        db.image_get(ctx, image["id"])


def test_create_converts_aware_timestamps_to_naive_utc(db: Database, ctx: RequestContext) -> None:
    plus_two = datetime.timezone(datetime.timedelta(hours=2))
    image = create(db, ctx, created_at=datetime.datetime(2020, 1, 2, 5, 4, 5, tzinfo=plus_two))
    assert db.image_get(ctx, image["id"])["created_at"] == OLD


@pytest.mark.parametrize(("is_public", "visibility"), [(True, "public"), (False, "shared")])
def test_create_is_public(
    db: Database, ctx: RequestContext, is_public: bool, visibility: str
) -> None:
    assert create(db, ctx, is_public=is_public)["visibility"] == visibility


def test_create_v1_mode(db: Database, ctx: RequestContext) -> None:
    image = db.image_create(ctx, {"status": "queued", "visibility": "public"}, v1_mode=True)
    assert image["is_public"] is True and "visibility" not in image
    image = db.image_create(ctx, {"status": "queued", "visibility": "private"}, v1_mode=True)
    assert image["is_public"] is False


@pytest.mark.parametrize(
    ("values", "match"),
    [
        ({"name": "no status"}, "status is required"),
        ({"status": None}, "status is required"),
        ({"status": ""}, "status is required"),
        ({"status": "queued", "id": 123}, "id must be a string"),
        ({"status": "queued", "name": 5}, "name must be a string"),
        ({"status": "queued", "checksum": 1.5}, "checksum must be a string"),
        ({"status": "bogus"}, "bogus"),
        ({"status": "queued", "is_public": True, "visibility": "public"}, "is_public"),
        ({"status": "queued", "visibility": "secret"}, "secret"),
        ({"status": "queued", "flavour": "x"}, "flavour"),
        ({"status": "queued", "min_ram": 2**31}, "min_ram"),
        ({"status": "queued", "min_disk": 2**31}, "min_disk"),
        ({"status": "queued", "min_disk": "lots"}, "min_disk"),
        ({"status": "queued", "size": "big"}, "size"),
        ({"status": "queued", "name": "n" * 256}, "name"),
        ({"status": "queued", "disk_format": "d" * 21}, "disk_format"),
        ({"status": "queued", "owner": "o" * 256}, "owner"),
        ({"status": "queued", "id": "i" * 37}, "id"),
        ({"status": "queued", "properties": {"p" * 256: "v"}}, "name"),
        ({"status": "queued", "properties": ["not", "a", "dict"]}, "properties"),
        ({"status": "queued", "properties": {"": "v"}}, "Property names must be non-empty"),
        ({"status": "queued", "locations": [{"metadata": {}}]}, "url"),
        ({"status": "queued", "locations": "file:///x"}, "locations"),
        ({"status": "queued", "created_at": "yesterday"}, "created_at"),
    ],
)
def test_create_invalid(
    db: Database, ctx: RequestContext, values: dict[str, Any], match: str
) -> None:
    with pytest.raises(Invalid, match=match):
        db.image_create(ctx, values)
    assert row_counts(db)["images"] == 0


def test_create_int_bounds_accept_max(db: Database, ctx: RequestContext) -> None:
    image = create(db, ctx, min_ram=2**31 - 1, min_disk=2**31 - 1, size=2**40)
    assert (image["min_ram"], image["min_disk"], image["size"]) == (2**31 - 1, 2**31 - 1, 2**40)


FOUR_BYTE = "\U0001f600"


@pytest.mark.parametrize(
    ("values", "where"),
    [
        ({"name": f"smile{FOUR_BYTE}"}, "image 'name' "),
        ({"properties": {f"key{FOUR_BYTE}": "v"}}, "image 'properties' key "),
        ({"properties": {"key": f"value{FOUR_BYTE}"}}, "image 'properties' 'key' "),
        (
            {"locations": [{"url": f"file:///{FOUR_BYTE}", "metadata": {}, "status": "active"}]},
            "image 'locations' 'url' ",
        ),
        (
            {"locations": [{"url": "file:///a", "metadata": {"k": FOUR_BYTE}, "status": "active"}]},
            "image 'locations' 'metadata' 'k' ",
        ),
        (
            {"locations": [{"url": "file:///a", "metadata": {FOUR_BYTE: "v"}, "status": "active"}]},
            "image 'locations' 'metadata' key ",
        ),
        ({f"na{FOUR_BYTE}me": "x"}, "image key "),
    ],
    ids=["name", "prop-key", "prop-value", "loc-url", "loc-meta-value", "loc-meta-key", "key"],
)
def test_four_byte_characters_are_rejected_everywhere(
    db: Database, ctx: RequestContext, values: dict[str, Any], where: str
) -> None:
    """Refused, and the message says where the text is."""
    expected = f"^{re.escape(where)}.* contains 4-byte UTF-8 characters"
    with pytest.raises(Invalid, match=expected):
        db.image_create(ctx, {"status": "queued", **values})
    assert row_counts(db) == dict.fromkeys(row_counts(db), 0)
    image = create(db, ctx, name="ok", properties={"a": "1"})
    before = snapshot(db)
    with pytest.raises(Invalid, match=expected):
        db.image_update(ctx, image["id"], values)
    assert snapshot(db) == before


@pytest.mark.parametrize(
    "values",
    [
        {"name": "lone\ud800"},
        {"properties": {"key\udfff": "v"}},
        {"properties": {"key": "\ud800value"}},
        {"locations": [{"url": "file:///\ud800", "metadata": {}}]},
        {"locations": [{"url": "file:///a", "metadata": {"k": ["\udc00"]}}]},
    ],
    ids=["name", "prop-key", "prop-value", "loc-url", "loc-meta"],
)
def test_lone_surrogates_are_invalid(
    db: Database, ctx: RequestContext, values: dict[str, Any]
) -> None:
    with pytest.raises(Invalid, match="surrogate"):
        db.image_create(ctx, {"status": "queued", **values})
    assert row_counts(db) == dict.fromkeys(row_counts(db), 0)


def test_non_string_image_ids_are_just_not_found(db: Database, ctx: RequestContext) -> None:
    """An int id finds nothing on every backend (no PostgreSQL type error)."""
    for call in (
        lambda: db.image_get(ctx, 12345),  # type: ignore[arg-type]
        lambda: db.image_update(ctx, 12345, {"name": "x"}),  # type: ignore[arg-type]
        lambda: db.image_destroy(ctx, 12345),  # type: ignore[arg-type]
        lambda: db.image_restore(ctx, 12345),  # type: ignore[arg-type]
        lambda: db.image_location_add(ctx, 12345, {"url": "file:///a"}),  # type: ignore[arg-type]
    ):
        with pytest.raises(ImageNotFound):
            call()
    shared = {"id": 12345, "owner": "tenant-b", "visibility": "shared"}
    assert db.is_image_visible(ctx, shared) is False


def test_create_is_atomic_when_a_property_is_invalid(db: Database, ctx: RequestContext) -> None:
    for properties in ({"good": "1", "bad": f"x{FOUR_BYTE}"}, {"good": "1", "p" * 256: "x"}):
        with pytest.raises(Invalid):
            create(db, ctx, properties=properties, locations=[{"url": "file:///a"}])
        assert row_counts(db) == dict.fromkeys(row_counts(db), 0)


#: A trigger refusing one location URL, per backend: a failure inside the
#: database after the image and its properties are written (in earlier
#: statements, or earlier in the same statement on PostgreSQL).
_FAILING_LOCATION_TRIGGER = {
    "sqlite": [
        "CREATE TRIGGER glancedb_test_fail BEFORE INSERT ON image_locations "
        "WHEN NEW.value = 'file:///fail' BEGIN SELECT RAISE(ABORT, 'simulated failure'); END"
    ],
    "postgresql": [
        "CREATE FUNCTION glancedb_test_fail() RETURNS trigger LANGUAGE plpgsql AS $$ "
        "BEGIN IF NEW.value = 'file:///fail' THEN RAISE EXCEPTION 'simulated failure'; "
        "END IF; RETURN NEW; END $$",
        "CREATE TRIGGER glancedb_test_fail BEFORE INSERT ON image_locations "
        "FOR EACH ROW EXECUTE FUNCTION glancedb_test_fail()",
    ],
    "mysql": [
        "CREATE TRIGGER glancedb_test_fail BEFORE INSERT ON image_locations FOR EACH ROW "
        "BEGIN IF NEW.value = 'file:///fail' THEN "
        "SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'simulated failure'; END IF; END"
    ],
}
_DROP_FAILING_LOCATION_TRIGGER = {
    "sqlite": ["DROP TRIGGER IF EXISTS glancedb_test_fail"],
    "postgresql": [
        "DROP TRIGGER IF EXISTS glancedb_test_fail ON image_locations",
        "DROP FUNCTION IF EXISTS glancedb_test_fail()",
    ],
    "mysql": ["DROP TRIGGER IF EXISTS glancedb_test_fail"],
}


def test_create_rolls_back_when_a_child_insert_fails(db: Database, ctx: RequestContext) -> None:
    dialect = db.engine.dialect.name
    with db.engine.begin() as conn:
        for statement in _FAILING_LOCATION_TRIGGER[dialect]:
            conn.exec_driver_sql(statement)
    try:
        with pytest.raises((Invalid, DBError), match="simulated failure"):
            create(
                db,
                ctx,
                properties={"a": "1"},
                locations=[{"url": "file:///a"}, {"url": "file:///fail"}],
            )
    finally:
        with db.engine.begin() as conn:
            for statement in _DROP_FAILING_LOCATION_TRIGGER[dialect]:
                conn.exec_driver_sql(statement)
    assert row_counts(db) == dict.fromkeys(row_counts(db), 0)
    assert create(db, ctx, locations=[{"url": "file:///fail"}])["locations"]


# --- image_update ---------------------------------------------------------------------


def test_update_writes_only_given_columns(db: Database, ctx: RequestContext) -> None:
    image = create(db, ctx, name="n1", disk_format="raw", size=5, created_at=OLD, updated_at=OLD)
    updated = db.image_update(ctx, image["id"], {"size": 10, "no_such_column": "ignored"})
    assert updated["size"] == 10
    assert updated["name"] == "n1" and updated["disk_format"] == "raw"
    assert updated["created_at"] == OLD
    assert updated["updated_at"] > OLD
    assert db.image_get(ctx, image["id"]) == updated


def test_update_ignores_timestamps_deleted_and_id(db: Database, ctx: RequestContext) -> None:
    image = create(db, ctx, created_at=OLD, updated_at=OLD)
    updated = db.image_update(
        ctx,
        image["id"],
        {
            "created_at": datetime.datetime(2000, 1, 1),
            "updated_at": datetime.datetime(2000, 1, 1),
            "deleted": True,
            "deleted_at": datetime.datetime(2000, 1, 1),
            "id": str(uuid.uuid4()),
            "name": "renamed",
        },
    )
    assert updated["id"] == image["id"] and updated["name"] == "renamed"
    assert updated["created_at"] == OLD
    assert updated["updated_at"] > OLD
    assert updated["deleted"] is False and updated["deleted_at"] is None


def test_update_sets_updated_at_when_only_properties_change(
    db: Database, ctx: RequestContext
) -> None:
    image = create(db, ctx, updated_at=OLD)
    updated = db.image_update(ctx, image["id"], {"properties": {"a": "1"}})
    assert updated["updated_at"] > OLD
    assert [p["name"] for p in updated["properties"]] == ["a"]


def test_update_coercions_and_v1_mode(db: Database, ctx: RequestContext) -> None:
    image = create(db, ctx, min_ram=5)
    updated = db.image_update(
        ctx, image["id"], {"min_ram": None, "owner": "tenant-a", "is_public": True}, v1_mode=True
    )
    assert updated["min_ram"] == 0
    assert updated["is_public"] is True and "visibility" not in updated
    assert db.image_get(ctx, image["id"])["visibility"] == "public"


def test_update_takes_any_value_for_the_flags_by_its_truth(
    db: Database, ctx: RequestContext
) -> None:
    # As image_create does: Glance's API hands over what it parsed.
    image = create(db, ctx)
    updated = db.image_update(ctx, image["id"], {"protected": "yes", "os_hidden": 1})
    assert updated["protected"] is True and updated["os_hidden"] is True
    updated = db.image_update(ctx, image["id"], {"protected": 0, "os_hidden": ""})
    assert updated["protected"] is False and updated["os_hidden"] is False
    read = db.image_get(ctx, image["id"])
    assert read["protected"] is False and read["os_hidden"] is False


@pytest.mark.parametrize(
    ("values", "match"),
    [
        ({"status": "bogus"}, "bogus"),
        ({"status": None}, "None"),
        ({"min_ram": 2**31}, "min_ram"),
        ({"min_disk": 2**31}, "min_disk"),
        ({"name": "n" * 256}, "name"),
        ({"container_format": "c" * 21}, "container_format"),
        ({"is_public": True, "visibility": "public"}, "is_public"),
        ({"visibility": "everyone"}, "everyone"),
        ({"properties": {"p" * 256: "x"}}, "name"),
    ],
)
def test_update_invalid(
    db: Database, ctx: RequestContext, values: dict[str, Any], match: str
) -> None:
    image = create(db, ctx, name="n", properties={"a": "1"})
    before = snapshot(db)
    with pytest.raises(Invalid, match=match):
        db.image_update(ctx, image["id"], values)
    assert snapshot(db) == before


def test_update_unknown_deleted_and_long_ids(db: Database, ctx: RequestContext) -> None:
    with pytest.raises(ImageNotFound):
        db.image_update(ctx, str(uuid.uuid4()), {"name": "x"})
    with pytest.raises(ImageNotFound):
        db.image_update(ctx, "x" * 37, {"name": "x"})
    image = create(db, ctx, deleted=True, deleted_at=OLD)
    with pytest.raises(ImageNotFound):
        db.image_update(ctx, image["id"], {"name": "x"})


def props_by_name(image: Record) -> dict[str, Record]:
    return {p["name"]: p for p in image["properties"]}


def test_update_properties_create_update_revive(db: Database, ctx: RequestContext) -> None:
    image = create(db, ctx, properties={"keep": "1", "change": "old", "gone": "x"})
    db.image_update(ctx, image["id"], {"properties": {"keep": "1"}}, purge_props=True)
    deleted_gone = props_by_name(db.image_get(ctx, image["id"]))["gone"]
    assert deleted_gone["deleted"] is True
    updated = db.image_update(
        ctx, image["id"], {"properties": {"change": "new", "gone": "back", "fresh": "f"}}
    )
    props = props_by_name(updated)
    assert {n: (p["value"], p["deleted"]) for n, p in props.items()} == {
        "keep": ("1", False),
        "change": ("new", False),
        "gone": ("back", False),
        "fresh": ("f", False),
    }
    # Revived in place: same row, no second row for the name.
    assert props["gone"]["id"] == deleted_gone["id"]
    assert props["gone"]["deleted_at"] is None
    assert len(table_rows(db, t.image_properties)) == 4


def test_update_purge_props_soft_deletes_unnamed_ones(db: Database, ctx: RequestContext) -> None:
    image = create(db, ctx, properties={"a": "1", "b": "2", "c": "3"})
    updated = db.image_update(ctx, image["id"], {"properties": {"a": "1"}}, purge_props=True)
    props = props_by_name(updated)
    assert props["a"]["deleted"] is False
    assert props["b"]["deleted"] is True and props["c"]["deleted"] is True
    assert props["b"]["deleted_at"] is not None
    # Without purge_props, unnamed properties stay.
    image2 = create(db, ctx, properties={"a": "1", "b": "2"})
    updated2 = db.image_update(ctx, image2["id"], {"properties": {"a": "9"}})
    assert {n: p["deleted"] for n, p in props_by_name(updated2).items()} == {
        "a": False,
        "b": False,
    }
    # purge_props without a properties key purges every property (Glance).
    updated3 = db.image_update(ctx, image2["id"], {"name": "x"}, purge_props=True)
    assert all(p["deleted"] for p in updated3["properties"])


def test_update_never_touches_atomic_props(db: Database, ctx: RequestContext) -> None:
    image = create(db, ctx, properties={"lock": "mine", "other": "1"})
    updated = db.image_update(
        ctx,
        image["id"],
        {"properties": {"lock": "theirs", "new_atomic": "x", "plain": "p"}},
        purge_props=True,
        atomic_props=["lock", "new_atomic", "other"],
    )
    props = props_by_name(updated)
    assert props["lock"]["value"] == "mine" and props["lock"]["deleted"] is False
    assert props["other"]["deleted"] is False  # atomic: not purged
    assert "new_atomic" not in props  # atomic: not created
    assert props["plain"]["value"] == "p"


def test_update_properties_cost_constant_statements(db: Database, ctx: RequestContext) -> None:
    def statements_for(n: int) -> int:
        image = create(db, ctx, properties={f"old{i}": "v" for i in range(n)})
        # Half deleted, so that the update both revives and updates.
        db.image_update(
            ctx,
            image["id"],
            {"properties": {f"old{i}": "v" for i in range(0, n, 2)}},
            purge_props=True,
        )
        new_props = {f"old{i}": "changed" for i in range(1, n)} | {f"new{i}": "x" for i in range(n)}
        with count_statements(db) as counter:
            updated = db.image_update(ctx, image["id"], {"properties": new_props}, purge_props=True)
        live = {p["name"]: p["value"] for p in updated["properties"] if not p["deleted"]}
        assert live == new_props
        return counter.count

    assert statements_for(2) == statements_for(60)


def test_update_from_state_compare_and_swap(db: Database, ctx: RequestContext) -> None:
    image = create(db, ctx, status="queued")
    updated = db.image_update(ctx, image["id"], {"status": "saving"}, from_state="queued")
    assert updated["status"] == "saving"
    before = snapshot(db)
    with pytest.raises(Conflict) as info:
        db.image_update(
            ctx, image["id"], {"status": "active", "properties": {"x": "1"}}, from_state="queued"
        )
    assert "saving" in str(info.value) and "queued" in str(info.value)
    assert "active" in str(info.value)
    assert snapshot(db) == before


# --- ownership ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("visibility", "member", "error"),
    [
        ("private", False, Forbidden),
        ("shared", False, Forbidden),
        ("shared", True, Forbidden),
        ("public", False, ForbiddenPublicImage),
        ("community", False, ForbiddenPublicImage),
    ],
)
def test_non_owner_cannot_update_or_destroy(
    db: Database,
    ctx: RequestContext,
    other_ctx: RequestContext,
    visibility: str,
    member: bool,
    error: type[Exception],
) -> None:
    image = create(db, ctx, visibility=visibility)
    if member:
        add_member(db, image["id"], "tenant-b", "accepted")
    before = snapshot(db)
    with pytest.raises(error) as info:
        db.image_update(other_ctx, image["id"], {"name": "stolen"})
    assert info.type is error
    with pytest.raises(error) as info:
        db.image_destroy(other_ctx, image["id"])
    assert info.type is error
    assert snapshot(db) == before


@pytest.mark.parametrize("visibility", ["private", "shared", "public", "community"])
def test_owner_none_context_cannot_mutate(
    db: Database, ctx: RequestContext, visibility: str
) -> None:
    image = create(db, ctx, visibility=visibility)
    anonymous = RequestContext()
    expected = Forbidden if visibility in ("private", "shared") else ForbiddenPublicImage
    with pytest.raises(expected):
        db.image_update(anonymous, image["id"], {"name": "x"})
    with pytest.raises(expected):
        db.image_destroy(anonymous, image["id"])


def test_image_without_owner_is_visible_but_not_mutable(
    db: Database, ctx: RequestContext, admin_ctx: RequestContext
) -> None:
    image = db.image_create(admin_ctx, {"status": "queued", "visibility": "private"})
    assert image["owner"] is None
    assert db.image_get(ctx, image["id"])["id"] == image["id"]
    with pytest.raises(Forbidden):
        db.image_update(ctx, image["id"], {"name": "x"})
    assert db.image_update(admin_ctx, image["id"], {"name": "x"})["name"] == "x"


@pytest.mark.parametrize("visibility", ["private", "shared", "public", "community"])
def test_admin_may_do_anything(
    db: Database, ctx: RequestContext, admin_ctx: RequestContext, visibility: str
) -> None:
    image = create(db, ctx, visibility=visibility)
    assert db.image_get(admin_ctx, image["id"])["id"] == image["id"]
    assert db.image_update(admin_ctx, image["id"], {"name": "adm"})["name"] == "adm"
    assert db.image_destroy(admin_ctx, image["id"])["deleted"] is True


def test_invisible_image_is_forbidden(
    db: Database, ctx: RequestContext, other_ctx: RequestContext
) -> None:
    image = create(db, ctx, visibility="private")
    with pytest.raises(Forbidden) as info:
        db.image_get(other_ctx, image["id"])
    assert image["id"] in str(info.value)


# --- image_destroy --------------------------------------------------------------------


def test_destroy_cascades_with_one_deleted_at(
    db: Database, ctx: RequestContext, admin_ctx: RequestContext
) -> None:
    image = create(
        db,
        ctx,
        status="active",
        properties={"a": "1", "b": "2"},
        locations=[{"url": "file:///1"}, {"url": "file:///2", "status": "pending_delete"}],
    )
    image_id = image["id"]
    db.image_update(ctx, image_id, {"properties": {"b": "2"}}, purge_props=True)
    old_deleted_at = props_by_name(db.image_get(ctx, image_id))["a"]["deleted_at"]
    add_member(db, image_id, "tenant-b")
    add_tag(db, image_id, "t1")
    destroyed = db.image_destroy(ctx, image_id)
    when = destroyed["deleted_at"]
    assert destroyed["deleted"] is True and when is not None
    assert destroyed["status"] == "active"
    assert destroyed["locations"] == []
    props = props_by_name(destroyed)
    assert props["b"]["deleted"] is True and props["b"]["deleted_at"] == when
    assert props["a"]["deleted_at"] == old_deleted_at  # already deleted: untouched
    members = table_rows(db, t.image_members, image_id=image_id)
    tags = table_rows(db, t.image_tags, image_id=image_id)
    assert [(m["deleted"], m["deleted_at"]) for m in members] == [(True, when)]
    assert [(t["deleted"], t["deleted_at"]) for t in tags] == [(True, when)]
    locations = table_rows(db, t.image_locations, image_id=image_id)
    assert [(loc["status"], loc["deleted"]) for loc in locations] == [
        ("deleted", True),
        ("pending_delete", True),
    ]
    assert locations[0]["deleted_at"] == when
    with pytest.raises(ImageNotFound):
        db.image_get(ctx, image_id)
    with pytest.raises(ImageNotFound):
        db.image_destroy(ctx, image_id)
    assert db.image_get(admin_ctx, image_id)["deleted"] is True


def test_destroy_is_all_or_nothing(db: Database, ctx: RequestContext) -> None:
    image = create(db, ctx, properties={"a": "1"}, locations=[{"url": "file:///1"}])
    add_member(db, image["id"], "tenant-b")
    add_tag(db, image["id"], "t1")
    before = snapshot(db)

    def fail_midway(_c: Any, _cur: Any, statement: str, *_a: Any) -> None:
        if statement.lstrip().upper().startswith("UPDATE IMAGE_TAGS"):
            raise RuntimeError("simulated failure after the other soft deletes")

    event.listen(db.engine, "before_cursor_execute", fail_midway)
    try:
        with pytest.raises(RuntimeError):
            db.image_destroy(ctx, image["id"])
    finally:
        event.remove(db.engine, "before_cursor_execute", fail_midway)
    assert snapshot(db) == before
    assert db.image_get(ctx, image["id"])["deleted"] is False


def test_destroy_unknown_and_long_ids(db: Database, ctx: RequestContext) -> None:
    with pytest.raises(ImageNotFound):
        db.image_destroy(ctx, str(uuid.uuid4()))
    with pytest.raises(ImageNotFound):
        db.image_destroy(ctx, "x" * 37)


# --- image_get ------------------------------------------------------------------------


def test_get_not_found_cases(db: Database, ctx: RequestContext, admin_ctx: Any) -> None:
    with pytest.raises(ImageNotFound) as info:
        db.image_get(ctx, "missing-id")
    assert "missing-id" in str(info.value)
    with count_statements(db) as counter, pytest.raises(ImageNotFound):
        db.image_get(ctx, "x" * 37)
    assert counter.count == 0
    image = create(db, ctx, deleted=True, deleted_at=OLD)
    with pytest.raises(ImageNotFound):
        db.image_get(ctx, image["id"])
    assert db.image_get(ctx, image["id"], force_show_deleted=True)["deleted"] is True
    assert db.image_get(admin_ctx, image["id"])["deleted"] is True
    shower = RequestContext(project_id="tenant-a", show_deleted=True)
    assert db.image_get(shower, image["id"])["id"] == image["id"]


def test_get_hides_deleted_locations_unless_forced(db: Database, ctx: RequestContext) -> None:
    image = create(
        db,
        ctx,
        locations=[{"url": "file:///live"}, {"url": "file:///gone", "status": "deleted"}],
    )
    assert [loc["url"] for loc in db.image_get(ctx, image["id"])["locations"]] == ["file:///live"]
    forced = db.image_get(ctx, image["id"], force_show_deleted=True)
    assert [(loc["url"], loc["status"]) for loc in forced["locations"]] == [
        ("file:///live", "active"),
        ("file:///gone", "deleted"),
    ]


def test_get_deactivated_hides_locations_from_non_admins(
    db: Database, ctx: RequestContext, admin_ctx: RequestContext
) -> None:
    image = create(db, ctx, status="deactivated", locations=[{"url": "file:///x"}])
    assert db.image_get(ctx, image["id"])["locations"] == []
    assert [loc["url"] for loc in db.image_get(admin_ctx, image["id"])["locations"]] == [
        "file:///x"
    ]


def test_get_v1_mode(db: Database, ctx: RequestContext) -> None:
    image = create(db, ctx, visibility="public")
    got = db.image_get(ctx, image["id"], v1_mode=True)
    assert got["is_public"] is True and "visibility" not in got


def test_get_costs_constant_statements(db: Database, ctx: RequestContext) -> None:
    bare = create(db, ctx, visibility="shared")
    full = create(
        db,
        ctx,
        visibility="shared",
        properties={f"p{i}": str(i) for i in range(50)},
        locations=[{"url": f"file:///{i}", "metadata": {"i": i}} for i in range(10)],
    )
    with count_statements(db) as bare_count:
        db.image_get(ctx, bare["id"])
    with count_statements(db) as full_count:
        got = db.image_get(ctx, full["id"])
    assert len(got["properties"]) == 50 and len(got["locations"]) == 10
    # The image row (with the caller's membership), then all its children;
    # on PostgreSQL one statement returns both (and no BEGIN/COMMIT is sent).
    assert full_count.count == bare_count.count == (1 if db.backend == "postgresql" else 2)
    # A member reading a shared image pays nothing more: the membership is
    # read with the image row.
    add_member(db, full["id"], "tenant-b")
    with count_statements(db) as member_count:
        got = db.image_get(RequestContext(project_id="tenant-b"), full["id"])
    assert member_count.count == full_count.count
    assert len(got["properties"]) == 50 and len(got["locations"]) == 10
    # A project that is no member is refused by the same one statement.
    with count_statements(db) as refused, pytest.raises(Forbidden):
        db.image_get(RequestContext(project_id="tenant-c"), full["id"])
    assert refused.count == 1


# --- image_restore --------------------------------------------------------------------


def test_restore_pending_delete(db: Database, ctx: RequestContext, admin_ctx: Any) -> None:
    image = create(db, ctx, status="pending_delete", deleted=True, deleted_at=OLD)
    assert db.image_restore(admin_ctx, image["id"]) is None
    restored = db.image_get(ctx, image["id"])
    assert restored["status"] == "active" and restored["deleted"] is False


def test_restore_errors(db: Database, ctx: RequestContext, other_ctx: RequestContext) -> None:
    image = create(db, ctx, status="active")
    with pytest.raises(Conflict, match="active"):
        db.image_restore(ctx, image["id"])
    with pytest.raises(ImageNotFound):
        db.image_restore(ctx, str(uuid.uuid4()))
    with pytest.raises(ImageNotFound):
        db.image_restore(ctx, "x" * 37)
    private = create(db, ctx, status="pending_delete", visibility="private")
    with pytest.raises(Forbidden):
        db.image_restore(other_ctx, private["id"])
    # Deleted and not shown to a regular context.
    hidden = create(db, ctx, status="pending_delete", deleted=True, deleted_at=OLD)
    with pytest.raises(ImageNotFound):
        db.image_restore(ctx, hidden["id"])


# --- facade ---------------------------------------------------------------------------

GLANCE_SIGNATURES = {
    "image_create": "(context, values, v1_mode=False)",
    "image_update": (
        "(context, image_id, values, purge_props=False, from_state=None, v1_mode=False, "
        "atomic_props=None)"
    ),
    "image_destroy": "(context, image_id)",
    "image_get": "(context, image_id, force_show_deleted=False, v1_mode=False)",
    "image_restore": "(context, image_id)",
    "is_image_visible": "(context, image, status=None)",
    "is_image_mutable": "(context, image)",
    "image_location_add": "(context, image_id, location)",
    "image_location_update": "(context, image_id, location)",
    "image_location_delete": "(context, image_id, location_id, status, delete_time=None)",
}


@pytest.mark.parametrize("name", sorted(GLANCE_SIGNATURES))
def test_facade_has_glance_signatures(name: str) -> None:
    function = getattr(glancedb.api, name)
    signature = inspect.signature(function)
    plain = signature.replace(
        parameters=[
            p.replace(annotation=inspect.Parameter.empty) for p in signature.parameters.values()
        ],
        return_annotation=inspect.Signature.empty,
    )
    assert str(plain) == GLANCE_SIGNATURES[name]


# --- properties of all inputs (Hypothesis) --------------------------------------------

# Names from a case- and accent-free alphabet: MySQL's utf8_general_ci collation
# (Glance's) makes 'A'/'a' and 'e'/'é' the same name under the unique key.
PROPERTY_NAMES = st.text(
    alphabet="abcdefghijklmnopqrstuvwxyz0123456789_:.-", min_size=1, max_size=30
)
# Any BMP text but NUL (PostgreSQL text cannot hold it).
BMP_VALUES = st.text(
    alphabet=st.characters(
        max_codepoint=0xFFFF, exclude_categories=("Cs",), exclude_characters="\x00"
    ),
    max_size=40,
)
PROPERTY_DICTS = st.dictionaries(PROPERTY_NAMES, st.none() | BMP_VALUES, max_size=6)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(first=PROPERTY_DICTS, second=PROPERTY_DICTS, purge=st.booleans())
def test_update_properties_end_state(
    session_db: Database, first: dict[str, str | None], second: dict[str, str | None], purge: bool
) -> None:
    """After create(first) then update(second), the live properties are
    second, plus first's others unless purged; the unique key never trips."""
    clear_tables(session_db)
    ctx = RequestContext(project_id="tenant-a")
    image = create(session_db, ctx, properties=first)
    updated = session_db.image_update(ctx, image["id"], {"properties": second}, purge_props=purge)
    expected = dict(second) if purge else {**first, **second}
    live = {p["name"]: p["value"] for p in updated["properties"] if not p["deleted"]}
    assert live == expected
    assert len(updated["properties"]) == len(set(first) | set(second))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    name=st.text(max_size=10),
    # Keys from a small alphabet (MySQL collation: see PROPERTY_NAMES), astral chars included.
    props=st.dictionaries(
        st.text(alphabet="abc_\U0001f600\U00010348", min_size=1, max_size=6),
        st.text(max_size=10),
        max_size=3,
    ),
    url=st.text(min_size=1, max_size=10),
)
def test_four_byte_rule_for_all_inputs(
    session_db: Database, name: str, props: dict[str, str], url: str
) -> None:
    """Whatever the strings, image_create either stores them exactly or, when
    any holds a character outside the BMP, raises Invalid and writes nothing."""
    strings = [name, url, *props, *props.values()]
    assume(not any("\x00" in s or any(0xD800 <= ord(c) <= 0xDFFF for c in s) for s in strings))
    clear_tables(session_db)
    ctx = RequestContext(project_id="tenant-a")
    values = {"name": name, "properties": props, "locations": [{"url": url, "metadata": {}}]}
    if any(ord(c) > 0xFFFF for s in strings for c in s):
        with pytest.raises(Invalid, match="4-byte"):
            create(session_db, ctx, **values)
        assert row_counts(session_db) == dict.fromkeys(row_counts(session_db), 0)
    else:
        image = create(session_db, ctx, **values)
        assert image["name"] == name
        assert image["locations"][0]["url"] == url


# --- hostile input (SPEC 12): the leaks the fuzz test found ---------------------------

UTC_PLUS_1 = datetime.timezone(datetime.timedelta(hours=1))


@pytest.mark.parametrize(
    ("values", "match"),
    [
        ({"name": "nul\x00name"}, "NUL"),
        ({"properties": {"key": "v\x00"}}, "NUL"),
        ({"properties": {"ke\x00y": "v"}}, "NUL"),
        ({"locations": [{"url": "file:///\x00", "metadata": {}}]}, "NUL"),
        ({"locations": [{"url": "file:///a", "metadata": {"k": ["\x00"]}}]}, "NUL"),
        ({"size": 2**64}, "size"),
        ({"virtual_size": -(2**63) - 1}, "virtual_size"),
        ({"min_ram": -(2**31) - 1}, "min_ram"),
        ({"min_disk": 2**100}, "min_disk"),
        ({"size": float("inf")}, "size"),
        ({"size": float("nan")}, "size"),
        ({"name": ["a", "list"]}, "name"),
        ({"owner": {"a": "dict"}}, "owner"),
        ({"protected": {"a": "dict"}}, "protected"),
        ({"status": ["queued"]}, "status"),
        ({"visibility": {"public"}}, "visibility"),
        ({"properties": {"key": {"nested": "dict"}}}, "key"),
        ({"properties": {"key": ["a"]}}, "key"),
        ({"properties": {"key": b"bytes"}}, "key"),
        ({"properties": ["not", "a", "dict"]}, "properties"),
        ({"created_at": datetime.datetime.min.replace(tzinfo=UTC_PLUS_1)}, "created_at"),
        ({"deleted_at": "2024-01-01"}, "deleted_at"),
        ({"locations": [{"url": "file:///a", "id": [1]}]}, "location id"),
    ],
    ids=repr,
)
def test_unstorable_values_are_invalid_and_write_nothing(
    db: Database, ctx: RequestContext, values: dict[str, Any], match: str
) -> None:
    with pytest.raises(Invalid, match=match):
        db.image_create(ctx, {"status": "queued", **values})
    assert row_counts(db) == dict.fromkeys(row_counts(db), 0)
    image = create(db, ctx, name="ok", properties={"a": "1"})
    before = snapshot(db)
    if set(values) & {"created_at", "deleted_at"}:
        return  # ignored on update (SPEC 1.4)
    with pytest.raises(Invalid, match=match):
        db.image_update(ctx, image["id"], values)
    assert snapshot(db) == before


def test_an_error_names_a_huge_value_in_a_few_words(db: Database, ctx: RequestContext) -> None:
    """A caller's megabyte of bad input is named in a few words, not echoed back."""
    huge = ["x" * 1_000_000]
    for call in (
        lambda: db.image_create(ctx, {"status": "queued", "name": huge}),
        lambda: db.image_create(ctx, {"status": "queued", "name": "\U0001f600" + "x" * 10**6}),
        lambda: db.image_get_all(ctx, filters={"size_min": huge}),
    ):
        with pytest.raises(Invalid) as caught:
            call()
        message = str(caught.value)
        assert len(message) <= MAX_MESSAGE_LENGTH, message[:2000]
        assert "characters" in message
    # The reason, at the end of the message, is kept.
    with pytest.raises(Invalid, match=r"needs a 64-bit integer$"):
        db.image_get_all(ctx, filters={"size_max": huge})
    # A schema report quotes no input: every one of its differences is kept.
    report = "; ".join(f"column t.c{i} has type DATETIME" for i in range(100))
    assert SchemaError(report).msg == report


@pytest.mark.parametrize(
    "image_id",
    ["nul\x00", "\U0001f600", "lone\ud800", "x" * 37, 2**70],
    ids=["nul", "four-byte", "surrogate", "too-long", "huge-int"],
)
def test_ids_no_image_can_have_are_not_found(
    db: Database, ctx: RequestContext, image_id: Any
) -> None:
    """Never sent to the database (PostgreSQL rejects NUL, MySQL's utf8 the 4-byte text)."""
    for call in (
        lambda: db.image_get(ctx, image_id),
        lambda: db.image_update(ctx, image_id, {"name": "x"}),
        lambda: db.image_destroy(ctx, image_id),
        lambda: db.image_restore(ctx, image_id),
        lambda: db.image_location_add(ctx, image_id, {"url": "file:///a"}),
        lambda: db.image_tag_create(ctx, image_id, "tag"),
        lambda: db.image_get_all(ctx, marker=image_id),
    ):
        with pytest.raises(ImageNotFound):
            call()
    assert db.is_image_visible(ctx, {"id": image_id, "owner": "b", "visibility": "shared"}) is False
    assert row_counts(db) == dict.fromkeys(row_counts(db), 0)


@pytest.mark.parametrize("image_id", [["a-list"], {"a": "dict"}, b"bytes", object()], ids=repr)
def test_non_scalar_ids_are_invalid_naming_the_parameter(
    db: Database, ctx: RequestContext, image_id: Any
) -> None:
    with pytest.raises(Invalid, match="image id"):
        db.image_get(ctx, image_id)
    with pytest.raises(Invalid, match="marker"):
        db.image_get_all(ctx, marker=image_id)


def test_update_options_of_the_wrong_type(db: Database, ctx: RequestContext) -> None:
    image = create(db, ctx, status="active", properties={"a": "1"})
    before = snapshot(db)
    with pytest.raises(Invalid, match="atomic_props"):
        db.image_update(ctx, image["id"], {"name": "x"}, atomic_props=[["nested"]])
    with pytest.raises(Invalid, match="atomic_props"):
        db.image_update(ctx, image["id"], {"name": "x"}, atomic_props=5)  # type: ignore[arg-type]
    with pytest.raises(Invalid, match="from_state"):
        db.image_update(ctx, image["id"], {"name": "x"}, from_state=["active"])  # type: ignore[arg-type]
    with pytest.raises(Invalid, match="image values"):
        db.image_update(ctx, image["id"], ["name", "x"])  # type: ignore[arg-type]
    # A from_state no image can be in is a conflict like any other wrong state.
    with pytest.raises(Conflict):
        db.image_update(ctx, image["id"], {"name": "x"}, from_state="act\x00ive")
    assert snapshot(db) == before


def test_a_value_nested_beyond_the_recursion_limit_is_invalid(
    db: Database, admin_ctx: RequestContext
) -> None:
    """Walking, encoding or showing it in a message raises RecursionError in
    Python; every public call answers Invalid instead, and writes nothing."""
    deep: Any = "leaf"
    for _ in range(5000):
        deep = {"k": deep}
    image_id = insert_image(db)
    before = snapshot(db)
    calls = {
        "image_create": lambda: db.image_create(
            admin_ctx,
            {"status": "active", "locations": [{"url": "file:///a", "metadata": deep}]},
        ),
        "image_location_add": lambda: db.image_location_add(
            admin_ctx, image_id, {"url": "file:///b", "metadata": deep, "status": "active"}
        ),
        "image_update": lambda: db.image_update(admin_ctx, image_id, {"properties": deep}),
        "image_get_all": lambda: db.image_get_all(admin_ctx, filters={"tags": [deep]}),
        "purge_deleted_rows": lambda: db.purge_deleted_rows(admin_ctx, deep, 10),
    }
    for name, call in calls.items():
        with pytest.raises(Invalid, match="nested too deeply"):
            call()
            pytest.fail(f"{name} took the value")
    assert snapshot(db) == before
