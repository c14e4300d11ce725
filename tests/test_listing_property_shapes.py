"""Property filters of image_get_all: the probe picks a query shape, never a result.

On SQLite and MySQL a listing with property filters first counts each
value's rows up to a bound (one statement); the rarest value, when rare,
drives the page from the (name, value) index (``images.id IN (...)``), and
the other filters are tested per image while the page walks its order index.
These tests force every shape on the same calls and compare the results, and
check which shape the probe picks and what the call costs in statements.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from unittest import mock

import pytest
from benchmarks.catalogue import build_catalogue
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Connection

from glancedb import Database, RequestContext
from glancedb.images.listing import page_statement
from glancedb.images.listing_filters import PropertyCondition, parse_query
from glancedb.images.listing_properties import PropertyShape, probe_limit
from glancedb.models import tables as t
from tests.support.backends import clear_tables, count_statements
from tests.support.factories import image_row, insert, property_row, tag_row
from tests.support.plans import explained_page

A, B = "tenant-a", "tenant-b"
T0 = datetime.datetime(2031, 5, 1)
PROBED = ("sqlite", "mysql")

#: Shape patterns forced on every call: one shape for all filters, or mixed
#: (pattern ``i % len`` for filter ``i``).
PATTERNS: tuple[tuple[PropertyShape, ...], ...] = (
    ("exists",),
    ("correlated",),
    ("driving",),
    ("driving", "correlated"),
    ("correlated", "driving"),
)


@contextmanager
def forced(pattern: Sequence[PropertyShape]) -> Iterator[None]:
    """image_get_all writes its property filters in ``pattern``'s shapes."""

    def choose(
        _conn: Connection,
        properties: Sequence[PropertyCondition],
        _limit: int | None,
        *,
        index_order: bool = True,
        regular: bool = True,
    ) -> tuple[PropertyShape, ...]:
        return tuple(pattern[i % len(pattern)] for i in range(len(properties)))

    with mock.patch("glancedb.images.listing.choose_property_shapes", choose):
        yield


