"""Image-cache records (SPEC 10b), on every backend."""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from glancedb import Database, RequestContext, exception
from glancedb.models import tables as t
from glancedb.timeutils import to_timestamp, utcnow
from tests.support.factories import count_rows

NODE = "http://node-1:9292"
OTHER = "http://node-2:9292"


@pytest.fixture
def nodes(db: Database, admin_ctx: RequestContext) -> Database:
    db.node_reference_create(admin_ctx, NODE)
    db.node_reference_create(admin_ctx, OTHER)
    return db


def test_node_reference_create_and_get(db: Database, admin_ctx: RequestContext) -> None:
    created = db.node_reference_create(admin_ctx, NODE)
    assert set(created) == {"node_reference_id", "node_reference_url"}
    assert created.node_reference_url == NODE
    assert isinstance(created.node_reference_id, int)
    assert db.node_reference_get_by_url(admin_ctx, NODE) == created
    with pytest.raises(exception.Duplicate, match="node-1"):
        db.node_reference_create(admin_ctx, NODE)
    assert count_rows(db, t.node_reference) == 1
    with pytest.raises(exception.NotFound, match="unknown"):
        db.node_reference_get_by_url(admin_ctx, "http://unknown")


def test_node_reference_create_validates(db: Database, admin_ctx: RequestContext) -> None:
    with pytest.raises(exception.Invalid, match="4-byte"):
        db.node_reference_create(admin_ctx, "http://\U0001f600")
    with pytest.raises(exception.Invalid, match="node_reference_url"):
        db.node_reference_create(admin_ctx, "http://" + "x" * 250)
    assert count_rows(db, t.node_reference) == 0


def test_insert_details_defaults(nodes: Database, admin_ctx: RequestContext) -> None:
    before = utcnow()
    nodes.insert_cache_details(admin_ctx, NODE, "img-1", 1024)
    (entry,) = nodes.get_cached_images(admin_ctx, NODE)
    assert set(entry) == {
        "id",
        "image_id",
        "last_accessed",
        "last_modified",
        "size",
        "hits",
        "checksum",
    }
    assert entry.image_id == "img-1" and entry["size"] == 1024 and entry.hits == 0
    assert entry.checksum is None
    assert isinstance(entry.last_accessed, float) and isinstance(entry.last_modified, float)
    assert to_timestamp(before) <= entry.last_accessed <= to_timestamp(utcnow())


def test_insert_details_given_values_and_existing_entry(
    nodes: Database, admin_ctx: RequestContext
) -> None:
    accessed = datetime.datetime(2024, 5, 1, 12, 0, 0)
    modified = datetime.datetime(2024, 5, 2, 12, 0, 0, tzinfo=datetime.UTC)
    nodes.insert_cache_details(admin_ctx, NODE, "img-1", 10, "c" * 32, accessed, modified, hits=5)
    # An existing (image, node) entry is left as it is, silently.
    nodes.insert_cache_details(admin_ctx, NODE, "img-1", 99, hits=42)
    (entry,) = nodes.get_cached_images(admin_ctx, NODE)
    assert entry["size"] == 10 and entry.hits == 5 and entry.checksum == "c" * 32
    assert entry.last_accessed == to_timestamp(accessed)
    assert entry.last_modified == to_timestamp(modified.replace(tzinfo=None))
    # The same image on another node is a separate entry.
    nodes.insert_cache_details(admin_ctx, OTHER, "img-1", 10, last_accessed=1700000000.0)
    (other,) = nodes.get_cached_images(admin_ctx, OTHER)
    assert other.last_accessed == 1700000000.0


def test_insert_details_errors(nodes: Database, admin_ctx: RequestContext) -> None:
    with pytest.raises(exception.NotFound, match="nowhere"):
        nodes.insert_cache_details(admin_ctx, "http://nowhere", "img-1", 1)
    with pytest.raises(exception.Invalid, match="checksum"):
        nodes.insert_cache_details(admin_ctx, NODE, "img-1", 1, checksum="x" * 33)
    with pytest.raises(exception.Invalid, match="filesize"):
        nodes.insert_cache_details(admin_ctx, NODE, "img-1", "big")  # type: ignore[arg-type]
    with pytest.raises(exception.Invalid, match="last_accessed"):
        nodes.insert_cache_details(admin_ctx, NODE, "img-1", 1, last_accessed="yesterday")  # type: ignore[arg-type]
    assert count_rows(nodes, t.cached_images) == 0


