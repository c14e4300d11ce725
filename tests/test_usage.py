"""Usage (quota) queries (SPEC 9): figures checked against Python sums."""

from __future__ import annotations

import random
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from glancedb import Database, RequestContext, exception
from glancedb.models import tables as t
from glancedb.validation import IMAGE_STATUSES
from tests.support.backends import clear_tables, count_statements
from tests.support.factories import child_row, image_row, insert

# Sorted: the seeds must draw the same images in every run.
STATUSES = sorted(IMAGE_STATUSES)
OWNERS = ("tenant-a", "tenant-b")
IMPORTING = "os_glance_importing_to_stores"


def build(db: Database, seed: int, count: int = 60) -> list[dict[str, Any]]:
    """Insert random images with locations and properties; return a model of them."""
    rng = random.Random(seed)
    images, locations, properties = [], [], []
    model = []
    for _ in range(count):
        row = image_row(
            owner=rng.choice(OWNERS),
            status=rng.choice(STATUSES),
            size=rng.choice([None, 0, 1, 17, 10**12 + rng.randrange(1000)]),
            deleted=rng.random() < 0.15,
        )
        images.append(row)
        location_statuses = [
            rng.choice(["active", "deleted", "pending_delete"]) for _ in range(rng.randrange(4))
        ]
        for status in location_statuses:
            locations.append(child_row(t.image_locations, row["id"], status=status))
        importing_value = rng.choice([None, "", "store1", "store1,store2"])
        importing_deleted = rng.random() < 0.3
        if importing_value is not None or rng.random() < 0.5:
            properties.append(
                child_row(
                    t.image_properties,
                    row["id"],
                    name=IMPORTING,
                    value=importing_value,
                    deleted=importing_deleted,
                )
            )
        properties.append(child_row(t.image_properties, row["id"], name="other", value="x"))
        model.append(
            {
                **row,
                "location_statuses": location_statuses,
                "importing": bool(importing_value) and not importing_deleted,
            }
        )
    insert(db, t.images, images)
    insert(db, t.image_locations, locations)
    insert(db, t.image_properties, properties)
    return model


GONE = {"killed", "deleted", "pending_delete"}


def live(image: dict[str, Any], owner: str) -> bool:
    return image["owner"] == owner and not image["deleted"]


def expected_storage(model: list[dict[str, Any]], owner: str, skip: str | None = None) -> int:
    return sum(
        image["size"] * sum(1 for s in image["location_statuses"] if s != "deleted")
        for image in model
        if live(image, owner)
        and (image["size"] or 0) > 0
        and image["status"] not in GONE
        and image["id"] != skip
    )


def expected_staging(model: list[dict[str, Any]], owner: str) -> int:
    return sum(
        image["size"]
        for image in model
        if live(image, owner)
        and (image["size"] or 0) > 0
        and (
            image["status"] in {"uploading", "importing"}
            or (image["status"] not in GONE | {"uploading", "importing"} and image["importing"])
        )
    )


def expected_count(model: list[dict[str, Any]], owner: str) -> int:
    return sum(1 for image in model if live(image, owner) and image["status"] not in GONE)


def expected_uploading(model: list[dict[str, Any]], owner: str) -> int:
    busy = {"saving", "uploading", "importing"}
    return sum(
        1
        for image in model
        if live(image, owner)
        and (image["status"] in busy or (image["status"] not in GONE | busy and image["importing"]))
    )


def check_all(db: Database, model: list[dict[str, Any]], ctx: Any) -> None:
    for owner in OWNERS:
        assert db.user_get_storage_usage(ctx, owner) == expected_storage(model, owner)
        assert db.user_get_staging_usage(ctx, owner) == expected_staging(model, owner)
        assert db.user_get_image_count(ctx, owner) == expected_count(model, owner)
        assert db.user_get_uploading_count(ctx, owner) == expected_uploading(model, owner)
        some = next(image["id"] for image in model if image["owner"] == owner)
        assert db.user_get_storage_usage(ctx, owner, image_id=some) == expected_storage(
            model, owner, skip=some
        )


def test_usage_matches_python_sums(db: Database, ctx: RequestContext) -> None:
    model = build(db, seed=1)
    check_all(db, model, ctx)


@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(seed=st.integers(0, 2**32))
def test_usage_matches_python_sums_for_any_data(session_db: Database, seed: int) -> None:
    clear_tables(session_db)
    model = build(session_db, seed=seed, count=25)
    check_all(session_db, model, RequestContext(project_id="tenant-a"))


def test_usage_of_unknown_owner_is_zero(db: Database, ctx: RequestContext) -> None:
    build(db, seed=2, count=10)
    assert db.user_get_storage_usage(ctx, "nobody") == 0
    assert db.user_get_staging_usage(ctx, "nobody") == 0
    assert db.user_get_image_count(ctx, "nobody") == 0
    assert db.user_get_uploading_count(ctx, "nobody") == 0


def test_usage_returns_plain_ints_for_huge_sizes(db: Database, ctx: RequestContext) -> None:
    size = 5 * 2**40
    image = image_row(size=size, status="active")
    insert(db, t.images, [image])
    insert(db, t.image_locations, [child_row(t.image_locations, image["id"]) for _ in range(3)])
    usage = db.user_get_storage_usage(ctx, "tenant-a")
    assert usage == 3 * size and type(usage) is int


def test_storage_usage_rejects_long_image_id(db: Database, ctx: RequestContext) -> None:
    with pytest.raises(exception.ImageNotFound, match="x" * 37):
        db.user_get_storage_usage(ctx, "tenant-a", image_id="x" * 37)


def test_each_usage_call_is_one_statement(db: Database, ctx: RequestContext) -> None:
    build(db, seed=3, count=30)
    calls = [
        lambda: db.user_get_storage_usage(ctx, "tenant-a"),
        lambda: db.user_get_staging_usage(ctx, "tenant-a"),
        lambda: db.user_get_image_count(ctx, "tenant-a"),
        lambda: db.user_get_uploading_count(ctx, "tenant-a"),
    ]
    for call in calls:
        with count_statements(db) as counter:
            call()
        selects = [s for s in counter.statements if s.lstrip().upper().startswith("SELECT")]
        assert len(selects) == 1, counter.statements


def test_usage_of_values_no_row_can_hold(db: Database, ctx: RequestContext) -> None:
    """Never sent to the database: the same zero (or error) on every backend."""
    model = build(db, seed=4, count=20)
    for owner in ("nul\x00", "\U0001f600", "lone\ud800"):
        assert db.user_get_storage_usage(ctx, owner) == 0
        assert db.user_get_staging_usage(ctx, owner) == 0
        assert db.user_get_image_count(ctx, owner) == 0
        assert db.user_get_uploading_count(ctx, owner) == 0
    # Leaving out an image no image can be leaves out nothing.
    expected = expected_storage(model, "tenant-a")
    assert db.user_get_storage_usage(ctx, "tenant-a", image_id="nul\x00") == expected
    with pytest.raises(exception.Invalid, match="owner_id"):
        db.user_get_image_count(ctx, ["tenant-a"])  # type: ignore[arg-type]
    with pytest.raises(exception.Invalid, match="image id"):
        db.user_get_storage_usage(ctx, "tenant-a", image_id={"id": 1})  # type: ignore[arg-type]
