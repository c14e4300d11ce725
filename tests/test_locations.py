"""Image locations (SPEC 4): add, update, delete, and replacement through
image_create / image_update."""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from glancedb import Database, Record, RequestContext
from glancedb.exception import ImageNotFound, Invalid, NotFound
from glancedb.models import tables as t
from glancedb.timeutils import utcnow
from tests.support.backends import count_statements
from tests.support.factories import snapshot, table_rows

FOUR_BYTE = "\U0001f600"
WHEN = datetime.datetime(2022, 2, 3, 4, 5, 6)


@pytest.fixture
def image(db: Database, ctx: RequestContext) -> Record:
    return db.image_create(ctx, {"status": "active", "owner": "tenant-a"})


def shown(db: Database, ctx: RequestContext, image_id: str) -> list[tuple[str, Any, str]]:
    """(url, metadata, status) of every location, deleted ones included."""
    got = db.image_get(ctx, image_id, force_show_deleted=True)["locations"]
    return [(loc["url"], loc["metadata"], loc["status"]) for loc in got]


def live(db: Database, ctx: RequestContext, image_id: str) -> list[str]:
    return [loc["url"] for loc in db.image_get(ctx, image_id)["locations"]]


# --- image_location_add ---------------------------------------------------------------


def test_add(db: Database, ctx: RequestContext, image: Record) -> None:
    result = db.image_location_add(
        ctx, image["id"], {"url": "file:///a", "metadata": {"store": "s1"}, "status": "active"}
    )
    assert result is None
    db.image_location_add(
        ctx, image["id"], {"url": "file:///b", "metadata": {}, "status": "active"}
    )
    locations = db.image_get(ctx, image["id"])["locations"]
    assert [set(loc) for loc in locations] == [{"id", "url", "metadata", "status"}] * 2
    assert [(loc["url"], loc["metadata"]) for loc in locations] == [
        ("file:///a", {"store": "s1"}),
        ("file:///b", {}),
    ]
    assert locations[0]["id"] < locations[1]["id"]


@pytest.mark.parametrize("status", ["deleted", "pending_delete"])
def test_add_with_deleting_status_stores_it_deleted(
    db: Database, ctx: RequestContext, image: Record, status: str
) -> None:
    db.image_location_add(ctx, image["id"], {"url": "file:///x", "metadata": {}, "status": status})
    assert live(db, ctx, image["id"]) == []
    assert shown(db, ctx, image["id"]) == [("file:///x", {}, status)]
    (row,) = table_rows(db, t.image_locations, image_id=image["id"])
    assert row["deleted"] is True and row["deleted_at"] is not None


def test_add_to_unknown_image(db: Database, ctx: RequestContext) -> None:
    with pytest.raises(ImageNotFound, match="nope"):
        db.image_location_add(ctx, "nope", {"url": "file:///x", "metadata": {}, "status": "active"})
    with pytest.raises(ImageNotFound):
        db.image_location_add(ctx, "x" * 37, {"url": "file:///x"})
    assert table_rows(db, t.image_locations) == []


@pytest.mark.parametrize(
    "location",
    [
        {"url": f"file:///{FOUR_BYTE}", "metadata": {}, "status": "active"},
        {"url": "file:///a", "metadata": {"k": f"v{FOUR_BYTE}"}, "status": "active"},
        {"url": "file:///a", "metadata": {f"k{FOUR_BYTE}": "v"}, "status": "active"},
        {"url": "file:///a", "metadata": {"nested": [{"deep": FOUR_BYTE}]}, "status": "active"},
    ],
)
def test_add_rejects_four_byte_characters(
    db: Database, ctx: RequestContext, image: Record, location: dict[str, Any]
) -> None:
    with pytest.raises(Invalid, match="4-byte"):
        db.image_location_add(ctx, image["id"], location)
    assert table_rows(db, t.image_locations) == []


