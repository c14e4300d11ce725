"""Metadef namespaces: create, get, list (visibility, filters, paging), update, delete."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from glancedb import Database, RequestContext
from glancedb import exception as exc
from glancedb.models import tables as t
from tests.support.backends import clear_tables, count_statements

ADMIN = RequestContext(is_admin=True)


def make_ns(db: Database, ctx: RequestContext, name: str, **values: object) -> dict:
    return db.metadef_namespace_create(ctx, {"namespace": name, **values})


def names(records: list[dict]) -> list[str]:
    return [r["namespace"] for r in records]


def row_count(db: Database, table: object) -> int:
    with db.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


# --- create / get ---------------------------------------------------------------------


def test_create_returns_every_column(db: Database, ctx: RequestContext) -> None:
    ns = make_ns(
        db,
        ctx,
        "OS::Test",
        display_name="Test",
        description="d",
        visibility="public",
        protected=True,
    )
    assert set(ns) == {c.name for c in t.metadef_namespaces.c}
    assert ns.namespace == "OS::Test"
    assert ns["display_name"] == "Test"
    assert ns["owner"] == "tenant-a"  # the context owner by default
    assert ns["protected"] is True
    assert isinstance(ns["created_at"], datetime.datetime)
    assert db.metadef_namespace_get(ctx, "OS::Test") == ns


def test_create_keeps_a_given_owner(db: Database, admin_ctx: RequestContext) -> None:
    ns = make_ns(db, admin_ctx, "N", owner="someone")
    assert ns["owner"] == "someone"


def test_create_without_any_owner_is_invalid(db: Database, admin_ctx: RequestContext) -> None:
    with pytest.raises(exc.Invalid, match="'N'"):
        make_ns(db, admin_ctx, "N")


def test_an_owner_taken_from_the_context_is_checked_like_a_given_one(db: Database) -> None:
    long_project = RequestContext(project_id="p" * 256)
    with pytest.raises(exc.Invalid, match="owner is limited to 255 characters"):
        make_ns(db, long_project, "N")
    assert db.metadef_namespace_get_all(ADMIN) == []


def test_create_duplicate_name(
    db: Database, ctx: RequestContext, other_ctx: RequestContext
) -> None:
    make_ns(db, ctx, "N")
    with pytest.raises(exc.MetadefDuplicateNamespace, match="'N'"):
        make_ns(db, other_ctx, "N")
    assert row_count(db, t.metadef_namespaces) == 1


@pytest.mark.parametrize(
    ("values", "match"),
    [
        ({"namespace": "x" * 81}, "namespace"),
        ({"namespace": "N", "display_name": "x" * 81}, "display_name"),
        ({"namespace": "N", "owner": "o" * 256}, "owner"),
        ({"namespace": "N\U0001f600"}, "4-byte"),
        ({"namespace": "N", "description": "snake \U0001f40d"}, "4-byte"),
        ({"namespace": "N", "visibility": "shared"}, "shared"),
        ({"namespace": ""}, "namespace"),
        ({"display_name": "no name"}, "namespace"),
        ({"namespace": 5}, "namespace"),
        ({"namespace": "N", "protected": "yes"}, "protected"),
        ({"namespace": "N", "description": ["not", "text"]}, "description"),
    ],
)
def test_create_rejects_bad_input(
    db: Database, ctx: RequestContext, values: dict, match: str
) -> None:
    with pytest.raises(exc.Invalid, match=match):
        db.metadef_namespace_create(ctx, values)
    assert row_count(db, t.metadef_namespaces) == 0


def test_create_ignores_id_and_unknown_keys(db: Database, ctx: RequestContext) -> None:
    ns = db.metadef_namespace_create(ctx, {"namespace": "N", "id": 4242, "bogus": 1})
    assert ns["id"] != 4242
    assert "bogus" not in ns


def test_get_unknown(db: Database, ctx: RequestContext) -> None:
    with pytest.raises(exc.MetadefNamespaceNotFound, match="'nope'"):
        db.metadef_namespace_get(ctx, "nope")


def test_get_visibility(
    db: Database, ctx: RequestContext, other_ctx: RequestContext, admin_ctx: RequestContext
) -> None:
    make_ns(db, ctx, "private-a", visibility="private")
    make_ns(db, ctx, "public-a", visibility="public")
    assert db.metadef_namespace_get(ctx, "private-a")["owner"] == "tenant-a"
    assert db.metadef_namespace_get(admin_ctx, "private-a")["owner"] == "tenant-a"
    assert db.metadef_namespace_get(other_ctx, "public-a")["namespace"] == "public-a"
    with pytest.raises(exc.MetadefForbidden, match="private-a"):
        db.metadef_namespace_get(other_ctx, "private-a")
    # A context without owner sees only public ones.
    with pytest.raises(exc.MetadefForbidden):
        db.metadef_namespace_get(RequestContext(), "private-a")


def test_foreign_duck_typed_context(db: Database, ctx: RequestContext) -> None:
    class Foreign:
        is_admin = False
        project_id = "tenant-a"

    make_ns(db, ctx, "N", visibility="private")
    assert db.metadef_namespace_get(Foreign(), "N")["namespace"] == "N"


# --- listing ----------------------------------------------------------------------------


@pytest.fixture
def three_tenants(db: Database, ctx: RequestContext, other_ctx: RequestContext) -> Database:
    make_ns(db, ctx, "a-private", visibility="private")
    make_ns(db, ctx, "a-public", visibility="public")
    make_ns(db, other_ctx, "b-private", visibility="private")
    make_ns(db, other_ctx, "b-public", visibility="public")
    return db


def test_get_all_visibility(
    three_tenants: Database,
    ctx: RequestContext,
    other_ctx: RequestContext,
    admin_ctx: RequestContext,
) -> None:
    db = three_tenants
    assert sorted(names(db.metadef_namespace_get_all(admin_ctx))) == [
        "a-private",
        "a-public",
        "b-private",
        "b-public",
    ]
    assert sorted(names(db.metadef_namespace_get_all(ctx))) == ["a-private", "a-public", "b-public"]
    assert sorted(names(db.metadef_namespace_get_all(other_ctx))) == [
        "a-public",
        "b-private",
        "b-public",
    ]
    assert sorted(names(db.metadef_namespace_get_all(RequestContext()))) == [
        "a-public",
        "b-public",
    ]


def test_get_all_visibility_filter(three_tenants: Database, ctx: RequestContext) -> None:
    db = three_tenants
    private = db.metadef_namespace_get_all(ctx, filters={"visibility": "private"})
    assert names(private) == ["a-private"]
    public = db.metadef_namespace_get_all(ctx, filters={"visibility": "public"})
    assert sorted(names(public)) == ["a-public", "b-public"]


def test_get_all_resource_types_filter(three_tenants: Database, ctx: RequestContext) -> None:
    db = three_tenants
    db.metadef_resource_type_association_create(ctx, "a-private", {"name": "OS::Glance::Image"})
    db.metadef_resource_type_association_create(ctx, "b-public", {"name": "OS::Nova::Flavor"})
    db.metadef_resource_type_association_create(ctx, "b-public", {"name": "OS::Glance::Image"})
    db.metadef_resource_type_association_create(ctx, "a-public", {"name": "OS::Cinder::Volume"})
    found = db.metadef_namespace_get_all(ctx, filters={"resource_types": "OS::Glance::Image"})
    assert sorted(names(found)) == ["a-private", "b-public"]
    both = db.metadef_namespace_get_all(
        ctx, filters={"resource_types": "OS::Nova::Flavor, OS::Cinder::Volume"}
    )
    assert sorted(names(both)) == ["a-public", "b-public"]
    as_list = db.metadef_namespace_get_all(ctx, filters={"resource_types": ["OS::Nova::Flavor"]})
    assert names(as_list) == ["b-public"]
    assert db.metadef_namespace_get_all(ctx, filters={"resource_types": "Unknown"}) == []
    # Combined with visibility, and still only visible namespaces.
    combined = db.metadef_namespace_get_all(
        RequestContext(project_id="tenant-c"),
        filters={"resource_types": "OS::Glance::Image", "visibility": "public"},
    )
    assert names(combined) == ["b-public"]


def _dated(db: Database, ctx: RequestContext, count: int) -> list[str]:
    """``count`` namespaces with distinct created_at, oldest first."""
    base = datetime.datetime(2020, 1, 1)
    created = []
    for i in range(count):
        name = f"ns-{i:02d}"
        make_ns(db, ctx, name, created_at=base + datetime.timedelta(minutes=i))
        created.append(name)
    return created


def test_get_all_default_order_is_newest_first(db: Database, ctx: RequestContext) -> None:
    created = _dated(db, ctx, 4)
    assert names(db.metadef_namespace_get_all(ctx)) == created[::-1]
    assert names(db.metadef_namespace_get_all(ctx, sort_dir="asc")) == created


def test_get_all_paging_with_marker_id(db: Database, ctx: RequestContext) -> None:
    created = _dated(db, ctx, 5)
    page1 = db.metadef_namespace_get_all(ctx, limit=2, sort_dir="asc")
    assert names(page1) == created[:2]
    page2 = db.metadef_namespace_get_all(ctx, marker=page1[-1]["id"], limit=2, sort_dir="asc")
    assert names(page2) == created[2:4]
    page3 = db.metadef_namespace_get_all(ctx, marker=page2[-1]["id"], limit=2, sort_dir="asc")
    assert names(page3) == created[4:]
    assert db.metadef_namespace_get_all(ctx, limit=0) == []


@pytest.mark.parametrize(
    ("sort_key", "values", "empty"),
    [
        ("display_name", ["b", None, "a", None, "b", "c", None], ""),
        ("protected", [True, None, False, None, True, False, None], False),
    ],
)
def test_get_all_sort_key_with_nulls_and_ties_pages_completely(
    db: Database, ctx: RequestContext, sort_key: str, values: list[Any], empty: Any
) -> None:
    """A NULL sorts as the column's empty value ('' / False), on every backend."""
    for i, value in enumerate(values):
        make_ns(db, ctx, f"n{i}", **{sort_key: value})
    for direction in ("asc", "desc"):
        full = db.metadef_namespace_get_all(ctx, sort_key=sort_key, sort_dir=direction)
        seen: list[str] = []
        marker = None
        while True:
            page = db.metadef_namespace_get_all(
                ctx, marker=marker, limit=2, sort_key=sort_key, sort_dir=direction
            )
            if not page:
                break
            seen.extend(names(page))
            marker = page[-1]["id"]
        assert seen == names(full)
        assert sorted(seen) == [f"n{i}" for i in range(7)]
        found = [empty if r[sort_key] is None else r[sort_key] for r in full]
        assert found == sorted(found, reverse=direction == "desc")


