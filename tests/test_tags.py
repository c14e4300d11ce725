"""Image tags (SPEC 5): create, delete, get_all, set_all."""

from __future__ import annotations

import datetime
import inspect
import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from glancedb import Database, RequestContext, api, exception
from glancedb.models import tables as t
from tests.support.backends import (
    clear_tables,
    commit_statements,
    count_statements,
    peer_databases,
)
from tests.support.factories import count_rows, insert, insert_image, table_rows, tag_row
from tests.support.races import race
from tests.support.text_strategies import BMP_TEXT, FOUR_BYTE_TEXT


def live(db: Database, image_id: str) -> list[str]:
    """Live tag values straight from the table, in insertion order."""
    return [r["value"] for r in table_rows(db, t.image_tags, image_id=image_id) if not r["deleted"]]


# --- image_tag_create ------------------------------------------------------------------


def test_create_returns_the_value_and_stores_a_row(db: Database, ctx: RequestContext) -> None:
    image_id = insert_image(db)
    assert db.image_tag_create(ctx, image_id, "ubuntu") == "ubuntu"
    [row] = table_rows(db, t.image_tags)
    assert (row["image_id"], row["value"], row["deleted"], row["deleted_at"]) == (
        image_id,
        "ubuntu",
        False,
        None,
    )
    assert isinstance(row["created_at"], datetime.datetime)


def test_create_twice_keeps_one_live_tag(db: Database, ctx: RequestContext) -> None:
    image_id = insert_image(db)
    db.image_tag_create(ctx, image_id, "a")
    assert db.image_tag_create(ctx, image_id, "a") == "a"
    assert live(db, image_id) == ["a"]


def test_tags_are_exact_strings(db: Database, ctx: RequestContext) -> None:
    # MySQL's collation would call these equal; a tag is an exact string.
    image_id = insert_image(db)
    for value in ("a", "A", "a ", "á"):
        db.image_tag_create(ctx, image_id, value)
    assert db.image_tag_get_all(ctx, image_id) == ["a", "A", "a ", "á"]
    db.image_tag_delete(ctx, image_id, "A")
    assert db.image_tag_get_all(ctx, image_id) == ["a", "a ", "á"]
    with pytest.raises(exception.NotFound):
        db.image_tag_delete(ctx, image_id, "Á")


def test_create_on_unknown_image(db: Database, ctx: RequestContext) -> None:
    with pytest.raises(exception.ImageNotFound, match="missing"):
        db.image_tag_create(ctx, "missing", "a")
    with pytest.raises(exception.ImageNotFound):
        db.image_tag_create(ctx, "x" * 37, "a")
    assert count_rows(db, t.image_tags) == 0


@pytest.mark.parametrize("value", [None, 5, "t" * 256], ids=["none", "int", "long"])
def test_create_rejects_bad_values(db: Database, ctx: RequestContext, value: object) -> None:
    image_id = insert_image(db)
    with pytest.raises(exception.Invalid):
        db.image_tag_create(ctx, image_id, value)  # type: ignore[arg-type]
    assert count_rows(db, t.image_tags) == 0


def test_long_tag_error_names_the_column(db: Database, ctx: RequestContext) -> None:
    image_id = insert_image(db)
    with pytest.raises(exception.Invalid, match=r"image_tags\.value"):
        db.image_tag_create(ctx, image_id, "t" * 256)
    db.image_tag_create(ctx, image_id, "t" * 255)
    assert live(db, image_id) == ["t" * 255]


def test_sql_metacharacters_are_data(db: Database, ctx: RequestContext) -> None:
    image_id = insert_image(db)
    tags = ["'; DELETE FROM images; --", "%", "_", "\\"]
    db.image_tag_set_all(ctx, image_id, tags)
    assert db.image_tag_get_all(ctx, image_id) == tags
    db.image_tag_delete(ctx, image_id, "%")
    assert db.image_tag_get_all(ctx, image_id) == [tags[0], "_", "\\"]
    assert count_rows(db, t.images) == 1