@pytest.mark.parametrize(
    "location",
    [
        {"metadata": {}},
        {"url": "", "metadata": {}},
        {"url": 5},
        {"url": "file:///a", "status": "s" * 31},
        {"url": "file:///a", "metadata": {"x": object()}},
        "file:///a",
    ],
)
def test_add_rejects_bad_locations(
    db: Database, ctx: RequestContext, image: Record, location: Any
) -> None:
    with pytest.raises(Invalid):
        db.image_location_add(ctx, image["id"], location)
    assert table_rows(db, t.image_locations) == []


def test_metadata_round_trips_any_json_value(
    db: Database, ctx: RequestContext, image: Record
) -> None:
    metadata = {"nested": {"list": [1, 2.5, None, True]}, "text": "é"}
    db.image_location_add(ctx, image["id"], {"url": "file:///a", "metadata": metadata})
    db.image_location_add(ctx, image["id"], {"url": "file:///b", "metadata": "{fake-json}"})
    assert [m for _, m, _ in shown(db, ctx, image["id"])] == [metadata, "{fake-json}"]


# --- image_location_update ------------------------------------------------------------


def location_ids(db: Database, ctx: RequestContext, image_id: str) -> list[int]:
    got = db.image_get(ctx, image_id, force_show_deleted=True)["locations"]
    return [loc["id"] for loc in got]


def test_update(db: Database, ctx: RequestContext, image: Record) -> None:
    db.image_location_add(ctx, image["id"], {"url": "file:///a", "metadata": {}})
    (loc_id,) = location_ids(db, ctx, image["id"])
    result = db.image_location_update(
        ctx,
        image["id"],
        {"id": loc_id, "url": "file:///b", "metadata": {"k": "v"}, "status": "active"},
    )
    assert result is None
    assert shown(db, ctx, image["id"]) == [("file:///b", {"k": "v"}, "active")]


def test_update_with_deleting_status_then_revive(
    db: Database, ctx: RequestContext, image: Record
) -> None:
    db.image_location_add(ctx, image["id"], {"url": "file:///a", "metadata": {}})
    (loc_id,) = location_ids(db, ctx, image["id"])
    db.image_location_update(
        ctx, image["id"], {"id": loc_id, "url": "file:///a", "metadata": {}, "status": "deleted"}
    )
    assert live(db, ctx, image["id"]) == []
    (row,) = table_rows(db, t.image_locations)
    assert row["deleted"] is True and row["status"] == "deleted" and row["deleted_at"]
    db.image_location_update(
        ctx, image["id"], {"id": loc_id, "url": "file:///a", "metadata": {}, "status": "active"}
    )
    assert live(db, ctx, image["id"]) == ["file:///a"]
    (row,) = table_rows(db, t.image_locations)
    assert row["deleted"] is False and row["deleted_at"] is None


def test_update_errors(db: Database, ctx: RequestContext, image: Record) -> None:
    other = db.image_create(ctx, {"status": "active", "owner": "tenant-a"})
    db.image_location_add(ctx, other["id"], {"url": "file:///other", "metadata": {}})
    (foreign_id,) = location_ids(db, ctx, other["id"])
    before = snapshot(db)
    with pytest.raises(Invalid, match="id"):
        db.image_location_update(ctx, image["id"], {"url": "file:///a", "metadata": {}})
    with pytest.raises(NotFound, match=str(foreign_id)):
        db.image_location_update(
            ctx, image["id"], {"id": foreign_id, "url": "file:///a", "metadata": {}}
        )
    with pytest.raises(NotFound):
        db.image_location_update(ctx, image["id"], {"id": 999999, "url": "file:///a"})
    with pytest.raises(Invalid, match="4-byte"):
        db.image_location_update(
            ctx, other["id"], {"id": foreign_id, "url": f"file:///{FOUR_BYTE}"}
        )
    assert snapshot(db) == before


# --- image_location_delete ------------------------------------------------------------


@pytest.mark.parametrize("status", ["deleted", "pending_delete"])
def test_delete_with_given_time(
    db: Database, ctx: RequestContext, image: Record, status: str
) -> None:
    db.image_location_add(ctx, image["id"], {"url": "file:///a", "metadata": {}})
    (loc_id,) = location_ids(db, ctx, image["id"])
    assert db.image_location_delete(ctx, image["id"], loc_id, status, delete_time=WHEN) is None
    (row,) = table_rows(db, t.image_locations)
    assert (row["deleted"], row["status"], row["deleted_at"]) == (True, status, WHEN)
    assert row["updated_at"] == WHEN
    assert live(db, ctx, image["id"]) == []