def test_get_all_bad_arguments(
    db: Database, ctx: RequestContext, other_ctx: RequestContext
) -> None:
    with pytest.raises(exc.InvalidSortKey, match="bogus"):
        db.metadef_namespace_get_all(ctx, sort_key="bogus")
    for bad in ("up", "ASC", " desc"):
        with pytest.raises(exc.InvalidSortDir, match=bad.strip()):
            db.metadef_namespace_get_all(ctx, sort_dir=bad)
    with pytest.raises(exc.Invalid, match="limit"):
        db.metadef_namespace_get_all(ctx, limit=-1)
    with pytest.raises(exc.MetadefNamespaceNotFound):
        db.metadef_namespace_get_all(ctx, marker=999999)
    hidden = make_ns(db, other_ctx, "hidden", visibility="private")
    with pytest.raises(exc.MetadefForbidden):
        db.metadef_namespace_get_all(ctx, marker=hidden["id"])


def test_get_all_statement_count_is_constant(db: Database, ctx: RequestContext) -> None:
    _dated(db, ctx, 2)
    with count_statements(db) as few:
        db.metadef_namespace_get_all(ctx, filters={"resource_types": "X,Y"})
    _dated_more = [make_ns(db, ctx, f"more-{i}") for i in range(10)]
    assert _dated_more
    with count_statements(db) as many:
        db.metadef_namespace_get_all(ctx, filters={"resource_types": "X,Y"})
    assert few.count == many.count == 1