@settings(max_examples=25, deadline=None)
@given(value=FOUR_BYTE_TEXT, others=st.lists(st.sampled_from(["x", "y"]), max_size=3))
def test_four_byte_tags_are_rejected(session_db: Database, value: str, others: list[str]) -> None:
    db = session_db
    clear_tables(db)
    ctx = RequestContext(project_id="tenant-a")
    image_id = insert_image(db)
    db.image_tag_create(ctx, image_id, "kept")
    with pytest.raises(exception.Invalid, match="4-byte"):
        db.image_tag_create(ctx, image_id, value)
    with pytest.raises(exception.Invalid, match="4-byte"):
        db.image_tag_set_all(ctx, image_id, [*others, value])
    assert [(r["value"], r["deleted"]) for r in table_rows(db, t.image_tags)] == [("kept", False)]


@settings(max_examples=25, deadline=None)
@given(value=BMP_TEXT)
def test_bmp_tags_round_trip(session_db: Database, value: str) -> None:
    db = session_db
    clear_tables(db)
    ctx = RequestContext(project_id="tenant-a")
    image_id = insert_image(db)
    assert db.image_tag_create(ctx, image_id, value) == value
    assert db.image_tag_get_all(ctx, image_id) == [value]
    db.image_tag_set_all(ctx, image_id, [value, "other"])
    assert db.image_tag_get_all(ctx, image_id) == [value, "other"]
    db.image_tag_delete(ctx, image_id, value)
    assert db.image_tag_get_all(ctx, image_id) == ["other"]


# --- image_tag_delete ------------------------------------------------------------------


def test_delete_soft_deletes(db: Database, ctx: RequestContext) -> None:
    image_id = insert_image(db)
    other = insert_image(db)
    db.image_tag_create(ctx, image_id, "a")
    db.image_tag_create(ctx, image_id, "b")
    db.image_tag_create(ctx, other, "a")
    assert db.image_tag_delete(ctx, image_id, "a") is None
    stored = table_rows(db, t.image_tags, image_id=image_id)
    assert [(r["value"], r["deleted"]) for r in stored] == [("a", True), ("b", False)]
    assert isinstance(stored[0]["deleted_at"], datetime.datetime)
    assert live(db, other) == ["a"]


def test_delete_missing_tag(db: Database, ctx: RequestContext) -> None:
    image_id = insert_image(db)
    with pytest.raises(exception.NotFound, match="'a'"):
        db.image_tag_delete(ctx, image_id, "a")
    db.image_tag_create(ctx, image_id, "a")
    db.image_tag_delete(ctx, image_id, "a")
    with pytest.raises(exception.NotFound):
        db.image_tag_delete(ctx, image_id, "a")
    with pytest.raises(exception.ImageNotFound):
        db.image_tag_delete(ctx, "x" * 37, "a")


# --- image_tag_get_all ------------------------------------------------------------------


def test_get_all_in_insertion_order_without_deleted(db: Database, ctx: RequestContext) -> None:
    image_id = insert_image(db)
    for value in ("c", "a", "b", "d"):
        db.image_tag_create(ctx, image_id, value)
    db.image_tag_delete(ctx, image_id, "b")
    assert db.image_tag_get_all(ctx, image_id) == ["c", "a", "d"]


def test_get_all_unknown_and_malformed_ids(db: Database, ctx: RequestContext) -> None:
    assert db.image_tag_get_all(ctx, "unknown") == []
    with pytest.raises(exception.ImageNotFound):
        db.image_tag_get_all(ctx, "x" * 37)


def test_get_all_is_one_statement(db: Database, ctx: RequestContext) -> None:
    def statements(tags: int) -> int:
        clear_tables(db)
        image_id = insert_image(db)
        db.image_tag_set_all(ctx, image_id, [f"tag-{n}" for n in range(tags)])
        with count_statements(db) as counter:
            assert len(db.image_tag_get_all(ctx, image_id)) == tags
        return counter.count

    assert statements(1) == statements(20) == 1


# --- image_tag_set_all --------------------------------------------------------------------


def test_set_all_on_an_untagged_image_dedups_in_order(db: Database, ctx: RequestContext) -> None:
    image_id = insert_image(db)
    assert db.image_tag_set_all(ctx, image_id, ["b", "a", "b", "c", "a"]) is None
    assert db.image_tag_get_all(ctx, image_id) == ["b", "a", "c"]
    assert count_rows(db, t.image_tags) == 3


