"""Image properties (SPEC 6): create/revive, soft delete, the atomic calls."""

from __future__ import annotations

import datetime
import inspect
import logging
import uuid
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import update

from glancedb import Database, Record, RequestContext, api, exception
from glancedb.models import tables as t
from tests.support.backends import clear_tables, peer_databases
from tests.support.factories import count_rows, insert_image, table_rows
from tests.support.races import race
from tests.support.shapes import PROPERTY_KEYS
from tests.support.text_strategies import BMP_TEXT, FOUR_BYTE_TEXT


def soft_delete_property(db: Database, prop_id: int) -> None:
    old = datetime.datetime(2020, 1, 1)
    with db.engine.begin() as conn:
        conn.execute(
            update(t.image_properties)
            .where(t.image_properties.c.id == prop_id)
            .values(deleted=True, deleted_at=old)
        )


# --- image_property_create ------------------------------------------------------------


def test_create_returns_the_property_record(db: Database, ctx: RequestContext) -> None:
    image_id = insert_image(db)
    prop = db.image_property_create(ctx, {"image_id": image_id, "name": "os", "value": "linux"})
    assert isinstance(prop, Record)
    assert set(prop) == PROPERTY_KEYS
    assert prop.name == prop["name"] == "os"
    assert (prop.image_id, prop.value, prop.deleted, prop.deleted_at) == (
        image_id,
        "linux",
        False,
        None,
    )
    assert isinstance(prop.created_at, datetime.datetime) and prop.created_at.tzinfo is None
    assert prop.updated_at == prop.created_at
    [stored] = table_rows(db, t.image_properties)
    assert stored == dict(prop)


def test_create_live_duplicate_is_rejected(db: Database, ctx: RequestContext) -> None:
    image_id = insert_image(db)
    db.image_property_create(ctx, {"image_id": image_id, "name": "os", "value": "linux"})
    with pytest.raises(exception.Duplicate, match="'os'"):
        db.image_property_create(ctx, {"image_id": image_id, "name": "os", "value": "bsd"})
    assert [r["value"] for r in table_rows(db, t.image_properties)] == ["linux"]


def test_same_name_on_two_images_is_fine(db: Database, ctx: RequestContext) -> None:
    first, second = insert_image(db), insert_image(db)
    db.image_property_create(ctx, {"image_id": first, "name": "os", "value": "a"})
    db.image_property_create(ctx, {"image_id": second, "name": "os", "value": "b"})
    assert count_rows(db, t.image_properties) == 2


def test_create_revives_a_soft_deleted_property(db: Database, ctx: RequestContext) -> None:
    image_id = insert_image(db)
    old = db.image_property_create(ctx, {"image_id": image_id, "name": "os", "value": "a"})
    soft_delete_property(db, old.id)
    new = db.image_property_create(ctx, {"image_id": image_id, "name": "os", "value": "b"})
    assert new.id == old.id
    assert (new.value, new.deleted, new.deleted_at) == ("b", False, None)
    assert new.created_at == old.created_at
    [stored] = table_rows(db, t.image_properties)
    assert stored == dict(new)


def test_create_stores_given_bookkeeping_columns(db: Database, ctx: RequestContext) -> None:
    image_id = insert_image(db)
    when = datetime.datetime(2021, 5, 4, 3, 2, 1)
    prop = db.image_property_create(
        ctx,
        {
            "image_id": image_id,
            "name": "old",
            "value": "x",
            "created_at": when,
            "updated_at": when,
            "deleted": True,
            "deleted_at": when,
        },
    )
    [stored] = table_rows(db, t.image_properties)
    assert stored == dict(prop)
    assert (stored["created_at"], stored["deleted"], stored["deleted_at"]) == (when, True, when)


def test_create_on_unknown_image(db: Database, ctx: RequestContext) -> None:
    with pytest.raises(exception.ImageNotFound, match="missing-image"):
        db.image_property_create(ctx, {"image_id": "missing-image", "name": "a", "value": "b"})
    with pytest.raises(exception.ImageNotFound):
        db.image_property_create(ctx, {"image_id": "x" * 37, "name": "a", "value": "b"})
    assert count_rows(db, t.image_properties) == 0