def test_hit_counts(nodes: Database, admin_ctx: RequestContext) -> None:
    old = datetime.datetime(2020, 1, 1)
    nodes.insert_cache_details(admin_ctx, NODE, "img-1", 1, last_accessed=old)
    nodes.insert_cache_details(admin_ctx, OTHER, "img-1", 1, last_accessed=old)
    assert nodes.get_hit_count(admin_ctx, "img-1", NODE) == 0
    nodes.update_hit_count(admin_ctx, "img-1", NODE)
    nodes.update_hit_count(admin_ctx, "img-1", NODE)
    assert nodes.get_hit_count(admin_ctx, "img-1", NODE) == 2
    assert nodes.get_hit_count(admin_ctx, "img-1", OTHER) == 0
    (entry,) = nodes.get_cached_images(admin_ctx, NODE)
    assert entry.last_accessed > to_timestamp(old)
    (untouched,) = nodes.get_cached_images(admin_ctx, OTHER)
    assert untouched.last_accessed == to_timestamp(old)
    # Unknown image or node: 0 hits, and updating them is harmless.
    assert nodes.get_hit_count(admin_ctx, "img-2", NODE) == 0
    assert nodes.get_hit_count(admin_ctx, "img-1", "http://unknown") == 0
    nodes.update_hit_count(admin_ctx, "img-2", NODE)
    nodes.update_hit_count(admin_ctx, "img-1", "http://unknown")
    assert count_rows(nodes, t.cached_images) == 2


def test_listing_and_lookups(nodes: Database, admin_ctx: RequestContext) -> None:
    base = datetime.datetime(2024, 1, 1)
    for i, image in enumerate(["img-b", "img-a", "img-c"]):
        accessed = base + datetime.timedelta(hours=[5, 1, 3][i])
        nodes.insert_cache_details(admin_ctx, NODE, image, i, last_accessed=accessed)
    nodes.insert_cache_details(admin_ctx, OTHER, "img-a", 1, last_accessed=base)
    assert [e.image_id for e in nodes.get_cached_images(admin_ctx, NODE)] == [
        "img-b",
        "img-a",
        "img-c",
    ]
    assert nodes.get_cached_images(admin_ctx, "http://unknown") == []
    assert nodes.get_cached_nodes(admin_ctx, "img-a") == [NODE, OTHER]
    assert nodes.get_cached_nodes(admin_ctx, "img-b") == [NODE]
    assert nodes.get_cached_nodes(admin_ctx, "img-x") == []
    assert nodes.get_least_recently_accessed(admin_ctx, NODE) == "img-a"
    assert nodes.get_least_recently_accessed(admin_ctx, OTHER) == "img-a"
    nodes.update_hit_count(admin_ctx, "img-a", NODE)
    assert nodes.get_least_recently_accessed(admin_ctx, NODE) == "img-c"
    assert nodes.get_least_recently_accessed(admin_ctx, "http://unknown") is None
    assert nodes.is_image_cached_for_node(admin_ctx, NODE, "img-c") is True
    assert nodes.is_image_cached_for_node(admin_ctx, OTHER, "img-c") is False
    assert nodes.is_image_cached_for_node(admin_ctx, "http://unknown", "img-c") is False


def test_least_recently_accessed_breaks_a_tie_by_the_first_recorded(
    nodes: Database, admin_ctx: RequestContext
) -> None:
    when = 1_800_000_000.25
    for image in ("img-b", "img-a", "img-c"):
        nodes.insert_cache_details(admin_ctx, NODE, image, 1, last_accessed=when)
    assert nodes.get_least_recently_accessed(admin_ctx, NODE) == "img-b"
    nodes.delete_cached_image(admin_ctx, "img-b", NODE)
    assert nodes.get_least_recently_accessed(admin_ctx, NODE) == "img-a"


def test_deletes(nodes: Database, admin_ctx: RequestContext) -> None:
    for image in ("img-1", "img-2", "img-3"):
        nodes.insert_cache_details(admin_ctx, NODE, image, 1)
        nodes.insert_cache_details(admin_ctx, OTHER, image, 1)
    nodes.delete_cached_image(admin_ctx, "img-1", NODE)
    assert [e.image_id for e in nodes.get_cached_images(admin_ctx, NODE)] == ["img-2", "img-3"]
    assert nodes.get_cached_nodes(admin_ctx, "img-1") == [OTHER]
    nodes.delete_cached_image(admin_ctx, "img-9", NODE)  # unknown: nothing happens
    nodes.delete_all_cached_images(admin_ctx, NODE)
    assert nodes.get_cached_images(admin_ctx, NODE) == []
    assert len(nodes.get_cached_images(admin_ctx, OTHER)) == 3
    nodes.delete_all_cached_images(admin_ctx, "http://unknown")
    assert count_rows(nodes, t.cached_images) == 3
    # The node itself stays registered.
    assert nodes.node_reference_get_by_url(admin_ctx, NODE).node_reference_url == NODE