@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    displays=st.lists(st.sampled_from(["a", "b", None]), min_size=1, max_size=6),
    limit=st.integers(min_value=1, max_value=4),
    direction=st.sampled_from(["asc", "desc"]),
)
def test_paging_visits_every_visible_namespace_once(
    session_db: Database, displays: list[str | None], limit: int, direction: str
) -> None:
    clear_tables(session_db)
    a = RequestContext(project_id="tenant-a")
    b = RequestContext(project_id="tenant-b")
    visible = set()
    for i, display in enumerate(displays):
        owner = a if i % 2 == 0 else b
        visibility = "private" if i % 3 == 1 else "public"
        make_ns(session_db, owner, f"n{i}", display_name=display, visibility=visibility)
        if owner is a or visibility == "public":
            visible.add(f"n{i}")
    seen: list[str] = []
    marker = None
    while True:
        page = session_db.metadef_namespace_get_all(
            a, marker=marker, limit=limit, sort_key="display_name", sort_dir=direction
        )
        assert len(page) <= limit
        if not page:
            break
        seen.extend(names(page))
        marker = page[-1]["id"]
    assert sorted(seen) == sorted(visible)
    assert len(seen) == len(set(seen))


# --- update ---------------------------------------------------------------------------------


def test_update_by_id(db: Database, ctx: RequestContext) -> None:
    ns = make_ns(db, ctx, "N", display_name="old", created_at=datetime.datetime(2020, 1, 1))
    updated = db.metadef_namespace_update(
        ctx,
        ns["id"],
        {
            "namespace": "N2",
            "display_name": "new",
            "protected": True,
            "created_at": datetime.datetime(1999, 1, 1),
            "id": 12345,
        },
    )
    assert updated["id"] == ns["id"]
    assert updated["namespace"] == "N2"
    assert updated["display_name"] == "new"
    assert updated["protected"] is True
    assert updated["created_at"] == datetime.datetime(2020, 1, 1)  # ignored on update
    assert updated["updated_at"] > ns["updated_at"]
    assert db.metadef_namespace_get(ctx, "N2") == updated
    with pytest.raises(exc.MetadefNamespaceNotFound):
        db.metadef_namespace_get(ctx, "N")