@pytest.mark.parametrize(
    "values",
    [
        {"name": "a", "value": "b", "colour": "red"},
        {"value": "b"},
        {"name": "", "value": "b"},
        {"name": None, "value": "b"},
        {"name": "a", "value": 3},
        {"name": "n" * 256, "value": "b"},
    ],
    ids=["unknown-key", "no-name", "empty-name", "none-name", "int-value", "long-name"],
)
def test_create_rejects_bad_values(
    db: Database, ctx: RequestContext, values: dict[str, object]
) -> None:
    image_id = insert_image(db)
    with pytest.raises(exception.Invalid):
        db.image_property_create(ctx, {"image_id": image_id, **values})
    assert count_rows(db, t.image_properties) == 0


def test_long_name_error_names_the_column(db: Database, ctx: RequestContext) -> None:
    image_id = insert_image(db)
    with pytest.raises(exception.Invalid, match=r"image_properties\.name"):
        db.image_property_create(ctx, {"image_id": image_id, "name": "n" * 256, "value": ""})


def test_none_value_and_long_value_are_stored(db: Database, ctx: RequestContext) -> None:
    image_id = insert_image(db)
    db.image_property_create(ctx, {"image_id": image_id, "name": "empty", "value": None})
    db.image_property_create(ctx, {"image_id": image_id, "name": "big", "value": "v" * 60000})
    assert [(r["name"], r["value"]) for r in table_rows(db, t.image_properties)] == [
        ("empty", None),
        ("big", "v" * 60000),
    ]


def test_sql_metacharacters_are_data(db: Database, ctx: RequestContext) -> None:
    image_id = insert_image(db)
    name = "x'; DROP TABLE images; --"
    db.image_property_create(ctx, {"image_id": image_id, "name": name, "value": "%_\\"})
    db.image_property_delete(ctx, name, image_id)
    assert count_rows(db, t.images) == 1


@settings(max_examples=25, deadline=None)
@given(text=FOUR_BYTE_TEXT, where=st.sampled_from(["name", "value"]))
def test_four_byte_characters_are_rejected(session_db: Database, text: str, where: str) -> None:
    db = session_db
    clear_tables(db)
    image_id = insert_image(db)
    values = {"image_id": image_id, "name": "n", "value": "v", where: text}
    ctx = RequestContext(project_id="tenant-a")
    with pytest.raises(exception.Invalid, match="4-byte"):
        db.image_property_create(ctx, values)
    with pytest.raises(exception.Invalid, match="4-byte"):
        db.image_set_property_atomic(image_id, values["name"], values["value"])
    assert count_rows(db, t.image_properties) == 0


@settings(max_examples=25, deadline=None)
@given(name=BMP_TEXT.filter(bool), value=BMP_TEXT)
def test_bmp_strings_round_trip(session_db: Database, name: str, value: str) -> None:
    db = session_db
    clear_tables(db)
    image_id = insert_image(db)
    ctx = RequestContext(project_id="tenant-a")
    prop = db.image_property_create(ctx, {"image_id": image_id, "name": name, "value": value})
    [stored] = table_rows(db, t.image_properties)
    assert (stored["name"], stored["value"]) == (name, value) == (prop.name, prop.value)
    deleted = db.image_property_delete(ctx, name, image_id)
    assert (deleted.name, deleted.value, deleted.deleted) == (name, value, True)


# --- image_property_delete --------------------------------------------------------------


def test_delete_soft_deletes_and_returns_the_record(db: Database, ctx: RequestContext) -> None:
    image_id = insert_image(db)
    other = insert_image(db)
    prop = db.image_property_create(ctx, {"image_id": image_id, "name": "os", "value": "a"})
    db.image_property_create(ctx, {"image_id": other, "name": "os", "value": "a"})
    deleted = db.image_property_delete(ctx, "os", image_id)
    assert isinstance(deleted, Record) and set(deleted) == PROPERTY_KEYS
    assert (deleted.id, deleted.name, deleted.value, deleted.deleted) == (prop.id, "os", "a", True)
    assert isinstance(deleted.deleted_at, datetime.datetime)
    stored = {r["image_id"]: r for r in table_rows(db, t.image_properties)}
    assert stored[image_id] == dict(deleted)
    assert stored[other]["deleted"] is False


