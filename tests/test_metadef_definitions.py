"""Metadef objects, properties and tags: the shared API shape, JSON columns, tag bulk calls."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from glancedb import Database, RequestContext
from glancedb import exception as exc
from glancedb.models import tables as t
from tests.support.backends import clear_tables, count_statements

KINDS = {
    "object": (t.metadef_objects, exc.MetadefDuplicateObject, exc.MetadefObjectNotFound),
    "property": (t.metadef_properties, exc.MetadefDuplicateProperty, exc.MetadefPropertyNotFound),
    "tag": (t.metadef_tags, exc.MetadefDuplicateTag, exc.MetadefTagNotFound),
}


def api(db: Database, kind: str, op: str) -> Callable[..., Any]:
    return getattr(db, f"metadef_{kind}_{op}")  # type: ignore[no-any-return]


def values_for(kind: str, name: str) -> dict[str, Any]:
    if kind == "object":
        return {"name": name, "description": "d", "required": "a,b", "json_schema": {"a": {}}}
    if kind == "property":
        return {"name": name, "json_schema": {"type": "string", "title": name}}
    return {"name": name}


def rows(db: Database, table: Any) -> int:
    with db.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


@pytest.fixture
def ns(db: Database, ctx: RequestContext) -> str:
    db.metadef_namespace_create(ctx, {"namespace": "NS", "visibility": "private"})
    return "NS"


@pytest.fixture(params=sorted(KINDS))
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


# --- the shared shape -------------------------------------------------------------------


def test_create_get_roundtrip(db: Database, ctx: RequestContext, ns: str, kind: str) -> None:
    table = KINDS[kind][0]
    created = api(db, kind, "create")(ctx, ns, values_for(kind, "one"))
    assert set(created) == {c.name for c in table.c}
    assert created["name"] == "one"
    assert created["namespace_id"] == db.metadef_namespace_get(ctx, ns)["id"]
    assert isinstance(created["created_at"], datetime.datetime)
    for key, value in values_for(kind, "one").items():
        assert created[key] == value
    assert api(db, kind, "get")(ctx, ns, "one") == created
    assert created.name == "one"  # attribute access


def test_namespace_id_in_values_is_replaced(
    db: Database, ctx: RequestContext, ns: str, kind: str
) -> None:
    other = db.metadef_namespace_create(ctx, {"namespace": "Other"})
    values = values_for(kind, "x") | {"namespace_id": other["id"]}
    created = api(db, kind, "create")(ctx, ns, values)
    assert created["namespace_id"] == db.metadef_namespace_get(ctx, ns)["id"]
    assert api(db, kind, "count")(ctx, "Other") == 0


def test_duplicate_name_in_namespace(db: Database, ctx: RequestContext, ns: str, kind: str) -> None:
    _, duplicate, _ = KINDS[kind]
    api(db, kind, "create")(ctx, ns, values_for(kind, "one"))
    with pytest.raises(duplicate, match="'one'"):
        api(db, kind, "create")(ctx, ns, values_for(kind, "one"))
    # The same name in another namespace is fine.
    db.metadef_namespace_create(ctx, {"namespace": "Other"})
    api(db, kind, "create")(ctx, "Other", values_for(kind, "one"))
    assert rows(db, KINDS[kind][0]) == 2


def test_get_all_count_in_creation_order(
    db: Database, ctx: RequestContext, ns: str, kind: str
) -> None:
    for name in ("c", "a", "b"):
        api(db, kind, "create")(ctx, ns, values_for(kind, name))
    if kind == "tag":
        listed = db.metadef_tag_get_all(ctx, ns, sort_key="id", sort_dir="asc")
    else:
        listed = api(db, kind, "get_all")(ctx, ns)
    assert [r["name"] for r in listed] == ["c", "a", "b"]
    assert api(db, kind, "count")(ctx, ns) == 3


def test_update_by_id(db: Database, ctx: RequestContext, ns: str, kind: str) -> None:
    created = api(db, kind, "create")(ctx, ns, values_for(kind, "old"))
    changes: dict[str, Any] = {"name": "new", "created_at": datetime.datetime(1999, 1, 1)}
    if kind == "object":
        changes |= {"description": "changed", "required": "b,c", "json_schema": "raw"}
    elif kind == "property":
        changes["json_schema"] = ["any", "json"]
    updated = api(db, kind, "update")(ctx, ns, created["id"], changes)
    assert updated["id"] == created["id"]
    assert updated["name"] == "new"
    assert updated["created_at"] == created["created_at"]
    assert updated["updated_at"] > created["updated_at"]
    for key, value in changes.items():
        if key != "created_at":
            assert updated[key] == value
    assert api(db, kind, "get")(ctx, ns, "new") == updated
    _, _, not_found = KINDS[kind]
    with pytest.raises(not_found):
        api(db, kind, "get")(ctx, ns, "old")


def test_update_errors(db: Database, ctx: RequestContext, ns: str, kind: str) -> None:
    _, duplicate, not_found = KINDS[kind]
    api(db, kind, "create")(ctx, ns, values_for(kind, "taken"))
    mine = api(db, kind, "create")(ctx, ns, values_for(kind, "mine"))
    with pytest.raises(duplicate, match="taken"):
        api(db, kind, "update")(ctx, ns, mine["id"], {"name": "taken"})
    with pytest.raises(not_found, match="987654"):
        api(db, kind, "update")(ctx, ns, 987654, {"name": "x"})
    # An id of another namespace is not found through this one.
    db.metadef_namespace_create(ctx, {"namespace": "Other"})
    elsewhere = api(db, kind, "create")(ctx, "Other", values_for(kind, "e"))
    with pytest.raises(not_found):
        api(db, kind, "update")(ctx, ns, elsewhere["id"], {"name": "moved"})
    with pytest.raises(exc.Invalid, match="name"):
        api(db, kind, "update")(ctx, ns, mine["id"], {"name": "n" * 81})
    with pytest.raises(exc.Invalid, match="4-byte"):
        api(db, kind, "update")(ctx, ns, mine["id"], {"name": "\U0001f600"})
    assert api(db, kind, "get")(ctx, ns, "mine") == mine
    assert api(db, kind, "get")(ctx, "Other", "e") == elsewhere


def test_delete_returns_the_record(db: Database, ctx: RequestContext, ns: str, kind: str) -> None:
    _, _, not_found = KINDS[kind]
    created = api(db, kind, "create")(ctx, ns, values_for(kind, "gone"))
    api(db, kind, "create")(ctx, ns, values_for(kind, "stays"))
    assert api(db, kind, "delete")(ctx, ns, "gone") == created
    with pytest.raises(not_found, match="gone"):
        api(db, kind, "get")(ctx, ns, "gone")
    with pytest.raises(not_found, match="gone"):
        api(db, kind, "delete")(ctx, ns, "gone")
    assert api(db, kind, "count")(ctx, ns) == 1


def test_delete_namespace_content(db: Database, ctx: RequestContext, ns: str, kind: str) -> None:
    db.metadef_namespace_create(ctx, {"namespace": "Other"})
    for name in ("a", "b", "c"):
        api(db, kind, "create")(ctx, ns, values_for(kind, name))
    api(db, kind, "create")(ctx, "Other", values_for(kind, "a"))
    assert api(db, kind, "delete_namespace_content")(ctx, ns) == 3
    assert api(db, kind, "count")(ctx, ns) == 0
    assert api(db, kind, "count")(ctx, "Other") == 1
    assert api(db, kind, "delete_namespace_content")(ctx, ns) == 0


def test_unknown_namespace_and_name(db: Database, ctx: RequestContext, ns: str, kind: str) -> None:
    _, _, not_found = KINDS[kind]
    with pytest.raises(not_found, match="missing"):
        api(db, kind, "get")(ctx, ns, "missing")
    calls: list[Callable[[], Any]] = [
        lambda: api(db, kind, "create")(ctx, "nope", values_for(kind, "x")),
        lambda: api(db, kind, "get")(ctx, "nope", "x"),
        lambda: api(db, kind, "update")(ctx, "nope", 1, {"name": "y"}),
        lambda: api(db, kind, "delete")(ctx, "nope", "x"),
        lambda: api(db, kind, "delete_namespace_content")(ctx, "nope"),
        lambda: api(db, kind, "count")(ctx, "nope"),
        lambda: (
            db.metadef_tag_get_all(ctx, "nope")
            if kind == "tag"
            else api(db, kind, "get_all")(ctx, "nope")
        ),
    ]
    for call in calls:
        with pytest.raises(exc.MetadefNamespaceNotFound, match="nope"):
            call()


def test_private_namespace_of_another_owner_is_forbidden(
    db: Database, ctx: RequestContext, other_ctx: RequestContext, ns: str, kind: str
) -> None:
    created = api(db, kind, "create")(ctx, ns, values_for(kind, "x"))
    calls: list[Callable[[], Any]] = [
        lambda: api(db, kind, "create")(other_ctx, ns, values_for(kind, "y")),
        lambda: api(db, kind, "get")(other_ctx, ns, "x"),
        lambda: api(db, kind, "update")(other_ctx, ns, created["id"], {"name": "z"}),
        lambda: api(db, kind, "delete")(other_ctx, ns, "x"),
        lambda: api(db, kind, "delete_namespace_content")(other_ctx, ns),
        lambda: api(db, kind, "count")(other_ctx, ns),
        lambda: (
            db.metadef_tag_get_all(other_ctx, ns)
            if kind == "tag"
            else api(db, kind, "get_all")(other_ctx, ns)
        ),
    ]
    for call in calls:
        with pytest.raises(exc.MetadefForbidden):
            call()
    assert api(db, kind, "get")(ctx, ns, "x") == created
    admin = RequestContext(is_admin=True)
    assert api(db, kind, "get")(admin, ns, "x") == created


@pytest.mark.parametrize(
    ("field", "value", "match"),
    [
        ("name", "n" * 81, "name"),
        ("name", "", "name"),
        ("name", None, "name"),
        ("name", "x\U0001f600", "4-byte"),
    ],
)
def test_create_rejects_bad_input(
    db: Database, ctx: RequestContext, ns: str, kind: str, field: str, value: Any, match: str
) -> None:
    values = values_for(kind, "ok") | {field: value}
    with pytest.raises(exc.Invalid, match=match):
        api(db, kind, "create")(ctx, ns, values)
    assert rows(db, KINDS[kind][0]) == 0


# --- JSON columns -------------------------------------------------------------------------

JSON_VALUES = [
    {"type": "string", "enum": ["a", "b"]},
    "{fake-schema}",
    "plain string",
    ["a", 1, None],
    42,
    {"nested": {"deep": [1.5, True, None, "ü"]}},
]


@pytest.mark.parametrize("value", JSON_VALUES, ids=repr)
def test_json_schema_round_trips(db: Database, ctx: RequestContext, ns: str, value: Any) -> None:
    prop = db.metadef_property_create(ctx, ns, {"name": "p", "json_schema": value})
    obj = db.metadef_object_create(ctx, ns, {"name": "o", "json_schema": value})
    assert prop["json_schema"] == value
    assert obj["json_schema"] == value
    assert db.metadef_property_get(ctx, ns, "p")["json_schema"] == value
    assert db.metadef_object_get_all(ctx, ns)[0]["json_schema"] == value


def test_json_schema_is_stored_as_json_text(db: Database, ctx: RequestContext, ns: str) -> None:
    db.metadef_object_create(
        ctx, ns, {"name": "o", "json_schema": {"k": "v"}, "required": ["k", "l"]}
    )
    with db.engine.connect() as conn:
        row = conn.execute(select(t.metadef_objects)).one()
    assert row.json_schema == '{"k": "v"}'
    # ``required`` is not a JSON column: Glance's layout, comma-joined.
    assert row.required == "k,l"
    assert db.metadef_object_get(ctx, ns, "o")["required"] == "k,l"


def test_json_schema_defaults_and_none(db: Database, ctx: RequestContext, ns: str) -> None:
    assert db.metadef_object_create(ctx, ns, {"name": "o"})["json_schema"] == {}
    assert db.metadef_object_get(ctx, ns, "o")["required"] is None
    assert db.metadef_property_create(ctx, ns, {"name": "p"})["json_schema"] == {}
    # Refused as such, before the database's NOT NULL, on create and update alike.
    with pytest.raises(exc.Invalid, match="property json_schema cannot be None"):
        db.metadef_property_create(ctx, ns, {"name": "q", "json_schema": None})
    prop_id = db.metadef_property_get(ctx, ns, "p")["id"]
    with pytest.raises(exc.Invalid, match="property json_schema cannot be None"):
        db.metadef_property_update(ctx, ns, prop_id, {"json_schema": None})
    object_id = db.metadef_object_get(ctx, ns, "o")["id"]
    with pytest.raises(exc.Invalid, match="object json_schema cannot be None"):
        db.metadef_object_update(ctx, ns, object_id, {"json_schema": None})
    with pytest.raises(exc.Invalid, match="JSON"):
        db.metadef_property_create(ctx, ns, {"name": "q", "json_schema": {1, 2}})
    with pytest.raises(exc.Invalid, match="4-byte"):
        db.metadef_property_create(ctx, ns, {"name": "q", "json_schema": {"t": "\U0001f600"}})
    with pytest.raises(exc.Invalid, match="4-byte"):
        db.metadef_object_create(ctx, ns, {"name": "q", "required": ["\U0001f600"]})
    assert db.metadef_property_count(ctx, ns) == 1


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    value=st.recursive(
        st.none()
        | st.booleans()
        | st.integers(min_value=-(2**53), max_value=2**53)
        | st.text(
            # Storable text: no surrogates, no NUL (SPEC 12, also inside JSON).
            st.characters(
                max_codepoint=0xFFFF, exclude_categories=["Cs"], exclude_characters="\x00"
            ),
            max_size=20,
        ),
        lambda inner: (
            st.lists(inner, max_size=3)
            | st.dictionaries(st.text(max_size=5, alphabet="abcxyz"), inner, max_size=3)
        ),
        max_leaves=8,
    ).filter(lambda v: v is not None)
)
def test_any_json_value_round_trips(session_db: Database, value: Any) -> None:
    clear_tables(session_db)
    ctx = RequestContext(project_id="tenant-a")
    session_db.metadef_namespace_create(ctx, {"namespace": "H"})
    session_db.metadef_property_create(ctx, "H", {"name": "p", "json_schema": value})
    assert session_db.metadef_property_get(ctx, "H", "p")["json_schema"] == value


# --- tags: listing and bulk creation --------------------------------------------------------


def _tags(db: Database, ctx: RequestContext, ns: str, names: list[str]) -> list[dict[str, Any]]:
    base = datetime.datetime(2021, 5, 1)
    return [
        db.metadef_tag_create(
            ctx, ns, {"name": n, "created_at": base + datetime.timedelta(seconds=i)}
        )
        for i, n in enumerate(names)
    ]


def test_tag_get_all_sorting_and_paging(db: Database, ctx: RequestContext, ns: str) -> None:
    created = _tags(db, ctx, ns, ["t1", "t2", "t3", "t4", "t5"])
    assert [r["name"] for r in db.metadef_tag_get_all(ctx, ns)] == ["t5", "t4", "t3", "t2", "t1"]
    by_name = db.metadef_tag_get_all(ctx, ns, sort_key="name", sort_dir="asc")
    assert [r["name"] for r in by_name] == ["t1", "t2", "t3", "t4", "t5"]
    page = db.metadef_tag_get_all(ctx, ns, limit=2, sort_dir="asc")
    assert [r["name"] for r in page] == ["t1", "t2"]
    page = db.metadef_tag_get_all(ctx, ns, marker=page[-1]["id"], limit=2, sort_dir="asc")
    assert [r["name"] for r in page] == ["t3", "t4"]
    page = db.metadef_tag_get_all(ctx, ns, marker=created[-1]["id"], sort_dir="asc")
    assert page == []
    assert db.metadef_tag_get_all(ctx, ns, limit=0) == []


def test_tag_get_all_filters(db: Database, ctx: RequestContext, ns: str) -> None:
    _tags(db, ctx, ns, ["a", "b"])
    found = db.metadef_tag_get_all(ctx, ns, filters={"name": "b", "namespace": ns})
    assert [r["name"] for r in found] == ["b"]
    # Unknown filter keys are ignored, and values are data, never SQL.
    assert len(db.metadef_tag_get_all(ctx, ns, filters={"bogus": "x"})) == 2
    assert db.metadef_tag_get_all(ctx, ns, filters={"name": "a' OR '1'='1"}) == []


def test_tag_get_all_errors(db: Database, ctx: RequestContext, ns: str) -> None:
    _tags(db, ctx, ns, ["a"])
    with pytest.raises(exc.InvalidSortKey):
        db.metadef_tag_get_all(ctx, ns, sort_key="nope")
    with pytest.raises(exc.InvalidSortDir):
        db.metadef_tag_get_all(ctx, ns, sort_dir="sideways")
    with pytest.raises(exc.Invalid):
        db.metadef_tag_get_all(ctx, ns, limit=-3)
    with pytest.raises(exc.MetadefTagNotFound):
        db.metadef_tag_get_all(ctx, ns, marker=999999)
    # A marker from another namespace is not found here.
    db.metadef_namespace_create(ctx, {"namespace": "Other"})
    foreign = db.metadef_tag_create(ctx, "Other", {"name": "f"})
    with pytest.raises(exc.MetadefTagNotFound):
        db.metadef_tag_get_all(ctx, ns, marker=foreign["id"])


def test_create_tags_replaces_existing(db: Database, ctx: RequestContext, ns: str) -> None:
    _tags(db, ctx, ns, ["old1", "old2"])
    created = db.metadef_tag_create_tags(ctx, ns, [{"name": "x"}, {"name": "y"}, {"name": "old1"}])
    assert [r["name"] for r in created] == ["x", "y", "old1"]
    assert all(set(r) == {c.name for c in t.metadef_tags.c} for r in created)
    listed = db.metadef_tag_get_all(ctx, ns, sort_key="name", sort_dir="asc")
    assert [r["name"] for r in listed] == ["old1", "x", "y"]


def test_create_tags_replaces_only_its_own_namespace_tags(
    db: Database, ctx: RequestContext, ns: str
) -> None:
    db.metadef_namespace_create(ctx, {"namespace": "Neighbour"})
    neighbours = _tags(db, ctx, "Neighbour", ["old1", "kept"])
    _tags(db, ctx, ns, ["old1"])
    db.metadef_tag_create_tags(ctx, ns, [{"name": "x"}])
    listed = db.metadef_tag_get_all(ctx, "Neighbour", sort_key="created_at", sort_dir="asc")
    assert listed == neighbours


def test_create_tags_append(db: Database, ctx: RequestContext, ns: str) -> None:
    _tags(db, ctx, ns, ["old"])
    created = db.metadef_tag_create_tags(ctx, ns, [{"name": "new"}], can_append=True)
    assert [r["name"] for r in created] == ["new"]
    assert db.metadef_tag_count(ctx, ns) == 2


def test_create_tags_empty_list_changes_nothing(db: Database, ctx: RequestContext, ns: str) -> None:
    _tags(db, ctx, ns, ["old"])
    assert db.metadef_tag_create_tags(ctx, ns, []) == []
    assert db.metadef_tag_count(ctx, ns) == 1


@pytest.mark.parametrize("can_append", [False, True])
def test_create_tags_duplicates_change_nothing(
    db: Database, ctx: RequestContext, ns: str, can_append: bool
) -> None:
    before = _tags(db, ctx, ns, ["old"])
    with pytest.raises(exc.MetadefDuplicateTag, match="'x'"):
        db.metadef_tag_create_tags(ctx, ns, [{"name": "x"}, {"name": "x"}], can_append=can_append)
    assert db.metadef_tag_get_all(ctx, ns) == before
    if can_append:
        with pytest.raises(exc.MetadefDuplicateTag, match="'old'"):
            db.metadef_tag_create_tags(ctx, ns, [{"name": "n"}, {"name": "old"}], can_append=True)
        assert db.metadef_tag_get_all(ctx, ns) == before


def test_create_tags_bad_input_changes_nothing(db: Database, ctx: RequestContext, ns: str) -> None:
    before = _tags(db, ctx, ns, ["old"])
    with pytest.raises(exc.Invalid, match="4-byte"):
        db.metadef_tag_create_tags(ctx, ns, [{"name": "ok"}, {"name": "\U0001f600"}])
    with pytest.raises(exc.Invalid, match="name"):
        db.metadef_tag_create_tags(ctx, ns, [{"name": "ok"}, {"name": "x" * 81}])
    assert db.metadef_tag_get_all(ctx, ns) == before


def test_create_tags_namespace_checks(
    db: Database, ctx: RequestContext, other_ctx: RequestContext, ns: str
) -> None:
    with pytest.raises(exc.MetadefNamespaceNotFound):
        db.metadef_tag_create_tags(ctx, "nope", [{"name": "x"}])
    with pytest.raises(exc.MetadefForbidden):
        db.metadef_tag_create_tags(other_ctx, ns, [{"name": "x"}])


def test_create_tags_is_set_based(db: Database, ctx: RequestContext, ns: str) -> None:
    with count_statements(db) as few:
        db.metadef_tag_create_tags(ctx, ns, [{"name": f"a{i}"} for i in range(2)])
    with count_statements(db) as many:
        db.metadef_tag_create_tags(ctx, ns, [{"name": f"b{i}"} for i in range(40)])
    assert many.count == few.count
    assert db.metadef_tag_count(ctx, ns) == 40


def test_facade_signatures() -> None:
    import inspect

    from glancedb import api as facade

    tag_get_all = inspect.signature(facade.metadef_tag_get_all)
    assert list(tag_get_all.parameters) == [
        "context",
        "namespace_name",
        "filters",
        "marker",
        "limit",
        "sort_key",
        "sort_dir",
    ]
    assert tag_get_all.parameters["sort_key"].default == "created_at"
    create_tags = inspect.signature(facade.metadef_tag_create_tags)
    assert create_tags.parameters["can_append"].default is False
    for kind in ("object", "property", "tag"):
        for op in ("create", "get", "update", "delete", "delete_namespace_content", "count"):
            assert callable(getattr(facade, f"metadef_{kind}_{op}"))
    assert callable(facade.metadef_object_get_all)
    assert callable(facade.metadef_property_get_all)


GLANCE_SIGNATURES = {
    "metadef_namespace_get_all": "context marker limit sort_key sort_dir filters",
    "metadef_namespace_get": "context namespace_name",
    "metadef_namespace_create": "context values",
    "metadef_namespace_update": "context namespace_id namespace_dict",
    "metadef_namespace_delete": "context namespace_name",
    "metadef_object_get_all": "context namespace_name",
    "metadef_object_get": "context namespace_name object_name",
    "metadef_object_create": "context namespace_name object_dict",
    "metadef_object_update": "context namespace_name object_id object_dict",
    "metadef_object_delete": "context namespace_name object_name",
    "metadef_object_delete_namespace_content": "context namespace_name",
    "metadef_object_count": "context namespace_name",
    "metadef_property_get_all": "context namespace_name",
    "metadef_property_get": "context namespace_name property_name",
    "metadef_property_create": "context namespace_name property_dict",
    "metadef_property_update": "context namespace_name property_id property_dict",
    "metadef_property_delete": "context namespace_name property_name",
    "metadef_property_delete_namespace_content": "context namespace_name",
    "metadef_property_count": "context namespace_name",
    "metadef_tag_get_all": "context namespace_name filters marker limit sort_key sort_dir",
    "metadef_tag_get": "context namespace_name name",
    "metadef_tag_create": "context namespace_name tag_dict",
    "metadef_tag_create_tags": "context namespace_name tag_list can_append",
    "metadef_tag_update": "context namespace_name id tag_dict",
    "metadef_tag_delete": "context namespace_name name",
    "metadef_tag_delete_namespace_content": "context namespace_name",
    "metadef_tag_count": "context namespace_name",
    "metadef_resource_type_create": "context values",
    "metadef_resource_type_get": "context resource_type_name",
    "metadef_resource_type_get_all": "context",
    "metadef_resource_type_delete": "context resource_type_name",
    "metadef_resource_type_association_get": "context namespace_name resource_type_name",
    "metadef_resource_type_association_create": "context namespace_name values",
    "metadef_resource_type_association_delete": "context namespace_name resource_type_name",
    "metadef_resource_type_association_get_all_by_namespace": "context namespace_name",
}


@pytest.mark.parametrize("name", sorted(GLANCE_SIGNATURES))
def test_facade_parameters_are_glances(name: str) -> None:
    import inspect

    from glancedb import api as facade

    parameters = list(inspect.signature(getattr(facade, name)).parameters)
    assert parameters == GLANCE_SIGNATURES[name].split()


def test_rows_written_by_glance_are_readable(db: Database, ctx: RequestContext, ns: str) -> None:
    # Glance's upper layer stores ``required`` comma-joined, not as JSON.
    namespace_id = db.metadef_namespace_get(ctx, ns)["id"]
    now = datetime.datetime(2024, 1, 1)
    with db.engine.begin() as conn:
        conn.execute(
            t.metadef_objects.insert().values(
                namespace_id=namespace_id,
                name="glance-object",
                required="a,b",
                json_schema='{"a": {"type": "string"}}',
                created_at=now,
                updated_at=now,
            )
        )
    obj = db.metadef_object_get(ctx, ns, "glance-object")
    assert obj["required"] == "a,b"
    assert obj["json_schema"] == {"a": {"type": "string"}}
    # And what such a caller sends comes back unchanged.
    created = db.metadef_object_create(ctx, ns, {"name": "o2", "required": "x,y"})
    assert db.metadef_object_get(ctx, ns, "o2")["required"] == created["required"] == "x,y"


def test_four_byte_names_are_not_found_on_every_backend(
    db: Database, ctx: RequestContext, ns: str
) -> None:
    # MySQL's utf8 columns cannot even compare such strings: never query them.
    emoji = "\U0001f600"
    not_found: list[tuple[type[Exception], Callable[[], Any]]] = [
        (exc.MetadefNamespaceNotFound, lambda: db.metadef_namespace_get(ctx, emoji)),
        (exc.MetadefNamespaceNotFound, lambda: db.metadef_namespace_delete(ctx, emoji)),
        (exc.MetadefObjectNotFound, lambda: db.metadef_object_get(ctx, ns, emoji)),
        (exc.MetadefPropertyNotFound, lambda: db.metadef_property_delete(ctx, ns, emoji)),
        (exc.MetadefTagNotFound, lambda: db.metadef_tag_get(ctx, ns, emoji)),
        (exc.MetadefResourceTypeNotFound, lambda: db.metadef_resource_type_get(ctx, emoji)),
        (
            exc.MetadefResourceTypeNotFound,
            lambda: db.metadef_resource_type_association_get(ctx, ns, emoji),
        ),
    ]
    for error, call in not_found:
        with pytest.raises(error):
            call()
    db.metadef_tag_create(ctx, ns, {"name": "plain"})
    assert db.metadef_tag_get_all(ctx, ns, filters={"name": emoji}) == []
    assert db.metadef_namespace_get_all(ctx, filters={"visibility": emoji}) == []
    assert db.metadef_namespace_get_all(ctx, filters={"resource_types": emoji}) == []


# --- hostile input (SPEC 12): the leaks the fuzz test found ---------------------------


@pytest.mark.parametrize("name", ["nul\x00", "lone\ud800", 2**70], ids=["nul", "lone", "int"])
def test_names_no_row_can_hold_are_not_found(
    db: Database, ctx: RequestContext, ns: str, kind: str, name: Any
) -> None:
    not_found = KINDS[kind][2]
    api(db, kind, "create")(ctx, ns, values_for(kind, "one"))
    with pytest.raises(not_found):
        api(db, kind, "get")(ctx, ns, name)
    with pytest.raises(not_found):
        api(db, kind, "delete")(ctx, ns, name)
    with pytest.raises(exc.MetadefNamespaceNotFound):
        api(db, kind, "get")(ctx, name, "one")
    with pytest.raises(exc.MetadefNamespaceNotFound):
        api(db, kind, "count")(ctx, name)
    with pytest.raises(exc.Invalid, match="name"):
        api(db, kind, "get")(ctx, ns, ["one"])
    with pytest.raises(exc.Invalid, match="id"):
        api(db, kind, "update")(ctx, ns, {"id": 1}, {"name": "two"})
    with pytest.raises(not_found):
        api(db, kind, "update")(ctx, ns, 2**70, {"name": "two"})
    assert rows(db, KINDS[kind][0]) == 1


def test_hostile_definition_values_are_invalid(
    db: Database, ctx: RequestContext, ns: str, kind: str
) -> None:
    table = KINDS[kind][0]
    for values in (
        {"name": "nul\x00"},
        {"name": ["one"]},
        {"name": "one", ("tuple", "key"): 1, "description": b"bytes"},
        ["name", "one"],
    ):
        if kind != "object" and "description" in values:
            continue  # only objects have a description: the odd keys alone are ignored
        with pytest.raises(exc.Invalid):
            api(db, kind, "create")(ctx, ns, values)
    assert rows(db, table) == 0


def test_hostile_tag_listing_and_bulk_arguments(db: Database, ctx: RequestContext, ns: str) -> None:
    db.metadef_tag_create(ctx, ns, {"name": "one"})
    assert db.metadef_tag_get_all(ctx, ns, filters={"name": "\U0001f600"}) == []
    assert db.metadef_tag_get_all(ctx, ns, filters={"id": 2**40}) == []
    assert [t["name"] for t in db.metadef_tag_get_all(ctx, ns, filters={"name": "one"})] == ["one"]
    for filters, error in (
        ({"name": "nul\x00"}, exc.InvalidParameterValue),
        ({"name": ["one"]}, exc.Invalid),
        ({"id": 2**70}, exc.Invalid),
        ({"created_at": "2024-01-01"}, exc.Invalid),
        (["name"], exc.Invalid),
    ):
        with pytest.raises(error):
            db.metadef_tag_get_all(ctx, ns, filters=filters)  # type: ignore[arg-type]
    with pytest.raises(exc.Invalid, match="marker"):
        db.metadef_tag_get_all(ctx, ns, marker=[1])
    with pytest.raises(exc.Invalid, match="limit"):
        db.metadef_tag_get_all(ctx, ns, limit=2**64)
    with pytest.raises(exc.Invalid, match="tag_list"):
        db.metadef_tag_create_tags(ctx, ns, 5)  # type: ignore[arg-type]
    with pytest.raises(exc.Invalid):
        db.metadef_tag_create_tags(ctx, ns, [{"name": "two"}, ["three"]])  # type: ignore[list-item]
    assert [t["name"] for t in db.metadef_tag_get_all(ctx, ns)] == ["one"]


def test_json_beyond_mysql_text_is_invalid(db: Database, ctx: RequestContext, ns: str) -> None:
    with pytest.raises(exc.Invalid, match="65535 bytes"):
        db.metadef_property_create(ctx, ns, {"name": "p", "json_schema": {"d": "x" * 65535}})
    with pytest.raises(exc.Invalid, match="65535 bytes"):
        db.metadef_object_create(ctx, ns, {"name": "o", "description": "x" * 65536})
    assert rows(db, t.metadef_properties) == rows(db, t.metadef_objects) == 0