def test_delete_defaults_to_now(db: Database, ctx: RequestContext, image: Record) -> None:
    db.image_location_add(ctx, image["id"], {"url": "file:///a", "metadata": {}})
    (loc_id,) = location_ids(db, ctx, image["id"])
    db.image_location_delete(ctx, image["id"], loc_id, "deleted")
    (row,) = table_rows(db, t.image_locations)
    assert abs(row["deleted_at"] - utcnow()) < datetime.timedelta(seconds=5)
    assert row["updated_at"] == row["deleted_at"]


def test_delete_errors(db: Database, ctx: RequestContext, image: Record) -> None:
    db.image_location_add(ctx, image["id"], {"url": "file:///a", "metadata": {}})
    (loc_id,) = location_ids(db, ctx, image["id"])
    other = db.image_create(ctx, {"status": "active"})
    before = snapshot(db)
    with pytest.raises(Invalid, match="active"):
        db.image_location_delete(ctx, image["id"], loc_id, "active")
    with pytest.raises(NotFound, match="12345"):
        db.image_location_delete(ctx, image["id"], 12345, "deleted")
    with pytest.raises(NotFound):
        db.image_location_delete(ctx, other["id"], loc_id, "deleted")
    assert snapshot(db) == before


# --- replacement via image_create / image_update (SPEC 4.4) ---------------------------


def test_create_with_locations(db: Database, ctx: RequestContext) -> None:
    image = db.image_create(
        ctx,
        {
            "status": "active",
            "locations": [
                {"url": "file:///1", "metadata": {"a": 1}, "status": "active"},
                {"url": "file:///2", "metadata": {}, "status": "pending_delete"},
                {"url": "file:///3"},
            ],
        },
    )
    assert [loc["url"] for loc in image["locations"]] == ["file:///1", "file:///3"]
    assert image["locations"][1]["metadata"] == {}
    assert image["locations"][1]["status"] == "active"


def test_update_replaces_locations(db: Database, ctx: RequestContext) -> None:
    image = db.image_create(
        ctx,
        {
            "status": "active",
            "owner": "tenant-a",
            "locations": [{"url": f"file:///{n}", "metadata": {}} for n in ("1", "2", "3")],
        },
    )
    first, second, third = image["locations"]
    updated = db.image_update(
        ctx,
        image["id"],
        {
            "locations": [
                {"url": "file:///new-a", "metadata": {"n": 1}},
                {**third, "metadata": {"changed": True}},
                {"url": "file:///new-b", "metadata": {}},
                first,
            ]
        },
    )
    # Survivors keep their (insertion) order, new ones follow in list order.
    assert [(loc["url"], loc["metadata"]) for loc in updated["locations"]] == [
        ("file:///1", {}),
        ("file:///3", {"changed": True}),
        ("file:///new-a", {"n": 1}),
        ("file:///new-b", {}),
    ]
    rows = {row["id"]: row for row in table_rows(db, t.image_locations)}
    assert (rows[second["id"]]["status"], rows[second["id"]]["deleted"]) == ("deleted", True)
    assert rows[second["id"]]["deleted_at"] is not None
    # An empty or missing list leaves the locations alone.
    assert db.image_update(ctx, image["id"], {"locations": []})["locations"] == updated["locations"]
    assert db.image_update(ctx, image["id"], {"name": "x"})["locations"] == updated["locations"]


def test_update_replacement_with_foreign_location_changes_nothing(
    db: Database, ctx: RequestContext
) -> None:
    image = db.image_create(
        ctx, {"status": "active", "owner": "tenant-a", "locations": [{"url": "file:///1"}]}
    )
    other = db.image_create(ctx, {"status": "active", "locations": [{"url": "file:///o"}]})
    before = snapshot(db)
    with pytest.raises(NotFound):
        db.image_update(
            ctx,
            image["id"],
            {"name": "renamed", "locations": [other["locations"][0], {"url": "file:///n"}]},
        )
    assert snapshot(db) == before