def test_delete_unknown_or_deleted_property(db: Database, ctx: RequestContext) -> None:
    image_id = insert_image(db)
    with pytest.raises(exception.NotFound, match="'os'"):
        db.image_property_delete(ctx, "os", image_id)
    db.image_property_create(ctx, {"image_id": image_id, "name": "os", "value": "a"})
    db.image_property_delete(ctx, "os", image_id)
    with pytest.raises(exception.NotFound):
        db.image_property_delete(ctx, "os", image_id)
    with pytest.raises(exception.NotFound):
        db.image_property_delete(ctx, "os", "missing-image")


def test_delete_then_create_replaces_the_value(db: Database, ctx: RequestContext) -> None:
    image_id = insert_image(db)
    db.image_property_create(ctx, {"image_id": image_id, "name": "os", "value": "a"})
    db.image_property_delete(ctx, "os", image_id)
    db.image_property_create(ctx, {"image_id": image_id, "name": "os", "value": "b"})
    [stored] = table_rows(db, t.image_properties)
    assert (stored["value"], stored["deleted"], stored["deleted_at"]) == ("b", False, None)


# --- image_set_property_atomic / image_delete_property_atomic ------------------------------


def test_set_atomic_inserts_then_refuses(db: Database) -> None:
    image_id = insert_image(db)
    assert db.image_set_property_atomic(image_id, "lock", "one") is None
    with pytest.raises(exception.Duplicate, match="'lock'"):
        db.image_set_property_atomic(image_id, "lock", "two")
    [stored] = table_rows(db, t.image_properties)
    assert (stored["name"], stored["value"], stored["deleted"]) == ("lock", "one", False)


def test_set_atomic_revives_a_deleted_property(db: Database, ctx: RequestContext) -> None:
    image_id = insert_image(db)
    prop = db.image_property_create(ctx, {"image_id": image_id, "name": "lock", "value": "a"})
    soft_delete_property(db, prop.id)
    db.image_set_property_atomic(image_id, "lock", "b")
    [stored] = table_rows(db, t.image_properties)
    assert (stored["id"], stored["value"]) == (prop.id, "b")
    assert (stored["deleted"], stored["deleted_at"]) == (False, None)
    with pytest.raises(exception.Duplicate):
        db.image_set_property_atomic(image_id, "lock", "c")


def test_set_atomic_unknown_image(db: Database) -> None:
    with pytest.raises(exception.ImageNotFound, match="nope"):
        db.image_set_property_atomic("nope", "lock", "a")
    assert count_rows(db, t.image_properties) == 0


def test_delete_atomic_hard_deletes_on_matching_value(db: Database) -> None:
    image_id = insert_image(db)
    db.image_set_property_atomic(image_id, "lock", "a")
    with pytest.raises(exception.NotFound, match="'b'"):
        db.image_delete_property_atomic(image_id, "lock", "b")
    assert count_rows(db, t.image_properties) == 1
    db.image_delete_property_atomic(image_id, "lock", "a")
    assert count_rows(db, t.image_properties) == 0
    with pytest.raises(exception.NotFound):
        db.image_delete_property_atomic(image_id, "lock", "a")
    # Free again: the next caller takes it.
    db.image_set_property_atomic(image_id, "lock", "c")


def test_delete_atomic_ignores_soft_deleted(db: Database, ctx: RequestContext) -> None:
    image_id = insert_image(db)
    prop = db.image_property_create(ctx, {"image_id": image_id, "name": "lock", "value": "a"})
    soft_delete_property(db, prop.id)
    with pytest.raises(exception.NotFound):
        db.image_delete_property_atomic(image_id, "lock", "a")
    assert count_rows(db, t.image_properties) == 1