def build(db: Database) -> dict[str, dict[str, Any]]:
    """40 images: common and rare property values, soft-deleted properties,
    owners, visibilities, memberships, tags, NULL names and tied times.

    Returns each image's id -> its live properties and tags (for the model).
    """
    images: list[dict[str, Any]] = []
    props: list[dict[str, Any]] = []
    tags: list[dict[str, Any]] = []
    members: list[dict[str, Any]] = []
    model: dict[str, dict[str, Any]] = {}
    visibilities = ("public", "private", "shared", "community")
    for i in range(40):
        created = T0 + datetime.timedelta(seconds=i // 3)  # ties on created_at
        row = image_row(
            name=None if i % 7 == 0 else f"img-{i % 9}",
            owner=(A, B, None)[i % 3],
            visibility=visibilities[i % 4],
            size=(i * 37) % 11,
            created_at=created,
        )
        images.append(row)
        live = {
            "os_distro": "fedora" if i % 2 == 0 else "ubuntu",
            "arch": "arm" if i % 3 == 0 else "x86",
            "build_id": f"b{i}",
        }
        if i % 5 == 0:
            live["note"] = None  # type: ignore[assignment]
        for name, value in live.items():
            props.append(property_row(row["id"], name=name, value=value, created_at=created))
        # A soft-deleted property never matches, in any shape.
        props.append(
            property_row(
                row["id"],
                name="gone",
                value="b7" if i == 7 else "fedora",
                deleted=True,
                deleted_at=created,
                created_at=created,
            )
        )
        image_tags = ["gpu"] if i % 4 == 0 else []
        tags.extend(tag_row(row["id"], value=tag, created_at=created) for tag in image_tags)
        if row["visibility"] == "shared" and row["owner"] == B and i % 2 == 0:
            members.append(
                {
                    "image_id": row["id"],
                    "member": A,
                    "can_share": False,
                    "status": "accepted",
                    "created_at": created,
                    "updated_at": created,
                    "deleted": False,
                    "deleted_at": None,
                }
            )
        model[row["id"]] = {"properties": live, "tags": set(image_tags)}
    insert(db, t.images, images)
    insert(db, t.image_properties, props)
    insert(db, t.image_tags, tags)
    insert(db, t.image_members, members)
    return model


FILTERS: tuple[dict[str, Any], ...] = (
    {"properties": {"os_distro": "fedora"}},  # common
    {"build_id": "b8"},  # rare
    {"build_id": "b7", "gone": "b7"},  # rare, but the second only matches a deleted row
    {"gone": "fedora"},  # common, but only among deleted rows
    {"os_distro": "fedora", "gone": "fedora"},
    {"os_distro": "fedora", "arch": "arm"},  # two common filters
    {"properties": {"os_distro": "fedora"}, "build_id": "b12"},  # common and rare
    {"os_distro": "fedora", "tags": ["gpu"]},  # a property and a tag
    {"properties": {"note": None}, "deleted": False},  # IS NULL value
    {"arch": "x86", "visibility": "all"},
)
SORTS: tuple[dict[str, Any], ...] = (
    {},
    {"sort_key": ["name", "size"], "sort_dir": ["asc", "desc"]},
    {"sort_key": "id", "sort_dir": "asc"},
)
CONTEXTS = {
    "admin": RequestContext(is_admin=True),
    "tenant-a": RequestContext(project_id=A),
}


def walk(db: Database, context: Any, limit: int, **options: Any) -> list[str]:
    """Every page of ``limit`` images, following markers."""
    seen: list[str] = []
    marker = None
    for _ in range(50):
        page = db.image_get_all(context, marker=marker, limit=limit, **options)
        if not page:
            return seen
        seen.extend(image["id"] for image in page)
        marker = page[-1]["id"]
    raise AssertionError("paging did not end")


def model_matches(image: dict[str, Any], filters: dict[str, Any]) -> bool:
    """The property and tag filters of SPEC 3.2, written out independently."""
    wanted = dict(filters.get("properties", {}))
    wanted.update({k: v for k, v in filters.items() if k not in ("properties", "tags")})
    wanted.pop("deleted", None)
    wanted.pop("visibility", None)
    live = image["properties"]
    return (
        all(k in live and live[k] == v for k, v in wanted.items())
        and set(filters.get("tags", [])) <= image["tags"]
    )


def test_every_shape_lists_the_same_images(db: Database) -> None:
    model = build(db)
    for filters in FILTERS:
        admin_all = {**filters, "visibility": "all"}
        expected = {i for i, image in model.items() if model_matches(image, filters)}
        chosen = {image["id"] for image in db.image_get_all(CONTEXTS["admin"], filters=admin_all)}
        assert chosen == expected, filters
        for label, context in CONTEXTS.items():
            for sort in SORTS:
                options = {"filters": filters, **sort}
                reference = [i["id"] for i in db.image_get_all(context, **options)]
                assert walk(db, context, 3, **options) == reference, (label, options)
                for pattern in PATTERNS:
                    with forced(pattern):
                        whole = [i["id"] for i in db.image_get_all(context, **options)]
                        paged = walk(db, context, 3, **options)
                    assert whole == reference, (label, options, pattern)
                    assert paged == reference, (label, options, pattern)


# --- which shape the probe picks, and what it costs ---------------------------------


def many_with(db: Database, count: int, rare_value: str) -> None:
    """``count`` images with os_distro=fedora; the newest also has build_id=rare_value."""
    rows = [
        image_row(visibility="public", created_at=T0 + datetime.timedelta(seconds=i))
        for i in range(count)
    ]
    props = [property_row(r["id"], name="os_distro", value="fedora") for r in rows]
    props.append(property_row(rows[-1]["id"], name="build_id", value=rare_value))
    insert(db, t.images, rows)
    insert(db, t.image_properties, props)


def page_sql(statements: list[str]) -> str:
    (page,) = [s for s in statements if s.lstrip().upper().startswith("SELECT IMAGES.ID")]
    return page


DRIVING_SQL = "IN (SELECT image_properties.image_id"


def test_probe_picks_the_shape(db: Database, backend: str, admin_ctx: RequestContext) -> None:
    limit = 1
    many_with(db, probe_limit(limit), "rare")  # fedora is exactly at the bound: common
    calls = {
        "rare": {"build_id": "rare"},
        "common": {"os_distro": "fedora"},
        "both": {"os_distro": "fedora", "build_id": "rare"},
        "none": {"os_distro": "debian"},
    }
    pages: dict[str, str] = {}
    counts: dict[str, int] = {}
    for label, filters in calls.items():
        with count_statements(db) as counter:
            found = db.image_get_all(admin_ctx, filters=filters, limit=limit)
        assert len(found) == (0 if label == "none" else 1)
        pages[label] = page_sql(counter.statements)
        if found:  # an empty page loads no children
            counts[label] = counter.count
        probes = [s for s in counter.statements if "glancedb_probe_" in s]
        assert len(probes) == (1 if backend in PROBED else 0), counter.statements
    with count_statements(db) as plain:
        db.image_get_all(admin_ctx, limit=limit)
    extra = 1 if backend in PROBED else 0
    assert set(counts.values()) == {plain.count + extra}
    if backend in PROBED:
        assert DRIVING_SQL in pages["rare"]
        assert DRIVING_SQL in pages["none"]
        assert DRIVING_SQL not in pages["common"] and "IS NOT NULL" in pages["common"]
        # Only the rare one of two filters drives; the common one is tested per image.
        assert pages["both"].count(DRIVING_SQL) == 1 and "IS NOT NULL" in pages["both"]
    else:
        assert all(DRIVING_SQL not in sql and "EXISTS" in sql for sql in pages.values())


def test_common_values_rare_together_drive_a_tenants_page(
    db: Database, backend: str, admin_ctx: RequestContext
) -> None:
    """os_distro=fedora and os_version=7 are each common but rare together: a
    tenant's walk would pass over the whole catalogue, so the rarest drives
    (SQLite, MySQL; for an admin on MySQL only, where each walked image
    costs two dependent subqueries); common together, the page walks."""
    rows = [
        image_row(visibility="public", created_at=T0 + datetime.timedelta(seconds=i))
        for i in range(700)
    ]
    props = []
    for i, row in enumerate(rows):
        values = {"arch": "x86_64"}
        if i < 300 or i == 699:  # the newest image is the only one with both
            values["os_distro"] = "fedora"
        if 300 <= i < 600 or i == 699:
            values["os_version"] = "7"
        if 600 <= i < 699:
            values["os_distro"] = "centos"
        props += [property_row(row["id"], name=k, value=v) for k, v in values.items()]
    insert(db, t.images, rows)
    insert(db, t.image_properties, props)
    tenant = RequestContext(project_id="tenant-x")
    rare_pair = {"deleted": False, "os_distro": "fedora", "os_version": "7"}
    common_pair = {"deleted": False, "os_distro": "fedora", "arch": "x86_64"}
    for context, filters, drives in (
        (tenant, rare_pair, backend in PROBED),
        (admin_ctx, rare_pair, backend == "mysql"),
        (tenant, common_pair, False),
    ):
        with count_statements(db) as counter:
            found = db.image_get_all(context, filters=filters, limit=1)
        assert [i["id"] for i in found] == [rows[699]["id"]]
        assert page_sql(counter.statements).count(DRIVING_SQL) == (1 if drives else 0), filters


def test_unindexed_order_or_no_limit_starts_from_the_rarest(
    db: Database, backend: str, admin_ctx: RequestContext
) -> None:
    """Sorted on a column no index serves (or with no limit), every match is
    read anyway: the rarest value drives even when it is common."""
    many_with(db, probe_limit(1), "rare")
    for options in ({"sort_key": "disk_format", "limit": 1}, {"limit": None}):
        with count_statements(db) as counter:
            found = db.image_get_all(admin_ctx, filters={"os_distro": "fedora"}, **options)
        assert len(found) == (1 if options["limit"] else probe_limit(1))
        assert (DRIVING_SQL in page_sql(counter.statements)) == (backend in PROBED)


def test_statement_count_ignores_page_size_and_children(
    db: Database, ctx: RequestContext, backend: str
) -> None:
    def cost(**options: Any) -> int:
        with count_statements(db) as counter:
            db.image_get_all(ctx, return_tag=True, **options)
        return counter.count

    rows = [image_row(owner=A, created_at=T0 + datetime.timedelta(seconds=i)) for i in range(30)]
    insert(db, t.images, rows)
    props = [
        property_row(r["id"], name=f"p{j}", value="v" if j == 0 else f"{i}-{j}")
        for i, r in enumerate(rows)
        for j in range(20)
    ]
    insert(db, t.image_properties, props)
    insert(db, t.image_tags, [tag_row(r["id"], value=f"t{j}") for r in rows for j in range(4)])
    base = cost(limit=25)
    extra = 1 if backend in PROBED else 0
    for filters in ({"p0": "v"}, {"p1": "0-1"}, {"p0": "v", "p1": "0-1", "p2": "0-2"}):
        for limit in (1, 25, 1000):
            assert cost(limit=limit, filters=filters) == base + extra, (filters, limit)
        marked = cost(limit=5, filters=filters, marker=rows[-1]["id"])
        assert marked == base + extra + 1


@pytest.mark.backends("sqlite")
def test_sqlite_plans_of_the_shapes(db: Database) -> None:
    """Driving reads the (name, value) index; the walk reads created_at (revision
    0012's walk index)."""
    build_catalogue(db.engine, 300)
    db.dispose()
    for context in (RequestContext(project_id="tenant-007"), RequestContext(is_admin=True)):
        for shape, expected in (
            ("driving", "ix_glancedb_image_properties_name_value"),
            ("correlated", "SCAN images USING INDEX ix_glancedb_images_walk_filters"),
        ):
            stmt = page_statement(
                context,
                parse_query({"deleted": False, "build_id": "build-7"}),
                marker=None,
                limit=25,
                member_status="accepted",
                admin_as_user=False,
                dialect="sqlite",
                property_shapes=[shape],  # type: ignore[list-item]
            )
            sql = str(
                stmt.compile(dialect=db.engine.dialect, compile_kwargs={"literal_binds": True})
            )
            with db.engine.connect() as conn:
                plan = " / ".join(
                    row[3] for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql)
                )
            assert expected in plan, (shape, plan)
            if shape == "driving":
                assert "SCAN images" not in plan, plan