def test_update_rename_onto_existing_name(db: Database, ctx: RequestContext) -> None:
    make_ns(db, ctx, "taken")
    ns = make_ns(db, ctx, "mine")
    with pytest.raises(exc.MetadefDuplicateNamespace, match="taken"):
        db.metadef_namespace_update(ctx, ns["id"], {"namespace": "taken"})
    assert db.metadef_namespace_get(ctx, "mine")["id"] == ns["id"]
    # Keeping its own name is not a duplicate.
    same = db.metadef_namespace_update(ctx, ns["id"], {"namespace": "mine", "description": "x"})
    assert same["description"] == "x"


def test_update_errors(db: Database, ctx: RequestContext, other_ctx: RequestContext) -> None:
    with pytest.raises(exc.MetadefNamespaceNotFound, match="424242"):
        db.metadef_namespace_update(ctx, 424242, {"display_name": "x"})
    hidden = make_ns(db, other_ctx, "hidden", visibility="private")
    with pytest.raises(exc.MetadefForbidden):
        db.metadef_namespace_update(ctx, hidden["id"], {"display_name": "x"})
    with pytest.raises(exc.Invalid, match="4-byte"):
        db.metadef_namespace_update(other_ctx, hidden["id"], {"display_name": "\U0001f600"})
    with pytest.raises(exc.Invalid, match="display_name"):
        db.metadef_namespace_update(other_ctx, hidden["id"], {"display_name": "x" * 81})
    assert db.metadef_namespace_get(other_ctx, "hidden")["display_name"] is None


def test_visible_public_namespace_is_changeable_by_others(
    db: Database, ctx: RequestContext, other_ctx: RequestContext
) -> None:
    # Glance checks only visibility at this layer; its API layer checks policy.
    ns = make_ns(db, ctx, "shared-public", visibility="public")
    assert db.metadef_namespace_update(other_ctx, ns["id"], {"description": "b"})["description"]
    assert db.metadef_namespace_delete(other_ctx, "shared-public")["id"] == ns["id"]


# --- delete -----------------------------------------------------------------------------------


def test_delete_cascades_in_one_call(db: Database, ctx: RequestContext) -> None:
    ns = make_ns(db, ctx, "N")
    keep = make_ns(db, ctx, "Keep")
    for name in ("N", "Keep"):
        db.metadef_object_create(ctx, name, {"name": "o", "json_schema": {}})
        db.metadef_property_create(ctx, name, {"name": "p", "json_schema": {"type": "string"}})
        db.metadef_tag_create(ctx, name, {"name": "t"})
        db.metadef_resource_type_association_create(ctx, name, {"name": "OS::Glance::Image"})
    deleted = db.metadef_namespace_delete(ctx, "N")
    assert deleted == ns
    with pytest.raises(exc.MetadefNamespaceNotFound):
        db.metadef_namespace_get(ctx, "N")
    for table in (
        t.metadef_objects,
        t.metadef_properties,
        t.metadef_tags,
        t.metadef_namespace_resource_types,
    ):
        assert row_count(db, table) == 1  # only Keep's rows remain
    assert db.metadef_object_count(ctx, "Keep") == 1
    assert db.metadef_namespace_get(ctx, "Keep") == keep
    # The resource type itself stays.
    assert db.metadef_resource_type_get(ctx, "OS::Glance::Image")["name"] == "OS::Glance::Image"