@pytest.mark.slow
@pytest.mark.topologies
def test_set_atomic_has_exactly_one_winner(
    backend: str, db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="glancedb")
    threads = 16
    # One database per Galera node (the race crosses nodes), else one for all.
    contenders = peer_databases(backend, db, 3 if backend == "galera" else 1, pool_size=20)
    try:
        for round_ in range(20):
            image_id = insert_image(db)
            if round_ % 2:
                # Odd rounds race to revive a soft-deleted property.
                db.image_set_property_atomic(image_id, "os_glance_import_task", "old")
                db.image_delete_property_atomic(image_id, "os_glance_import_task", "old")
                db.image_set_property_atomic(image_id, "os_glance_import_task", "old")
                [prop] = table_rows(db, t.image_properties, image_id=image_id)
                soft_delete_property(db, prop["id"])

            def take(n: int, image_id: str = image_id) -> None:
                contender = contenders[n % len(contenders)]
                contender.image_set_property_atomic(image_id, "os_glance_import_task", f"task-{n}")

            outcomes = race(threads, take)
            assert sorted(outcomes) == ["duplicate"] * (threads - 1) + ["won"], outcomes
            [stored] = table_rows(db, t.image_properties, image_id=image_id)
            assert stored["deleted"] is False and stored["value"].startswith("task-")
        # The image-row lock serialises the contenders: without it MySQL's gap
        # locks made about ten of them deadlock (and retry) per round.  Across
        # Galera nodes the losers of certification are retried, by design.
        retries = [r for r in caplog.records if "transient database error" in r.getMessage()]
        if backend != "galera":
            assert retries == []
    finally:
        for contender in contenders:
            contender.dispose()


# --- facade -------------------------------------------------------------------------


def test_facade_has_glances_signatures() -> None:
    expected = {
        "image_property_create": ["context", "values"],
        "image_property_delete": ["context", "prop_ref", "image_ref"],
        "image_set_property_atomic": ["image_id", "name", "value"],
        "image_delete_property_atomic": ["image_id", "name", "value"],
    }
    for name, params in expected.items():
        assert list(inspect.signature(getattr(api, name)).parameters) == params, name


def test_unencodable_and_non_string_inputs(db: Database, ctx: RequestContext) -> None:
    image_id = insert_image(db)
    for values in ({"name": "a\ud800", "value": "v"}, {"name": "a", "value": "\udc00"}):
        with pytest.raises(exception.Invalid, match="surrogate"):
            db.image_property_create(ctx, {"image_id": image_id, **values})
    with pytest.raises(exception.Invalid, match="surrogate"):
        db.image_set_property_atomic(image_id, "a", "\ud800")
    assert count_rows(db, t.image_properties) == 0
    with pytest.raises(exception.NotFound):
        db.image_property_delete(ctx, 5, 7)  # type: ignore[arg-type]
    with pytest.raises(exception.NotFound):
        db.image_delete_property_atomic(image_id, 5, 6)  # type: ignore[arg-type]


def test_given_timestamps_are_checked_and_made_naive_utc(db: Database, ctx: RequestContext) -> None:
    image_id = insert_image(db)
    with pytest.raises(exception.Invalid, match="created_at"):
        db.image_property_create(
            ctx, {"image_id": image_id, "name": "a", "value": "b", "created_at": "yesterday"}
        )
    aware = datetime.datetime(
        2022, 1, 1, 12, 0, tzinfo=datetime.timezone(datetime.timedelta(hours=2))
    )
    prop = db.image_property_create(
        ctx, {"image_id": image_id, "name": "a", "value": "b", "created_at": aware}
    )
    assert prop.created_at == datetime.datetime(2022, 1, 1, 10, 0)
    assert table_rows(db, t.image_properties)[0]["created_at"] == datetime.datetime(
        2022, 1, 1, 10, 0
    )


def test_image_id_may_be_a_uuid_object(db: Database, ctx: RequestContext) -> None:
    image_id = uuid.uuid4()
    insert_image(db, id=str(image_id))
    prop = db.image_property_create(ctx, {"image_id": image_id, "name": "a", "value": "b"})
    assert prop.image_id == str(image_id)
    db.image_set_property_atomic(image_id, "lock", "x")  # type: ignore[arg-type]
    db.image_delete_property_atomic(image_id, "lock", "x")  # type: ignore[arg-type]
    assert db.image_property_delete(ctx, "a", image_id).deleted is True  # type: ignore[arg-type]


# --- hostile input (SPEC 12): the leaks the fuzz test found ---------------------------