# --- for all inputs ---------------------------------------------------------------

NAMES = ("os", "arch")
VALUES = ("x", "y", None)


@dataclass
class Prop:
    name: str
    value: str | None
    deleted: bool


@dataclass
class Img:
    owner: str | None
    visibility: str
    props: list[Prop]
    gpu: bool


img_strategy = st.builds(
    Img,
    owner=st.sampled_from([A, B, None]),
    visibility=st.sampled_from(["public", "private", "shared", "community"]),
    props=st.lists(
        st.builds(
            Prop,
            name=st.sampled_from(NAMES),
            value=st.sampled_from(VALUES),
            deleted=st.booleans(),
        ),
        max_size=2,
        unique_by=lambda p: p.name,  # (image_id, name) is unique
    ),
    gpu=st.booleans(),
)
condition_strategy = st.dictionaries(
    st.sampled_from(NAMES), st.sampled_from(VALUES), min_size=1, max_size=2
)


def matches(image: Img, wanted: dict[str, str | None], gpu: bool) -> bool:
    live = {p.name: p.value for p in image.props if not p.deleted}
    return all(k in live and live[k] == v for k, v in wanted.items()) and (image.gpu or not gpu)


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    images=st.lists(img_strategy, max_size=10),
    wanted=condition_strategy,
    gpu=st.booleans(),
    sort=st.sampled_from(SORTS),
    limit=st.integers(1, 4),
    tenant=st.booleans(),
)
def test_shapes_agree_for_all_inputs(
    session_db: Database,
    images: list[Img],
    wanted: dict[str, str | None],
    gpu: bool,
    sort: dict[str, Any],
    limit: int,
    tenant: bool,
) -> None:
    clear_tables(session_db)
    rows = [
        image_row(
            owner=img.owner,
            visibility=img.visibility,
            name=f"n{i % 3}",
            size=i % 2,
            created_at=T0 + datetime.timedelta(seconds=i // 2),
        )
        for i, img in enumerate(images)
    ]
    props = [
        property_row(
            row["id"],
            name=p.name,
            value=p.value,
            deleted=p.deleted,
            deleted_at=T0 if p.deleted else None,
        )
        for row, img in zip(rows, images, strict=True)
        for p in img.props
    ]
    tags = [
        tag_row(row["id"], value="gpu") for row, img in zip(rows, images, strict=True) if img.gpu
    ]
    for table, table_rows in ((t.images, rows), (t.image_properties, props), (t.image_tags, tags)):
        if table_rows:
            insert(session_db, table, table_rows)
    filters: dict[str, Any] = {"properties": wanted, "visibility": "all"}
    if gpu:
        filters["tags"] = ["gpu"]
    context = RequestContext(project_id=A) if tenant else RequestContext(is_admin=True)
    options = {"filters": filters, **sort}
    reference = walk(session_db, context, limit, **options)
    if not tenant:
        expected = {
            row["id"] for row, img in zip(rows, images, strict=True) if matches(img, wanted, gpu)
        }
        assert set(reference) == expected
    for pattern in PATTERNS:
        with forced(pattern):
            assert walk(session_db, context, limit, **options) == reference, pattern
            whole = session_db.image_get_all(context, **options)
        assert [image["id"] for image in whole] == reference, pattern


@pytest.mark.backends("postgresql")
def test_postgresql_rare_value_reads_the_name_value_index(db: Database) -> None:
    """A rare value is found through the partial (name, value) B-tree: the page
    writes out the index's predicate for a value short enough for it.  A
    value too long for the index is still found (by the walk)."""
    rows = [
        image_row(visibility="public", created_at=T0 + datetime.timedelta(seconds=i))
        for i in range(3000)
    ]
    insert(db, t.images, rows)
    long_value = "x" * 1500
    props = [property_row(r["id"], name="build_id", value=f"build-{i}") for i, r in enumerate(rows)]
    props.append(property_row(rows[7]["id"], name="notes", value=long_value))
    insert(db, t.image_properties, props)
    with db.engine.begin() as conn:
        conn.exec_driver_sql("ANALYZE")
    admin = RequestContext(is_admin=True)
    plan = explained_page(
        db,
        lambda: db.image_get_all(admin, filters={"deleted": False, "build_id": "build-5"}),
        sorting=True,
    )
    assert "ix_glancedb_image_properties_name_value" in plan, plan
    found = db.image_get_all(admin, filters={"deleted": False, "notes": long_value})
    assert [i["id"] for i in found] == [rows[7]["id"]]