def test_set_all_keeps_adds_and_removes(db: Database, ctx: RequestContext) -> None:
    image_id = insert_image(db)
    other = insert_image(db)
    db.image_tag_set_all(ctx, image_id, ["keep1", "drop", "keep2"])
    db.image_tag_set_all(ctx, other, ["drop"])
    before = {r["value"]: r["id"] for r in table_rows(db, t.image_tags, image_id=image_id)}
    db.image_tag_set_all(ctx, image_id, ["new2", "keep2", "new1", "keep1", "new2"])
    assert db.image_tag_get_all(ctx, image_id) == ["keep1", "keep2", "new2", "new1"]
    after = table_rows(db, t.image_tags, image_id=image_id)
    kept = {r["value"]: r["id"] for r in after if r["value"].startswith("keep")}
    assert kept == {"keep1": before["keep1"], "keep2": before["keep2"]}
    [dropped] = [r for r in after if r["value"] == "drop"]
    assert dropped["deleted"] is True and isinstance(dropped["deleted_at"], datetime.datetime)
    assert live(db, other) == ["drop"]


def test_set_all_empty_removes_everything(db: Database, ctx: RequestContext) -> None:
    image_id = insert_image(db)
    db.image_tag_set_all(ctx, image_id, ["a", "b"])
    db.image_tag_set_all(ctx, image_id, [])
    assert db.image_tag_get_all(ctx, image_id) == []
    assert [r["deleted"] for r in table_rows(db, t.image_tags)] == [True, True]


def test_set_all_accepts_any_iterable(db: Database, ctx: RequestContext) -> None:
    image_id = insert_image(db)
    db.image_tag_set_all(ctx, image_id, (v for v in ["x", "y"]))
    assert db.image_tag_get_all(ctx, image_id) == ["x", "y"]


def test_set_all_collapses_duplicate_live_rows(db: Database, ctx: RequestContext) -> None:
    # Glance stores duplicate tags; after set_all they are distinct.
    image_id = insert_image(db)
    insert(db, t.image_tags, [tag_row(image_id, value=v) for v in ("a", "a", "b")])
    db.image_tag_set_all(ctx, image_id, ["b", "a"])
    assert db.image_tag_get_all(ctx, image_id) == ["a", "b"]


def test_set_all_errors_change_nothing(db: Database, ctx: RequestContext) -> None:
    image_id = insert_image(db)
    db.image_tag_set_all(ctx, image_id, ["a"])
    with pytest.raises(exception.ImageNotFound, match="missing"):
        db.image_tag_set_all(ctx, "missing", ["a"])
    with pytest.raises(exception.ImageNotFound):
        db.image_tag_set_all(ctx, "x" * 37, [])
    with pytest.raises(exception.Invalid):
        db.image_tag_set_all(ctx, image_id, ["b", "t" * 256])
    with pytest.raises(exception.Invalid):
        db.image_tag_set_all(ctx, image_id, ["b", None])  # type: ignore[list-item]
    with pytest.raises(exception.Invalid, match="abc"):
        db.image_tag_set_all(ctx, image_id, "abc")
    assert [(r["value"], r["deleted"]) for r in table_rows(db, t.image_tags)] == [("a", False)]


def test_set_all_costs_a_constant_number_of_statements(db: Database, ctx: RequestContext) -> None:
    def statements(tags: int) -> int:
        clear_tables(db)
        image_id = insert_image(db)
        db.image_tag_set_all(ctx, image_id, [f"old-{n}" for n in range(tags)])
        new = [f"new-{n}" for n in range(tags)]
        with count_statements(db) as counter:
            db.image_tag_set_all(ctx, image_id, new)
        assert db.image_tag_get_all(ctx, image_id) == new
        return counter.count

    assert statements(1) == statements(20) <= 4 + commit_statements(db)


# --- facade -------------------------------------------------------------------------------


def test_facade_has_glances_signatures() -> None:
    expected = {
        "image_tag_create": ["context", "image_id", "value"],
        "image_tag_delete": ["context", "image_id", "value"],
        "image_tag_get_all": ["context", "image_id"],
        "image_tag_set_all": ["context", "image_id", "tags"],
    }
    for name, params in expected.items():
        assert list(inspect.signature(getattr(api, name)).parameters) == params, name


