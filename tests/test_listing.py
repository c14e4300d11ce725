"""image_get_all on every backend: visibility, filters, sorting, paging, cost (SPEC 3)."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

import pytest
from benchmarks.catalogue import build_catalogue, generate
from sqlalchemy import event, text

from glancedb import Database, RequestContext, exception, statements
from glancedb.images.listing import IN_SLOTS_MAX, page_statement
from glancedb.images.listing_filters import parse_query
from glancedb.models import tables as t
from tests.support.backends import count_statements
from tests.support.factories import image_row, insert, insert_image, next_time
from tests.support.plans import (
    explained_page,
    images_accesses,
    rows_read_per_listing_statement,
)

A, B = "tenant-a", "tenant-b"


def ids(images: list[Any]) -> list[str]:
    return [image["id"] for image in images]


def names(images: list[Any]) -> list[str | None]:
    return [image["name"] for image in images]


@pytest.fixture
def world(db: Database) -> dict[str, str]:
    """One image per visibility case; keys name them."""
    w = {
        "pub_a": insert_image(db, name="pub_a", visibility="public", owner=A),
        "priv_a": insert_image(db, name="priv_a", visibility="private", owner=A),
        "shared_a": insert_image(db, name="shared_a", visibility="shared", owner=A),
        "comm_a": insert_image(db, name="comm_a", visibility="community", owner=A),
        "pub_b": insert_image(db, name="pub_b", visibility="public", owner=B),
        "priv_b": insert_image(db, name="priv_b", visibility="private", owner=B),
        "shared_b": insert_image(
            db, name="shared_b", visibility="shared", owner=B, members=[(A, "accepted")]
        ),
        "shared_b_pending": insert_image(
            db, name="shared_b_pending", visibility="shared", owner=B, members=[(A, "pending")]
        ),
        "shared_b_rejected": insert_image(
            db, name="shared_b_rejected", visibility="shared", owner=B, members=[(A, "rejected")]
        ),
        "shared_b_revoked": insert_image(
            db, name="shared_b_revoked", visibility="shared", owner=B, members=[(A, "-accepted")]
        ),
        # A membership on a private image does not share it.
        "priv_b_member": insert_image(
            db, name="priv_b_member", visibility="private", owner=B, members=[(A, "accepted")]
        ),
        "comm_b": insert_image(db, name="comm_b", visibility="community", owner=B),
        "private_no_owner": insert_image(
            db, name="private_no_owner", visibility="private", owner=None
        ),
    }
    return w


def listed(db: Database, context: Any, **kwargs: Any) -> set[str]:
    return {image["name"] for image in db.image_get_all(context, **kwargs)}


# --- visibility (SPEC 3.1) ----------------------------------------------------


def test_regular_context_sees_public_own_and_accepted_shares(
    db: Database, world: dict[str, str], ctx: RequestContext
) -> None:
    assert listed(db, ctx) == {"pub_a", "priv_a", "shared_a", "comm_a", "pub_b", "shared_b"}


def test_other_tenant(db: Database, world: dict[str, str], other_ctx: RequestContext) -> None:
    assert listed(db, other_ctx) == {
        "pub_a",
        "pub_b",
        "priv_b",
        "shared_b",
        "shared_b_pending",
        "shared_b_rejected",
        "shared_b_revoked",
        "priv_b_member",
        "comm_b",
    }


def test_member_status(db: Database, world: dict[str, str], ctx: RequestContext) -> None:
    own_and_public = {"pub_a", "priv_a", "shared_a", "comm_a", "pub_b"}
    assert listed(db, ctx, member_status="pending") == own_and_public | {"shared_b_pending"}
    assert listed(db, ctx, member_status="rejected") == own_and_public | {"shared_b_rejected"}
    assert listed(db, ctx, member_status="all") == own_and_public | {
        "shared_b",
        "shared_b_pending",
        "shared_b_rejected",
    }
    with pytest.raises(exception.Invalid, match="'bogus'"):
        db.image_get_all(ctx, member_status="bogus")


def test_member_status_none_matches_no_membership(
    db: Database, world: dict[str, str], ctx: RequestContext, other_ctx: RequestContext
) -> None:
    """As in Glance (``status = NULL`` matches no row): shares by membership are
    left out, public, community-own and own images stay."""
    own_and_public = {"pub_a", "priv_a", "shared_a", "comm_a", "pub_b"}
    assert listed(db, ctx, member_status=None) == own_and_public
    assert listed(db, ctx, member_status=None, filters={"visibility": "shared"}) == {"shared_a"}
    assert listed(db, ctx, member_status=None, filters={"visibility": "all"}) == (
        own_and_public | {"comm_b"}
    )
    # The owner of shared images still sees them, members or not.
    assert {"shared_b", "shared_b_pending"} <= listed(db, other_ctx, member_status=None)
    admin = RequestContext(is_admin=True)
    assert listed(db, admin, member_status=None) == listed(db, admin)
    assert listed(db, admin, member_status=None, admin_as_user=True) == {"pub_a", "pub_b"}


def test_visibility_filter_for_a_tenant(
    db: Database, world: dict[str, str], ctx: RequestContext
) -> None:
    assert listed(db, ctx, filters={"visibility": "public"}) == {"pub_a", "pub_b"}
    assert listed(db, ctx, filters={"visibility": "community"}) == {"comm_a", "comm_b"}
    assert listed(db, ctx, filters={"visibility": "private"}) == {"priv_a"}
    assert listed(db, ctx, filters={"visibility": "shared"}) == {"shared_a", "shared_b"}
    assert listed(db, ctx, filters={"visibility": "all"}) == {
        "pub_a",
        "priv_a",
        "shared_a",
        "comm_a",
        "pub_b",
        "shared_b",
        "comm_b",
    }
    assert listed(db, ctx, filters={"visibility": None}) == listed(db, ctx)


def test_admin_sees_everything_but_foreign_community_images(
    db: Database, world: dict[str, str], admin_ctx: RequestContext
) -> None:
    everything = {name for name in world}
    assert listed(db, admin_ctx) == everything - {"comm_a", "comm_b"}
    assert listed(db, admin_ctx, filters={"visibility": "all"}) == everything
    assert listed(db, admin_ctx, filters={"visibility": "community"}) == {"comm_a", "comm_b"}
    assert listed(db, admin_ctx, filters={"visibility": "private"}) == {
        "priv_a",
        "priv_b",
        "priv_b_member",
        "private_no_owner",
    }
    # An admin with a project sees its own community images.
    admin_a = RequestContext(project_id=A, is_admin=True)
    assert listed(db, admin_a) == everything - {"comm_b"}


def test_admin_as_user(db: Database, world: dict[str, str], ctx: RequestContext) -> None:
    admin_a = RequestContext(project_id=A, is_admin=True)
    assert listed(db, admin_a, admin_as_user=True) == listed(db, ctx)
    # An admin without a project, as a user, sees public images only.
    assert listed(db, RequestContext(is_admin=True), admin_as_user=True) == {"pub_a", "pub_b"}


def test_context_without_owner(db: Database, world: dict[str, str]) -> None:
    anonymous = RequestContext()
    assert listed(db, anonymous) == {"pub_a", "pub_b"}
    # Deliberate difference: no shared image comes from memberships.
    assert listed(db, anonymous, filters={"visibility": "shared"}) == set()
    assert listed(db, anonymous, filters={"visibility": "all"}) == {
        "pub_a",
        "pub_b",
        "comm_a",
        "comm_b",
    }


def test_is_public(db: Database, world: dict[str, str], ctx: RequestContext) -> None:
    assert listed(db, ctx, is_public=True) == {"pub_a", "pub_b"}
    assert listed(db, ctx, is_public=False) == {"priv_a", "shared_a", "comm_a", "shared_b"}


class ForeignContext:
    """A duck-typed context (an oslo-style one): only these attributes exist."""

    def __init__(self, project_id: str | None, is_admin: bool = False) -> None:
        self.project_id = project_id
        self.is_admin = is_admin
        self.show_deleted = False


def test_foreign_contexts_are_duck_typed(
    db: Database, world: dict[str, str], ctx: RequestContext
) -> None:
    assert listed(db, ForeignContext(A)) == listed(db, ctx)


def test_no_implicit_deleted_filter(db: Database, ctx: RequestContext) -> None:
    live = insert_image(db, name="live", owner=A)
    gone = insert_image(db, name="gone", owner=A, deleted=True, deleted_at=next_time())
    killed = insert_image(db, name="killed", owner=A, status="killed")
    assert set(ids(db.image_get_all(ctx))) == {live, gone, killed}
    assert ids(db.image_get_all(ctx, filters={"deleted": False})) == [live]
    assert ids(db.image_get_all(ctx, filters={"deleted": True})) == [gone]
    assert db.image_get_all(ctx, filters={"deleted": None}) == []


# --- filters (SPEC 3.2) -------------------------------------------------------


def test_in_filter_with_quoting(db: Database, admin_ctx: RequestContext) -> None:
    for name in ('fake\\"name', "fakename", "fake,name", "other"):
        insert_image(db, name=name)
    found = names(
        db.image_get_all(admin_ctx, filters={"name": 'in:"fake\\"name",fakename,"fake,name"'})
    )
    assert sorted(n or "" for n in found) == sorted(['fake\\"name', "fakename", "fake,name"])
    assert names(db.image_get_all(admin_ctx, filters={"name": "eq:other"})) == ["other"]
    with pytest.raises(exception.InvalidParameterValue):
        db.image_get_all(admin_ctx, filters={"name": 'in:"unclosed'})
    with pytest.raises(exception.InvalidFilterOperatorValue, match="'lt'"):
        db.image_get_all(admin_ctx, filters={"status": "lt:active"})


def test_in_filter_on_other_columns(db: Database, admin_ctx: RequestContext) -> None:
    raw = insert_image(db, disk_format="raw", container_format="bare", status="queued")
    qcow = insert_image(db, disk_format="qcow2", container_format="ovf", status="active")
    insert_image(db, disk_format="iso", container_format="docker", status="saving")
    assert set(ids(db.image_get_all(admin_ctx, filters={"disk_format": "in:raw,qcow2"}))) == {
        raw,
        qcow,
    }
    assert ids(db.image_get_all(admin_ctx, filters={"container_format": "in:ovf"})) == [qcow]
    assert ids(db.image_get_all(admin_ctx, filters={"status": "queued"})) == [raw]
    assert set(ids(db.image_get_all(admin_ctx, filters={"id": f"in:{raw},{qcow},nope"}))) == {
        raw,
        qcow,
    }


def test_in_lists_of_every_length_match_exactly_their_values(
    db: Database, admin_ctx: RequestContext
) -> None:
    """An ``in:`` list is bound as a power-of-two number of parameters, the
    free ones repeating its last value (one statement per slot count), and
    one longer than IN_SLOTS_MAX as an expanding parameter: either way the
    images with exactly those values."""
    named = {f"n{i}": insert_image(db, name=f"n{i}") for i in range(9)}
    statements: dict[int, set[str]] = {}
    for count in range(1, 10):
        wanted = [f"n{i}" for i in range(count)]
        with count_statements(db) as counter:
            found = db.image_get_all(admin_ctx, filters={"name": "in:" + ",".join(wanted)})
        assert set(ids(found)) == {named[name] for name in wanted}
        statements.setdefault(1 << (count - 1).bit_length(), set()).add(counter.statements[0])
    assert all(len(texts) == 1 for texts in statements.values())
    assert len({text for texts in statements.values() for text in texts}) == len(statements)
    many = [f"absent-{i}" for i in range(IN_SLOTS_MAX)] + ["n3", "n5"]
    found = db.image_get_all(admin_ctx, filters={"name": "in:" + ",".join(many)})
    assert set(ids(found)) == {named["n3"], named["n5"]}


def test_time_filters(db: Database, admin_ctx: RequestContext) -> None:
    base = datetime.datetime(2030, 5, 1, 10, 0, 0)
    early = insert_image(db, created_at=base, updated_at=base)
    mid = insert_image(
        db,
        created_at=base + datetime.timedelta(hours=1),
        updated_at=base + datetime.timedelta(hours=5),
    )
    late = insert_image(
        db,
        created_at=base + datetime.timedelta(hours=2),
        updated_at=base + datetime.timedelta(hours=2),
    )

    def created(value: str) -> set[str]:
        return set(ids(db.image_get_all(admin_ctx, filters={"created_at": value})))

    assert created("gt:2030-05-01T10:00:00") == {mid, late}
    assert created("gte:2030-05-01T11:00:00") == {mid, late}
    assert created("lt:2030-05-01T11:00:00") == {early}
    assert created("lte:2030-05-01T11:00:00") == {early, mid}
    assert created("neq:2030-05-01T11:00:00") == {early, late}
    assert created("eq:2030-05-01T11:00:00") == {mid}
    assert created("2030-05-01T11:00:00") == {mid}
    # An aware time is normalised to UTC.
    assert created("2030-05-01T13:00:00+02:00") == {mid}
    updated = db.image_get_all(admin_ctx, filters={"updated_at": "gt:2030-05-01T13:00:00"})
    assert ids(updated) == [mid]
    with pytest.raises(exception.InvalidParameterValue, match="created_at"):
        created("gt:later")
    with pytest.raises(exception.InvalidFilterOperatorValue, match="'in'"):
        created("in:2030-05-01T11:00:00")


def test_changes_since_shows_deleted(db: Database, ctx: RequestContext) -> None:
    base = datetime.datetime(2030, 5, 1, 10, 0, 0)
    insert_image(db, owner=A, created_at=base, updated_at=base)
    newer = insert_image(
        db,
        owner=A,
        created_at=base,
        updated_at=base + datetime.timedelta(days=1),
        deleted=True,
        deleted_at=base,
    )
    since = base.replace(tzinfo=datetime.UTC)
    assert ids(db.image_get_all(ctx, filters={"changes-since": since})) == [newer]


def test_range_filters(db: Database, admin_ctx: RequestContext) -> None:
    small = insert_image(db, size=10, virtual_size=100)
    big = insert_image(db, size=1000, virtual_size=None)
    insert_image(db, size=None)

    def found(filters: dict[str, Any]) -> set[str]:
        return set(ids(db.image_get_all(admin_ctx, filters=filters)))

    assert found({"size_min": 10}) == {small, big}
    assert found({"size_min": "11"}) == {big}
    assert found({"size_max": "10"}) == {small}
    assert found({"size_min": 10, "size_max": 999}) == {small}
    assert found({"virtual_size_max": 100}) == {small}
    with pytest.raises(exception.InvalidFilterRangeValue, match="'ten'"):
        found({"size_min": "ten"})


def test_property_filters(db: Database, admin_ctx: RequestContext) -> None:
    both = insert_image(db, properties={"os_distro": "ubuntu", "arch": "x86_64"})
    distro = insert_image(db, properties={"os_distro": "ubuntu", "arch": "aarch64"})
    insert_image(db, properties={"os_distro": "fedora"})
    with db.engine.begin() as conn:
        conn.execute(
            t.image_properties.update()
            .where(t.image_properties.c.image_id == distro, t.image_properties.c.name == "arch")
            .values(deleted=True)
        )

    def found(filters: dict[str, Any]) -> set[str]:
        return set(ids(db.image_get_all(admin_ctx, filters=filters)))

    assert found({"properties": {"os_distro": "ubuntu"}}) == {both, distro}
    assert found({"properties": {"os_distro": "ubuntu", "arch": "x86_64"}}) == {both}
    # A soft-deleted property does not match.
    assert found({"properties": {"arch": "aarch64"}}) == set()
    # Unknown keys are property filters too.
    assert found({"os_distro": "ubuntu", "arch": "x86_64"}) == {both}
    assert found({"os_distro": "debian"}) == set()


def test_property_values_none_and_non_strings(db: Database, admin_ctx: RequestContext) -> None:
    empty = insert_image(db, properties={"note": None, "cores": "2"})
    insert_image(db, properties={"note": "text", "cores": "4"})
    assert ids(db.image_get_all(admin_ctx, filters={"properties": {"note": None}})) == [empty]
    assert ids(db.image_get_all(admin_ctx, filters={"properties": {"cores": 2}})) == [empty]
    assert ids(db.image_get_all(admin_ctx, filters={"cores": 2})) == [empty]


def test_filter_keys_and_values_are_data(db: Database, admin_ctx: RequestContext) -> None:
    nasty = "x' OR 1=1; DROP TABLE images; --"
    image = insert_image(db, name=nasty, properties={nasty: nasty}, tags=[nasty])
    insert_image(db, name="innocent")
    assert ids(db.image_get_all(admin_ctx, filters={nasty: nasty})) == [image]
    assert ids(db.image_get_all(admin_ctx, filters={"tags": [nasty]})) == [image]
    assert ids(db.image_get_all(admin_ctx, filters={"name": nasty})) == [image]
    assert len(db.image_get_all(admin_ctx)) == 2


def test_tag_filter_needs_every_tag(db: Database, admin_ctx: RequestContext) -> None:
    both = insert_image(db, tags=["gpu", "ssd"])
    gpu = insert_image(db, tags=["gpu"])
    insert_image(db, tags=[])
    with db.engine.begin() as conn:
        conn.execute(
            t.image_tags.update().where(t.image_tags.c.image_id == gpu).values(deleted=True)
        )
    assert ids(db.image_get_all(admin_ctx, filters={"tags": ["gpu", "ssd"]})) == [both]
    assert ids(db.image_get_all(admin_ctx, filters={"tags": ["gpu"]})) == [both]


def test_equality_and_null_filters(db: Database, admin_ctx: RequestContext) -> None:
    with_sum = insert_image(db, checksum="abc", os_hash_value="h1", os_hidden=True, owner=B)
    without = insert_image(db, checksum=None, os_hash_value=None, os_hidden=False, min_ram=512)

    def found(filters: dict[str, Any]) -> list[str]:
        return ids(db.image_get_all(admin_ctx, filters=filters))

    assert found({"checksum": "abc"}) == [with_sum]
    assert found({"checksum": None}) == [without]
    assert found({"os_hash_value": "h1"}) == [with_sum]
    assert found({"os_hash_value": None}) == [without]
    assert found({"os_hidden": True}) == [with_sum]
    assert found({"os_hidden": False}) == [without]
    assert found({"os_hidden": None}) == []
    assert found({"owner": B}) == [with_sum]
    assert found({"min_ram": 512}) == [without]
    # None is ignored for other keys.
    assert set(found({"owner": None, "name": None, "tags": None})) == {with_sum, without}


# --- sorting and paging (SPEC 3.3) --------------------------------------------


def test_default_order_is_newest_first(db: Database, admin_ctx: RequestContext) -> None:
    created = [insert_image(db) for _ in range(4)]
    assert ids(db.image_get_all(admin_ctx)) == created[::-1]


def test_ties_broken_by_created_at_then_id(db: Database, admin_ctx: RequestContext) -> None:
    same = datetime.datetime(2030, 1, 1)
    made = [insert_image(db, name="same", created_at=same, updated_at=same) for _ in range(5)]
    listed_ids = ids(db.image_get_all(admin_ctx, sort_key=["name"], sort_dir=["asc"]))
    assert listed_ids == sorted(made)
    assert ids(db.image_get_all(admin_ctx, sort_key=["name"])) == sorted(made, reverse=True)


def test_nulls_sort_as_empty_and_paging_over_them(db: Database, admin_ctx: RequestContext) -> None:
    made = {
        "b": insert_image(db, name="b"),
        "n1": insert_image(db, name=None),
        "a": insert_image(db, name="a"),
        "n2": insert_image(db, name=None),
    }
    expected = [made["n1"], made["n2"], made["a"], made["b"]]
    assert ids(db.image_get_all(admin_ctx, sort_key=["name"], sort_dir=["asc"])) == expected
    pages: list[str] = []
    marker = None
    while True:
        page = db.image_get_all(
            admin_ctx, sort_key=["name"], sort_dir=["asc"], limit=1, marker=marker
        )
        if not page:
            break
        pages.extend(ids(page))
        marker = page[-1]["id"]
    assert pages == expected


def test_multiple_keys_and_directions(db: Database, admin_ctx: RequestContext) -> None:
    rows = [("x", 3), ("x", 1), ("y", 2), ("a", 2)]
    made = {(n, s): insert_image(db, name=n, size=s) for n, s in rows}
    got = db.image_get_all(admin_ctx, sort_key=["size", "name"], sort_dir=["desc", "asc"])
    assert ids(got) == [made[("x", 3)], made[("a", 2)], made[("y", 2)], made[("x", 1)]]
    page = db.image_get_all(
        admin_ctx,
        sort_key=["size", "name"],
        sort_dir=["desc", "asc"],
        marker=made[("a", 2)],
    )
    assert ids(page) == [made[("y", 2)], made[("x", 1)]]


def test_sort_by_visibility_is_alphabetical_everywhere(
    db: Database, admin_ctx: RequestContext
) -> None:
    for visibility in ("shared", "public", "private", "community"):
        insert_image(db, visibility=visibility)
    got = db.image_get_all(
        admin_ctx, filters={"visibility": "all"}, sort_key=["visibility"], sort_dir=["asc"]
    )
    assert [image["visibility"] for image in got] == ["community", "private", "public", "shared"]


def test_limit(db: Database, admin_ctx: RequestContext) -> None:
    for _ in range(3):
        insert_image(db)
    assert len(db.image_get_all(admin_ctx, limit=None)) == 3
    assert len(db.image_get_all(admin_ctx, limit=2)) == 2
    assert db.image_get_all(admin_ctx, limit=0) == []
    with pytest.raises(exception.Invalid, match="-1"):
        db.image_get_all(admin_ctx, limit=-1)


def test_sort_errors(db: Database, admin_ctx: RequestContext) -> None:
    with pytest.raises(exception.InvalidSortKey, match="'nope'"):
        db.image_get_all(admin_ctx, sort_key=["nope"])
    with pytest.raises(exception.InvalidSortDir, match="'sideways'"):
        db.image_get_all(admin_ctx, sort_key=["name"], sort_dir=["sideways"])


def test_marker_errors(db: Database, ctx: RequestContext, other_ctx: RequestContext) -> None:
    private_b = insert_image(db, visibility="private", owner=B)
    deleted_a = insert_image(db, owner=A, deleted=True, deleted_at=next_time())
    live_a = insert_image(db, owner=A)
    with pytest.raises(exception.ImageNotFound, match="unknown"):
        db.image_get_all(ctx, marker="unknown")
    with pytest.raises(exception.ImageNotFound):
        db.image_get_all(ctx, marker="x" * 37)
    with pytest.raises(exception.Forbidden):
        db.image_get_all(ctx, marker=private_b)
    with pytest.raises(exception.ImageNotFound, match=deleted_a):
        db.image_get_all(ctx, marker=deleted_a)
    # Shown when listing deleted images, or for a context that sees them.
    assert db.image_get_all(ctx, marker=deleted_a, filters={"deleted": True}) == []
    assert ids(db.image_get_all(ctx, marker=live_a, filters={"changes-since": next_time()})) == []
    show_deleted = RequestContext(project_id=A, show_deleted=True)
    assert ids(db.image_get_all(show_deleted, marker=live_a)) == [deleted_a]
    # A shared image is a valid marker for its member, whatever the status.
    shared = insert_image(db, visibility="shared", owner=B, members=[(A, "pending")])
    assert db.image_get_all(ctx, marker=shared) is not None
    assert db.image_get_all(other_ctx, marker=shared) is not None


def test_marker_pages_through_everything(db: Database, ctx: RequestContext) -> None:
    made = [insert_image(db, owner=A) for _ in range(7)]
    seen: list[str] = []
    marker = None
    while True:
        page = db.image_get_all(ctx, limit=3, marker=marker)
        if not page:
            break
        seen.extend(ids(page))
        marker = page[-1]["id"]
    assert seen == made[::-1]


# --- returned dicts ------------------------------------------------------------


def test_returned_dicts(db: Database, admin_ctx: RequestContext, ctx: RequestContext) -> None:
    image = insert_image(
        db,
        name="full",
        owner=A,
        properties={"a": "1", "b": "2"},
        tags=["t2", "t1"],
        locations=["file:///one", "file:///two"],
        visibility="public",
    )
    with db.engine.begin() as conn:
        conn.execute(
            t.image_properties.update().where(t.image_properties.c.name == "b").values(deleted=True)
        )
        conn.execute(
            t.image_locations.update()
            .where(t.image_locations.c.value == "file:///two")
            .values(deleted=True, status="deleted")
        )
    (plain,) = db.image_get_all(ctx)
    assert plain["id"] == image and plain.id == image
    assert "tags" not in plain
    assert plain["visibility"] == "public"
    assert {p["name"]: p["deleted"] for p in plain["properties"]} == {"a": False, "b": True}
    assert [loc["url"] for loc in plain["locations"]] == ["file:///one"]
    assert plain["locations"][0]["metadata"] == {"n": 0}
    (tagged,) = db.image_get_all(ctx, return_tag=True)
    assert tagged["tags"] == ["t2", "t1"]
    (v1,) = db.image_get_all(ctx, v1_mode=True)
    assert v1["is_public"] is True and "visibility" not in v1
    # Deleted locations show when deleted images are listed.
    (shown,) = db.image_get_all(
        admin_ctx, filters={"deleted": False, "changes-since": "2000-01-01T00:00:00"}
    )
    assert [loc["url"] for loc in shown["locations"]] == ["file:///one", "file:///two"]


def test_deactivated_images_hide_locations_from_non_admins(
    db: Database, admin_ctx: RequestContext, ctx: RequestContext
) -> None:
    insert_image(db, owner=A, status="deactivated", locations=["file:///x"])
    assert db.image_get_all(ctx)[0]["locations"] == []
    assert [loc["url"] for loc in db.image_get_all(admin_ctx)[0]["locations"]] == ["file:///x"]


# --- cost (SPEC 3.4) ------------------------------------------------------------


def test_statement_count_is_constant(db: Database, ctx: RequestContext) -> None:
    lone = insert_image(db, owner=A, created_at=datetime.datetime(2020, 1, 1))
    with count_statements(db) as small:
        page = db.image_get_all(ctx, return_tag=True, limit=25, filters={"deleted": False})
    assert ids(page) == [lone]
    for i in range(25):
        insert_image(
            db,
            owner=A,
            properties={f"p{j}": f"v{i}-{j}" for j in range(50)},
            locations=[f"file:///{i}/{j}" for j in range(10)],
            tags=[f"t{j}" for j in range(5)],
        )
    with count_statements(db) as big:
        page = db.image_get_all(ctx, return_tag=True, limit=25, filters={"deleted": False})
    assert len(page) == 25
    assert all(len(image["properties"]) == 50 for image in page)
    assert all(len(image["locations"]) == 10 for image in page)
    assert all(len(image["tags"]) == 5 for image in page)
    assert big.count == small.count, (small.statements, big.statements)
    # And with a marker: one more statement, whatever the page holds.
    with count_statements(db) as marked:
        db.image_get_all(ctx, return_tag=True, limit=25, marker=page[0]["id"])
    assert marked.count == small.count + 1


def test_large_id_lists_span_chunks(db: Database, admin_ctx: RequestContext) -> None:
    made = set()
    rows = []
    for i in range(1100):
        created = datetime.datetime(2031, 1, 1) + datetime.timedelta(seconds=i)
        row = image_row(id=f"bulk-{i:05d}", visibility="public", owner=A, created_at=created)
        rows.append(row)
        made.add(row["id"])
    insert(db, t.images, rows)
    assert set(ids(db.image_get_all(admin_ctx))) == made


# --- a small version of the benchmark catalogue ----------------------------------


def test_catalogue_pages_match_the_rules(db: Database) -> None:
    """Walk a tenant's pages over the benchmark's (small) catalogue."""
    n = 400
    build_catalogue(db.engine, n)
    rows = generate(n)
    tenant = "tenant-007"
    accepted = {
        m["image_id"]
        for m in rows[t.image_members]
        if m["member"] == tenant and m["status"] == "accepted" and not m["deleted"]
    }
    expected = [
        image["id"]
        for image in sorted(rows[t.images], key=lambda i: (i["created_at"], i["id"]), reverse=True)
        if not image["deleted"]
        and image["status"] != "killed"
        and (
            image["visibility"] == "public"
            or image["owner"] == tenant
            or (image["visibility"] == "shared" and image["id"] in accepted)
        )
    ]
    assert len(expected) > 3 * 7
    ctx = RequestContext(project_id=tenant)
    seen: list[str] = []
    counts: list[int] = []
    marker = None
    while True:
        with count_statements(db) as counter:
            page = db.image_get_all(
                ctx, filters={"deleted": False}, limit=7, marker=marker, return_tag=True
            )
        if not page:
            break
        counts.append(counter.count)
        assert all(len(image["tags"]) == 3 for image in page)
        assert all(len(image["locations"]) == 2 for image in page)
        seen.extend(ids(page))
        marker = page[-1]["id"]
    assert seen == expected
    # The first page costs 2 statements (the page, its children with their
    # tags), every later one 3 (the marker lookup).
    assert counts == [2] + [3] * (len(counts) - 1)


@pytest.mark.backends("sqlite")  # PostgreSQL and MySQL plans: see the benchmark
def test_sqlite_plan_walks_created_at_without_statistics(db: Database, backend: str) -> None:
    """SPEC 3.4's trap: without ANALYZE, SQLite must not pick the ``deleted``
    or ``visibility`` indexes (and sort everything) for a tenant's page; it
    walks revision 0012's created_at index, whose entries hold what the
    visibility test and the usual filters read (an image's row is read only
    once it passed them), and checks memberships in the index that holds
    all they compare."""
    build_catalogue(db.engine, 300, run_analyze=False)
    with db.engine.begin() as conn:
        has_stats = conn.execute(
            text("SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_stat1'")
        ).scalar()
        if has_stats:
            conn.execute(text("DELETE FROM sqlite_stat1"))
    db.dispose()  # new connections: the planner forgets what it read
    for context in (RequestContext(project_id="tenant-007"), RequestContext(is_admin=True)):
        for filters in (
            {"deleted": False},
            {"deleted": False, "tags": ["gpu"]},
            {"deleted": False, "os_distro": "fedora", "visibility": "shared"},
        ):
            stmt = page_statement(
                context,
                parse_query(filters),
                marker=None,
                limit=25,
                member_status="accepted",
                admin_as_user=False,
                dialect="sqlite",
            )
            sql = str(
                stmt.compile(dialect=db.engine.dialect, compile_kwargs={"literal_binds": True})
            )
            with db.engine.connect() as conn:
                plan = " / ".join(
                    row[3] for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql)
                )
            walk = "SCAN images USING INDEX ix_glancedb_images_walk_filters"
            assert plan.startswith(walk), (filters, plan)
            assert "ix_images_deleted" not in plan and "visibility_image_idx" not in plan
            if not context.is_admin:
                # Each membership probe: one lookup in revision 0009's index alone.
                index = "ix_glancedb_image_members_member_access"
                probe = f"SEARCH image_members USING COVERING INDEX {index}"
                assert f"{probe} (member=? AND deleted=? AND status=? AND image_id=?)" in plan, plan


# --- hostile input (SPEC 12): the leaks the fuzz test found ---------------------------


def test_hostile_filter_values_get_the_same_answer_everywhere(
    db: Database, admin_ctx: RequestContext
) -> None:
    insert_image(db, name="plain", tags=["t"], properties={"os_distro": "x"})
    # A list or dict where one value belongs: Invalid naming the key.
    for filters, key in (
        ({"name": ["plain"]}, "name"),
        ({"os_distro": {"x": 1}}, "os_distro"),
        ({"properties": {"os_distro": ["x"]}}, "os_distro"),
    ):
        with pytest.raises(exception.Invalid, match=key):
            db.image_get_all(admin_ctx, filters=filters)
    # NUL (PostgreSQL cannot receive it): Invalid on every backend.
    for filters in ({"name": "pl\x00ain"}, {"os_distro": "\x00"}, {"tags": ["\x00"]}):
        with pytest.raises(exception.InvalidParameterValue, match="NUL"):
            db.image_get_all(admin_ctx, filters=filters)
    # A 4-byte character (MySQL's utf8 columns cannot compare it): no image has one.
    for filters in (
        {"name": "\U0001f600"},
        {"name": "in:plain,\U0001f600"},
        {"os_distro": "\U0001f600"},
        {"tags": ["\U0001f600"]},
        {"properties": {"\U0001f600": "x"}},
    ):
        found = names(db.image_get_all(admin_ctx, filters=filters))
        assert found == (["plain"] if "in:" in str(filters) else []), filters
    # Integers beyond 64 bits (SQLite's driver overflows).
    with pytest.raises(exception.InvalidParameterValue, match="min_disk"):
        db.image_get_all(admin_ctx, filters={"min_disk": 2**64})
    with pytest.raises(exception.InvalidFilterRangeValue, match="size_min"):
        db.image_get_all(admin_ctx, filters={"size_min": -(2**63) - 1})
    with pytest.raises(exception.Invalid, match="limit"):
        db.image_get_all(admin_ctx, limit=2**64)
    # 64-bit values beyond the 32-bit columns and parameters compare as
    # numbers everywhere (PostgreSQL refused them as "integer out of range").
    assert names(db.image_get_all(admin_ctx, limit=2**31)) == ["plain"]
    assert names(db.image_get_all(admin_ctx, limit=2**63 - 1, sort_key=["name"])) == ["plain"]
    for filters, found in (
        ({"min_ram": 2**31}, []),
        ({"min_disk": -(2**40)}, []),
        ({"min_ram_min": 2**31}, []),
        ({"min_ram_max": 2**62}, ["plain"]),
        ({"min_disk_min": -(2**62)}, ["plain"]),
        ({"min_disk_max": -(2**31) - 1}, []),
        # The 64-bit range's own ends are values like any other.
        ({"min_ram_min": -(2**63)}, ["plain"]),
        ({"min_ram_max": 2**63 - 1}, ["plain"]),
        ({"min_ram_max": -(2**63)}, []),
    ):
        assert names(db.image_get_all(admin_ctx, filters=filters)) == found, filters
    with pytest.raises(exception.ImageNotFound):
        db.image_get_all(admin_ctx, marker=2**64)  # type: ignore[arg-type]
    with pytest.raises(exception.Invalid, match="member status"):
        db.image_get_all(admin_ctx, member_status=["accepted"])  # type: ignore[arg-type]
    with pytest.raises(exception.InvalidSortKey):
        db.image_get_all(admin_ctx, sort_key=7)  # type: ignore[arg-type]
    # Lists long enough to make a database refuse or labour over the SQL
    # (psycopg sends at most 65,535 parameters).
    names_in = "in:" + ",".join([*(f"other-{i}" for i in range(70_000)), "plain"])
    assert names(db.image_get_all(admin_ctx, filters={"name": names_in})) == ["plain"]
    many_keys = ["name", "size", "id", "created_at"] * 2000
    assert names(db.image_get_all(admin_ctx, sort_key=many_keys, sort_dir=["asc"])) == ["plain"]
    with pytest.raises(exception.InvalidParameterValue, match="at most 32 tag and property"):
        db.image_get_all(admin_ctx, filters={"tags": [f"t{i}" for i in range(1000)]})
    with pytest.raises(exception.InvalidParameterValue, match="at most 32 tag and property"):
        db.image_get_all(admin_ctx, filters={"properties": {f"p{i}": "v" for i in range(33)}})
    with pytest.raises(exception.Invalid, match="is_public"):
        db.image_get_all(admin_ctx, is_public=[])  # type: ignore[arg-type]
    # A scalar is taken for its truth, as image_create takes it.
    assert names(db.image_get_all(admin_ctx, is_public=0)) == ["plain"]  # type: ignore[arg-type]


@pytest.mark.backends("sqlite", "postgresql")
@pytest.mark.parametrize("key", ["name", "size"])
@pytest.mark.parametrize("direction", ["asc", "desc"])
@pytest.mark.parametrize("deep", [False, True], ids=["first", "marker"])
def test_sorted_pages_walk_the_order_index(
    db: Database, backend: str, key: str, direction: str, deep: bool
) -> None:
    """A page sorted by name or size walks glancedb's order index (first and
    later pages, both directions) instead of reading and sorting every match:
    the index is on the very expression the keyset orders by, as sent."""
    rows = [
        image_row(
            name=None if i % 9 == 0 else f"image-{i % 40:02d}",
            size=None if i % 7 == 0 else (i % 30) * 1024,
            owner=f"tenant-{i % 5}",
            visibility=("public", "private", "shared")[i % 3],
        )
        for i in range(400)
    ]
    insert(db, t.images, rows)
    with db.engine.begin() as conn:
        conn.exec_driver_sql("ANALYZE")
    tenant = RequestContext(project_id="tenant-1")
    plan = explained_page(
        db,
        lambda: db.image_get_all(
            tenant,
            filters={"deleted": False},
            sort_key=[key],
            sort_dir=[direction],
            limit=10,
            marker=rows[1]["id"] if deep else None,
        ),
    )
    index = f"ix_glancedb_images_{key}_order"
    assert index in plan and "TEMP B-TREE" not in plan and "Sort" not in plan, plan


def _tenant_pages_on_mysql(
    db: Database, rows: list[dict[str, Any]], options: dict[str, Any], *, deep: bool
) -> tuple[Callable[[], list[str]], list[str], list[str]]:
    """Insert ``rows`` (MySQL's statistics refreshed); return a reader of
    tenant-1's page of 10 listed with ``options`` (from the middle of the
    whole listing when ``deep``), the whole listing, and the page expected."""
    insert(db, t.images, rows)
    with db.engine.begin() as conn:
        conn.exec_driver_sql("ANALYZE TABLE images")
    tenant = RequestContext(project_id="tenant-1")
    whole = ids(db.image_get_all(tenant, **options))
    marker = whole[len(whole) // 2] if deep else None
    start = whole.index(marker) + 1 if marker is not None else 0

    def read_page() -> list[str]:
        return ids(db.image_get_all(tenant, limit=10, marker=marker, **options))

    return read_page, whole, whole[start : start + 10]


@pytest.mark.backends("mysql")
@pytest.mark.parametrize("direction", ["asc", "desc"])
@pytest.mark.parametrize("deep", [False, True], ids=["first", "marker"])
def test_name_sorted_pages_walk_the_plain_index_on_mysql(
    db: Database, direction: str, deep: bool
) -> None:
    """MySQL/MariaDB cannot index the sort expression ``COALESCE(name, '')``:
    a name-sorted page walks the (name, created_at, id) index twice - the
    named images in the page's order, the unnamed ones (NULL sorts as '')
    in (created_at, id) order - each walk stopping after ``limit`` matches:
    never every image, nor every unnamed one."""
    rows = [
        image_row(
            name=None if i % 40 == 0 else ("" if i % 40 == 1 else f"image-{i % 700:03d}"),
            owner=f"tenant-{i % 5}",
            visibility=("public", "private", "shared")[i % 3],
        )
        for i in range(2000)
    ]
    options: dict[str, Any] = {"sort_key": ["name"], "sort_dir": [direction]}
    read_page, _whole, expected = _tenant_pages_on_mysql(db, rows, options, deep=deep)
    page: list[str] = []
    reads = rows_read_per_listing_statement(db, lambda: page.extend(read_page()))
    assert page == expected
    # The marker lookup (by id), then the page: two walks of about twice the
    # page each (the tenant sees about half the images).  Reading and sorting
    # every match would read 2,000 rows; reading every image that sorts as
    # '' (the first pages ascending, the last descending), 100.
    assert len(reads) == (2 if deep else 1), reads
    assert reads[-1] < 80, reads
    # The walks read revision 0011's (name, created_at, id, ...) index alone;
    # the table gives the page's 10 images.
    accesses = images_accesses(db, read_page)
    walks = [a for a in accesses if a["key"] != "PRIMARY"]
    assert walks and all(
        a["key"] == "ix_glancedb_images_name_walk_filters" and a["using_index"] for a in walks
    ), accesses
    assert [a["rows"] for a in accesses if a["key"] == "PRIMARY"] == [10], accesses


#: Filters the walk indexes hold (revision 0011), by a short name.
WALKED_FILTERS: dict[str, dict[str, Any]] = {
    "unfiltered": {},
    "disk_format_in": {"disk_format": "in:raw,iso"},
    "hidden_and_container": {"os_hidden": False, "container_format": "bare"},
}


@pytest.mark.backends("mysql")
@pytest.mark.parametrize("filters", list(WALKED_FILTERS))
@pytest.mark.parametrize("deep", [False, True], ids=["first", "marker"])
def test_pages_walk_the_walk_index_and_read_only_their_rows_on_mysql(
    db: Database, deep: bool, filters: str
) -> None:
    """InnoDB keeps rows in (random) id order: a page walks revision 0011's
    (created_at, id, deleted, status, visibility, owner, os_hidden,
    disk_format, container_format) index alone, also when it filters on
    those columns, and reads from the table only the images it returns."""
    rows = [
        image_row(
            owner=f"tenant-{i % 20}",
            visibility=("public", "private", "shared")[i % 3],
            disk_format=("raw", "qcow2", "iso", "vmdk")[i % 4],
            container_format=("bare", "ovf")[i % 7 // 6],
            os_hidden=i % 11 == 0,
        )
        for i in range(2000)
    ]
    options: dict[str, Any] = {"filters": WALKED_FILTERS[filters]}
    read_page, whole, expected = _tenant_pages_on_mysql(db, rows, options, deep=deep)
    assert len(whole) > 40
    page: list[str] = []
    accesses = images_accesses(db, lambda: page.extend(read_page()))
    assert page == expected
    walks = [a for a in accesses if a["key"] == "ix_glancedb_images_walk_filters"]
    assert len(walks) == 1 and walks[0]["using_index"], accesses
    # The walk reads tens of entries a listed image (a twentieth of private
    # images is the tenant's); the table gives only the page's 10.
    (reads,) = [a for a in accesses if a is not walks[0]]
    assert reads["key"] == "PRIMARY" and reads["rows"] == 10, accesses


@pytest.mark.parametrize("direction", ["asc", "desc"])
@pytest.mark.parametrize("limit", [1, 2, 3])
def test_name_pages_agree_with_the_whole_listing_under_the_collation(
    db: Database, admin_ctx: RequestContext, direction: str, limit: int
) -> None:
    """Paging by name returns the whole listing's order, page by page, also for
    names the backend's collation may equate with ``''`` or with each other
    (trailing spaces, case, a lone combining mark) - on MySQL/MariaDB the
    pages are read through key ranges on the plain index."""
    names = [None, "", " ", "  ", "a", "A", "a ", "b", "\u0301", "\u0301a", None, "", "B", "b"]
    for name in names:
        insert_image(db, name=name)
    options: dict[str, Any] = {"sort_key": ["name"], "sort_dir": [direction]}
    whole = ids(db.image_get_all(admin_ctx, **options))
    assert len(whole) == len(names)
    paged: list[str] = []
    marker = None
    while True:
        page = ids(db.image_get_all(admin_ctx, limit=limit, marker=marker, **options))
        if not page:
            break
        paged.extend(page)
        marker = page[-1]
    assert paged == whole


def test_statements_are_built_once_and_hit_the_compiled_cache(db: Database) -> None:
    """Calls of one shape reuse one statement: each SQL statement is compiled
    once and only the bound values change - different projects, filter
    values, markers and limits.  Through SQLAlchemy's ``execute`` (an engine
    with listeners) its compiled cache gives the same compiled object every
    time; on the direct path (glancedb.statements) a second round of calls
    compiles nothing."""
    rows = [image_row(owner=f"tenant-{i % 3}", visibility="shared") for i in range(12)]
    insert(db, t.images, rows)

    def calls(round_: int) -> None:
        for i in range(3):
            context = RequestContext(project_id=f"tenant-{i}")
            status = f"status-{i}-{round_}"
            filters = {"deleted": False, "status": status, "os_distro": f"distro-{i}"}
            db.image_get_all(context, filters=filters, limit=5 + i + round_)
            page = db.image_get_all(context, filters={"deleted": False}, limit=2 + i)
            db.image_get_all(context, filters={"deleted": False}, limit=3, marker=page[-1]["id"])
            db.image_get(context, page[0]["id"])

    assert not db.engine._has_events
    statements._compiled.cache_clear()
    calls(0)
    compiled_once = statements._compiled.cache_info().misses
    calls(1)
    assert compiled_once > 0 and statements._compiled.cache_info().misses == compiled_once

    compiled: dict[str, set[int]] = {}

    def keep(_conn: Any, _cursor: Any, statement: str, _params: Any, context: Any, _m: Any) -> None:
        compiled.setdefault(statement, set()).add(id(context.compiled))

    event.listen(db.engine, "before_cursor_execute", keep)
    try:
        calls(2)
    finally:
        event.remove(db.engine, "before_cursor_execute", keep)
    reused = {
        sql: ids for sql, ids in compiled.items() if not sql.lstrip().upper().startswith("BEGIN")
    }
    assert reused and all(len(ids) == 1 for ids in reused.values()), reused