def test_replacement_costs_constant_statements(db: Database, ctx: RequestContext) -> None:
    def statements_for(n: int) -> int:
        image = db.image_create(
            ctx,
            {
                "status": "active",
                "owner": "tenant-a",
                "locations": [{"url": f"file:///old{i}"} for i in range(2 * n)],
            },
        )
        kept = image["locations"][:n]
        new = [{"url": f"file:///new{i}", "metadata": {"i": i}} for i in range(n)]
        with count_statements(db) as counter:
            updated = db.image_update(ctx, image["id"], {"locations": kept + new})
        assert len(updated["locations"]) == 2 * n
        return counter.count

    assert statements_for(1) == statements_for(20)


# --- hostile input (SPEC 12): the leaks the fuzz test found ---------------------------


def test_location_ids_no_row_can_have_are_not_found(
    db: Database, ctx: RequestContext, image: Record
) -> None:
    db.image_location_add(ctx, image["id"], {"url": "file:///a", "metadata": {}})
    before = snapshot(db)
    for location_id in (2**31, 2**63, 2**70, -(2**40), "abc"):
        with pytest.raises(NotFound):
            db.image_location_delete(ctx, image["id"], location_id, "deleted")  # type: ignore[arg-type]
    for location_id in (2**31, 2**70):
        with pytest.raises(NotFound):
            db.image_location_update(ctx, image["id"], {"id": location_id, "url": "file:///b"})
    # A boolean is no id (True would be location 1): a bad value, not a key.
    for location_id in (True, False):
        with pytest.raises(Invalid, match="location id must be an integer"):
            db.image_location_update(ctx, image["id"], {"id": location_id, "url": "file:///b"})
        with pytest.raises(Invalid, match="location id must be an integer"):
            db.image_update(ctx, image["id"], {"locations": [{"id": location_id, "url": "u"}]})
        with pytest.raises(NotFound):
            db.image_location_delete(ctx, image["id"], location_id, "deleted")
    for image_id in ("nul\x00", "\U0001f600"):
        with pytest.raises(NotFound):
            db.image_location_update(ctx, image_id, {"id": 1, "url": "file:///b"})
        with pytest.raises(NotFound):
            db.image_location_delete(ctx, image_id, 1, "deleted")
    assert snapshot(db) == before


def test_hostile_location_values_are_invalid(
    db: Database, ctx: RequestContext, image: Record
) -> None:
    before = snapshot(db)
    minimum = datetime.datetime.min.replace(tzinfo=datetime.timezone(datetime.timedelta(hours=1)))
    for call in (
        lambda: db.image_location_add(ctx, image["id"], {"url": "file:///\x00"}),
        lambda: db.image_location_add(ctx, image["id"], {"url": ["file:///a"]}),
        lambda: db.image_location_add(ctx, image["id"], ["file:///a"]),  # type: ignore[arg-type]
        lambda: db.image_location_add(ctx, image["id"], {"url": "f", "metadata": {(1, 2): 3}}),
        lambda: db.image_location_update(ctx, image["id"], {"id": [1], "url": "file:///a"}),
        lambda: db.image_location_delete(ctx, image["id"], [1], "deleted"),  # type: ignore[arg-type]
        lambda: db.image_location_delete(ctx, image["id"], 1, ["deleted"]),  # type: ignore[arg-type]
        lambda: db.image_location_delete(ctx, image["id"], 1, "deleted", delete_time=minimum),
    ):
        with pytest.raises(Invalid):
            call()
    assert snapshot(db) == before


def test_location_text_beyond_mysql_text_is_invalid(
    db: Database, ctx: RequestContext, image: Record
) -> None:
    before = snapshot(db)
    for location in (
        {"url": "file:///" + "a" * 65535},
        {"url": "file:///a", "metadata": {"k": "b" * 65535}},
    ):
        with pytest.raises(Invalid, match="65535 bytes"):
            db.image_location_add(ctx, image["id"], location)
    assert snapshot(db) == before