def test_unencodable_and_non_string_inputs(db: Database, ctx: RequestContext) -> None:
    image_id = insert_image(db)
    with pytest.raises(exception.Invalid, match="surrogate"):
        db.image_tag_create(ctx, image_id, "a\ud800")
    with pytest.raises(exception.Invalid, match="surrogate"):
        db.image_tag_set_all(ctx, image_id, ["a", "\udfff"])
    assert count_rows(db, t.image_tags) == 0
    # Ids of the wrong type find nothing on every backend (PostgreSQL would
    # otherwise refuse to compare a varchar column with an integer).
    assert db.image_tag_get_all(ctx, 5) == []  # type: ignore[arg-type]
    with pytest.raises(exception.ImageNotFound):
        db.image_tag_create(ctx, 5, "a")  # type: ignore[arg-type]
    with pytest.raises(exception.NotFound):
        db.image_tag_delete(ctx, 5, 6)  # type: ignore[arg-type]


@pytest.mark.slow
@pytest.mark.topologies
def test_concurrent_tag_writers_never_duplicate_a_tag(backend: str, db: Database) -> None:
    threads = 8
    contenders = peer_databases(backend, db, 3 if backend == "galera" else 1, pool_size=10)
    ctx = RequestContext(project_id="tenant-a")
    try:
        for _ in range(5):
            image_id = insert_image(db)

            def write(n: int, image_id: str = image_id) -> None:
                contender = contenders[n % len(contenders)]
                if n % 2:
                    contender.image_tag_create(ctx, image_id, "shared")
                else:
                    contender.image_tag_set_all(ctx, image_id, ["shared", f"own-{n}"])

            outcomes = race(threads, write)
            assert outcomes == ["won"] * threads, outcomes
            assert live(db, image_id).count("shared") == 1
    finally:
        for contender in contenders:
            contender.dispose()


def test_image_id_may_be_a_uuid_object(db: Database, ctx: RequestContext) -> None:
    image_id = uuid.uuid4()
    insert_image(db, id=str(image_id))
    db.image_tag_create(ctx, image_id, "a")  # type: ignore[arg-type]
    db.image_tag_set_all(ctx, image_id, ["a", "b"])  # type: ignore[arg-type]
    db.image_tag_delete(ctx, image_id, "a")  # type: ignore[arg-type]
    assert db.image_tag_get_all(ctx, image_id) == ["b"]  # type: ignore[arg-type]


# --- hostile input (SPEC 12): the leaks the fuzz test found ---------------------------


def test_tags_no_row_can_hold_are_invalid_or_not_found(db: Database, ctx: RequestContext) -> None:
    image_id = insert_image(db, tags=["alpha"])
    for bad in ("nul\x00", ["alpha"], {"alpha": 1}, b"alpha", 5):
        with pytest.raises(exception.Invalid):
            db.image_tag_create(ctx, image_id, bad)  # type: ignore[arg-type]
        with pytest.raises(exception.Invalid):
            db.image_tag_set_all(ctx, image_id, ["alpha", bad])  # type: ignore[list-item]
    with pytest.raises(exception.Invalid, match="tags"):
        db.image_tag_set_all(ctx, image_id, 5)  # type: ignore[arg-type]
    for value in ("nul\x00", "\U0001f600", "lone\ud800"):
        with pytest.raises(exception.NotFound):
            db.image_tag_delete(ctx, image_id, value)
    for image in ("nul\x00", "\U0001f600", "lone\ud800", 2**70):
        assert db.image_tag_get_all(ctx, image) == []  # type: ignore[arg-type]
        with pytest.raises(exception.ImageNotFound):
            db.image_tag_create(ctx, image, "beta")  # type: ignore[arg-type]
    with pytest.raises(exception.Invalid, match="image id"):
        db.image_tag_get_all(ctx, [image_id])  # type: ignore[arg-type]
    assert db.image_tag_get_all(ctx, image_id) == ["alpha"]
    assert count_rows(db, t.image_tags) == 1