def test_delete_errors(db: Database, ctx: RequestContext, other_ctx: RequestContext) -> None:
    with pytest.raises(exc.MetadefNamespaceNotFound):
        db.metadef_namespace_delete(ctx, "nope")
    make_ns(db, other_ctx, "hidden", visibility="private")
    db.metadef_tag_create(other_ctx, "hidden", {"name": "t"})
    with pytest.raises(exc.MetadefForbidden):
        db.metadef_namespace_delete(ctx, "hidden")
    assert db.metadef_tag_count(other_ctx, "hidden") == 1


def test_module_facade_has_the_namespace_functions() -> None:
    import inspect

    from glancedb import api

    signature = inspect.signature(api.metadef_namespace_get_all)
    assert list(signature.parameters) == [
        "context",
        "marker",
        "limit",
        "sort_key",
        "sort_dir",
        "filters",
    ]
    assert signature.parameters["sort_key"].default == "created_at"
    assert signature.parameters["sort_dir"].default == "desc"
    for name in ("get", "create", "update", "delete"):
        assert callable(getattr(api, f"metadef_namespace_{name}"))


def test_concurrent_creates_of_one_name_yield_one_namespace(db: Database) -> None:
    import threading

    barrier = threading.Barrier(4)
    outcomes: list[str] = []
    lock = threading.Lock()

    def create(i: int) -> None:
        ctx = RequestContext(project_id=f"tenant-{i}")
        barrier.wait()
        try:
            db.metadef_namespace_create(ctx, {"namespace": "Raced"})
            outcome = "created"
        except exc.MetadefDuplicateNamespace:
            outcome = "duplicate"
        except Exception as error:  # reported by the assertion below
            outcome = repr(error)
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=create, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["created", "duplicate", "duplicate", "duplicate"]
    assert row_count(db, t.metadef_namespaces) == 1


# --- hostile input (SPEC 12): the leaks the fuzz test found ---------------------------


def test_hostile_namespace_input(db: Database, ctx: RequestContext) -> None:
    ns = make_ns(db, ctx, "N", visibility="public")
    for name in ("nul\x00", "lone\ud800", 2**70):
        with pytest.raises(exc.MetadefNamespaceNotFound):
            db.metadef_namespace_get(ctx, name)  # type: ignore[arg-type]
        with pytest.raises(exc.MetadefNamespaceNotFound):
            db.metadef_namespace_delete(ctx, name)  # type: ignore[arg-type]
    for values in (
        {"namespace": "nul\x00"},
        {"namespace": ["N2"]},
        {"namespace": "N2", "created_at": "2024-01-01"},
        {"namespace": "N2", 7: "int key", "owner": {"a": 1}},
        ["namespace", "N2"],
    ):
        with pytest.raises(exc.Invalid):
            db.metadef_namespace_create(ctx, values)  # type: ignore[arg-type]
    with pytest.raises(exc.Invalid, match="namespace id"):
        db.metadef_namespace_update(ctx, [ns["id"]], {"display_name": "x"})
    with pytest.raises(exc.MetadefNamespaceNotFound):
        db.metadef_namespace_update(ctx, 2**70, {"display_name": "x"})
    with pytest.raises(exc.Invalid, match="namespace id"):
        db.metadef_namespace_get_all(ctx, marker={"id": 1})
    for filters, error in (
        ({"visibility": "x\x00"}, exc.InvalidParameterValue),
        ({"visibility": ["public"]}, exc.Invalid),
        ({"resource_types": 5}, exc.Invalid),
        ({"resource_types": [["OS::Glance::Image"]]}, exc.Invalid),
        ({"resource_types": ["nul\x00"]}, exc.InvalidParameterValue),
        (["visibility"], exc.Invalid),
    ):
        with pytest.raises(error):
            db.metadef_namespace_get_all(ctx, filters=filters)  # type: ignore[arg-type]
    assert db.metadef_namespace_get_all(ctx, filters={"resource_types": ["\U0001f600"]}) == []
    assert names(db.metadef_namespace_get_all(ctx)) == ["N"]