def test_facade_exposes_cache_calls() -> None:
    import inspect

    from glancedb import api

    assert list(inspect.signature(api.insert_cache_details).parameters) == [
        "context",
        "node_reference_url",
        "image_id",
        "filesize",
        "checksum",
        "last_accessed",
        "last_modified",
        "hits",
    ]
    for name in (
        "node_reference_create",
        "node_reference_get_by_url",
        "get_hit_count",
        "update_hit_count",
        "get_cached_images",
        "get_cached_nodes",
        "get_least_recently_accessed",
        "is_image_cached_for_node",
        "delete_cached_image",
        "delete_all_cached_images",
    ):
        assert callable(getattr(api, name))


def test_node_reference_get_all_counts_what_each_node_holds(
    nodes: Database, admin_ctx: RequestContext
) -> None:
    nodes.node_reference_create(admin_ctx, "http://node-3:9292")
    nodes.insert_cache_details(admin_ctx, NODE, "image-1", 100)
    nodes.insert_cache_details(admin_ctx, NODE, "image-2", 2**40)
    nodes.insert_cache_details(admin_ctx, OTHER, "image-1", 100)
    listed = nodes.node_reference_get_all(admin_ctx)
    assert [(n.node_reference_url, n.cached_images, n.total_size) for n in listed] == [
        (NODE, 2, 100 + 2**40),
        (OTHER, 1, 100),
        ("http://node-3:9292", 0, 0),
    ]
    assert all(isinstance(n["node_reference_id"], int) for n in listed)


# --- hostile input (SPEC 12): the leaks the fuzz test found ---------------------------


def test_cache_lookups_by_values_no_row_can_hold(
    nodes: Database, admin_ctx: RequestContext
) -> None:
    nodes.insert_cache_details(admin_ctx, NODE, "img-1", 1024)
    for url in ("http://nul\x00", "http://\U0001f600", "http://\ud800"):
        with pytest.raises(exception.NotFound):
            nodes.node_reference_get_by_url(admin_ctx, url)
        with pytest.raises(exception.NotFound):
            nodes.insert_cache_details(admin_ctx, url, "img-2", 1)
        assert nodes.get_cached_images(admin_ctx, url) == []
        assert nodes.get_least_recently_accessed(admin_ctx, url) is None
        assert nodes.get_hit_count(admin_ctx, "img-1", url) == 0
        assert nodes.is_image_cached_for_node(admin_ctx, url, "img-1") is False
        nodes.update_hit_count(admin_ctx, "img-1", url)
        nodes.delete_cached_image(admin_ctx, "img-1", url)
        nodes.delete_all_cached_images(admin_ctx, url)
    for image_id in ("img\x00", "\U0001f600", 2**70):
        assert nodes.get_cached_nodes(admin_ctx, image_id) == []  # type: ignore[arg-type]
        assert nodes.get_hit_count(admin_ctx, image_id, NODE) == 0  # type: ignore[arg-type]
        assert nodes.is_image_cached_for_node(admin_ctx, NODE, image_id) is False  # type: ignore[arg-type]
    assert nodes.get_cached_nodes(admin_ctx, "img-1") == [NODE]
    with pytest.raises(exception.Invalid, match="node_reference_url"):
        nodes.get_cached_images(admin_ctx, [NODE])  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("arguments", "match"),
    [
        ({"image_id": ["img"]}, "image_id"),
        ({"image_id": "img\x00"}, "NUL"),
        ({"filesize": 2**64}, "filesize"),
        ({"filesize": "big"}, "filesize"),
        ({"hits": 2**31}, "hits"),
        ({"checksum": ["c"]}, "checksum"),
        ({"last_accessed": 1e300}, "last_accessed"),
        ({"last_accessed": float("nan")}, "last_accessed"),
        ({"last_modified": -(2**62)}, "last_modified"),
        ({"last_modified": "yesterday"}, "last_modified"),
    ],
    ids=repr,
)
def test_hostile_cache_details_are_invalid(
    nodes: Database, admin_ctx: RequestContext, arguments: dict[str, Any], match: str
) -> None:
    values: dict[str, Any] = {"image_id": "img-1", "filesize": 1, **arguments}
    with pytest.raises(exception.Invalid, match=match):
        nodes.insert_cache_details(admin_ctx, NODE, **values)
    assert count_rows(nodes, t.cached_images) == 0