@pytest.mark.parametrize(
    ("values", "match"),
    [
        ({"name": "nul\x00"}, "NUL"),
        ({"value": "v\x00"}, "NUL"),
        ({"value": {"a": "dict"}}, "value"),
        ({"value": ["a"]}, "value"),
        ({"name": ["a"]}, "name"),
        ({"deleted": {"yes": 1}}, "deleted"),
        (
            {
                "created_at": datetime.datetime.min.replace(
                    tzinfo=datetime.timezone(datetime.timedelta(hours=2))
                )
            },
            "created_at",
        ),
        ({1: "int key"}, "1"),
    ],
    ids=repr,
)
def test_hostile_property_values_are_invalid_and_write_nothing(
    db: Database, ctx: RequestContext, values: dict[Any, Any], match: str
) -> None:
    image_id = insert_image(db)
    with pytest.raises(exception.Invalid, match=match):
        db.image_property_create(ctx, {"image_id": image_id, "name": "p", "value": "v", **values})
    assert count_rows(db, t.image_properties) == 0


def test_property_lookups_by_values_no_row_can_hold(db: Database, ctx: RequestContext) -> None:
    image_id = insert_image(db, properties={"a": "1"})
    for name, image in (("nul\x00", image_id), ("a", "nul\x00"), ("\U0001f600", image_id)):
        with pytest.raises(exception.NotFound):
            db.image_property_delete(ctx, name, image)
        with pytest.raises(exception.NotFound):
            db.image_delete_property_atomic(image, name, "1")
    with pytest.raises(exception.NotFound):
        db.image_delete_property_atomic(image_id, "a", "lone\ud800")
    with pytest.raises(exception.ImageNotFound):
        db.image_set_property_atomic("nul\x00", "a", "1")
    with pytest.raises(exception.Invalid, match="prop_ref"):
        db.image_property_delete(ctx, ["a"], image_id)  # type: ignore[arg-type]
    assert [p["value"] for p in table_rows(db, t.image_properties)] == ["1"]


def test_values_beyond_mysql_text_are_invalid_everywhere(db: Database, ctx: RequestContext) -> None:
    """A TEXT column holds 65535 bytes on MySQL: every backend says Invalid."""
    image_id = insert_image(db)
    too_long = "\u20ac" * 21846  # 65538 bytes in UTF-8
    with pytest.raises(exception.Invalid, match="65535 bytes"):
        db.image_property_create(ctx, {"image_id": image_id, "name": "p", "value": too_long})
    with pytest.raises(exception.Invalid, match="65535 bytes"):
        db.image_set_property_atomic(image_id, "p", too_long)
    with pytest.raises(exception.Invalid, match="65535 bytes"):
        db.image_update(ctx, image_id, {"properties": {"p": too_long}})
    assert count_rows(db, t.image_properties) == 0
    db.image_set_property_atomic(image_id, "p", "\u20ac" * 21845)  # 65535 bytes fit
    assert count_rows(db, t.image_properties) == 1


# --- properties written with an image ---------------------------------------------------


def test_many_properties_with_an_image_are_stored_in_the_given_order(
    db: Database, ctx: RequestContext
) -> None:
    """Beyond any driver's statement cache or parameter limit, NULL values
    and non-ASCII text included; their ids follow the given order, on
    image_create and on image_update alike."""
    props: dict[str, str | None] = {
        f"p{i:03d}": None if i % 7 == 0 else f"v{i}" for i in range(150)
    }
    props["zz-text"] = "é中"
    image = db.image_create(ctx, {"status": "queued", "owner": ctx.owner, "properties": props})
    created = image["properties"]
    assert [p["name"] for p in created] == list(props)
    assert [p["id"] for p in created] == sorted(p["id"] for p in created)
    assert {p["name"]: p["value"] for p in created} == props
    assert db.image_get(ctx, image["id"])["properties"] == created
    more = {f"n{i:02d}": None if i == 3 else f"w{i}" for i in range(60)}
    updated = db.image_update(ctx, image["id"], {"properties": more})
    added = [p for p in updated["properties"] if p["name"] in more]
    assert {p["name"]: p["value"] for p in added} == more
    assert [p["name"] for p in sorted(added, key=lambda p: p["id"])] == list(more)
    assert count_rows(db, t.image_properties) == len(props) + len(more)
