"""Metadef resource types and their associations with namespaces."""

from __future__ import annotations

import datetime

import pytest
from sqlalchemy import func, select

from glancedb import Database, RequestContext
from glancedb import exception as exc
from glancedb.models import tables as t

ASSOCIATION_KEYS = {"name", "properties_target", "prefix", "created_at", "updated_at"}


def rows(db: Database, table: object) -> int:
    with db.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


@pytest.fixture
def ns(db: Database, ctx: RequestContext) -> str:
    db.metadef_namespace_create(ctx, {"namespace": "NS", "visibility": "private"})
    return "NS"


# --- resource types -------------------------------------------------------------------


def test_create_get_get_all(db: Database, ctx: RequestContext) -> None:
    image = db.metadef_resource_type_create(ctx, {"name": "OS::Glance::Image", "protected": True})
    flavor = db.metadef_resource_type_create(ctx, {"name": "OS::Nova::Flavor"})
    assert set(image) == {c.name for c in t.metadef_resource_types.c}
    assert image["protected"] is True
    assert flavor["protected"] is False  # the default
    assert isinstance(flavor["created_at"], datetime.datetime)
    assert db.metadef_resource_type_get(ctx, "OS::Nova::Flavor") == flavor
    assert db.metadef_resource_type_get_all(ctx) == [image, flavor]


def test_create_duplicate_and_bad_input(db: Database, ctx: RequestContext) -> None:
    db.metadef_resource_type_create(ctx, {"name": "RT"})
    with pytest.raises(exc.MetadefDuplicateResourceType, match="'RT'"):
        db.metadef_resource_type_create(ctx, {"name": "RT", "protected": True})
    with pytest.raises(exc.Invalid, match="name"):
        db.metadef_resource_type_create(ctx, {"name": "r" * 81})
    with pytest.raises(exc.Invalid, match="4-byte"):
        db.metadef_resource_type_create(ctx, {"name": "R\U0001f600"})
    with pytest.raises(exc.Invalid, match="name"):
        db.metadef_resource_type_create(ctx, {"protected": True})
    with pytest.raises(exc.Invalid, match="protected"):
        db.metadef_resource_type_create(ctx, {"name": "Other", "protected": "no"})
    assert rows(db, t.metadef_resource_types) == 1


def test_get_unknown(db: Database, ctx: RequestContext) -> None:
    with pytest.raises(exc.MetadefResourceTypeNotFound, match="'nope'"):
        db.metadef_resource_type_get(ctx, "nope")
    with pytest.raises(exc.MetadefResourceTypeNotFound, match="'nope'"):
        db.metadef_resource_type_delete(ctx, "nope")


def test_delete(db: Database, ctx: RequestContext) -> None:
    created = db.metadef_resource_type_create(ctx, {"name": "RT"})
    assert db.metadef_resource_type_delete(ctx, "RT") == created
    assert db.metadef_resource_type_get_all(ctx) == []


def test_delete_protected(db: Database, ctx: RequestContext) -> None:
    db.metadef_resource_type_create(ctx, {"name": "RT", "protected": True})
    with pytest.raises(exc.ProtectedMetadefResourceTypeSystemDelete, match="'RT'"):
        db.metadef_resource_type_delete(ctx, "RT")
    assert db.metadef_resource_type_get(ctx, "RT")["protected"] is True


def test_delete_still_associated(db: Database, ctx: RequestContext, ns: str) -> None:
    db.metadef_resource_type_association_create(ctx, ns, {"name": "RT"})
    with pytest.raises(exc.MetadefIntegrityError, match="'RT'"):
        db.metadef_resource_type_delete(ctx, "RT")
    assert isinstance(exc.MetadefIntegrityError("x"), exc.Forbidden)
    db.metadef_resource_type_association_delete(ctx, ns, "RT")
    assert db.metadef_resource_type_delete(ctx, "RT")["name"] == "RT"


# --- associations ---------------------------------------------------------------------------


def test_association_create_makes_a_missing_resource_type(
    db: Database, ctx: RequestContext, ns: str
) -> None:
    assoc = db.metadef_resource_type_association_create(
        ctx, ns, {"name": "OS::Glance::Image", "prefix": "hw_", "properties_target": "image"}
    )
    assert set(assoc) == ASSOCIATION_KEYS
    assert assoc["name"] == "OS::Glance::Image"
    assert assoc["prefix"] == "hw_"
    assert assoc["properties_target"] == "image"
    assert isinstance(assoc["created_at"], datetime.datetime)
    assert db.metadef_resource_type_get(ctx, "OS::Glance::Image")["protected"] is False


def test_association_create_uses_an_existing_resource_type(
    db: Database, ctx: RequestContext, ns: str
) -> None:
    existing = db.metadef_resource_type_create(ctx, {"name": "RT", "protected": True})
    db.metadef_resource_type_association_create(ctx, ns, {"name": "RT"})
    assert db.metadef_resource_type_get_all(ctx) == [existing]
    with db.engine.connect() as conn:
        link = conn.execute(select(t.metadef_namespace_resource_types)).one()
    assert link.resource_type_id == existing["id"]
    assert link.namespace_id == db.metadef_namespace_get(ctx, ns)["id"]


def test_association_duplicate(db: Database, ctx: RequestContext, ns: str) -> None:
    db.metadef_resource_type_association_create(ctx, ns, {"name": "RT", "prefix": "a"})
    with pytest.raises(exc.MetadefDuplicateResourceTypeAssociation, match="RT"):
        db.metadef_resource_type_association_create(ctx, ns, {"name": "RT", "prefix": "b"})
    assert db.metadef_resource_type_association_get(ctx, ns, "RT")["prefix"] == "a"


def test_association_bad_input(db: Database, ctx: RequestContext, ns: str) -> None:
    with pytest.raises(exc.Invalid, match="prefix"):
        db.metadef_resource_type_association_create(ctx, ns, {"name": "RT", "prefix": "p" * 81})
    with pytest.raises(exc.Invalid, match="4-byte"):
        db.metadef_resource_type_association_create(
            ctx, ns, {"name": "RT", "properties_target": "\U0001f600"}
        )
    with pytest.raises(exc.Invalid, match="name"):
        db.metadef_resource_type_association_create(ctx, ns, {"prefix": "x"})
    # Nothing was written, not even the resource type.
    assert rows(db, t.metadef_resource_types) == 0
    assert rows(db, t.metadef_namespace_resource_types) == 0


def test_association_get_and_delete(db: Database, ctx: RequestContext, ns: str) -> None:
    created = db.metadef_resource_type_association_create(
        ctx, ns, {"name": "RT", "prefix": "p_", "properties_target": "tgt"}
    )
    assert db.metadef_resource_type_association_get(ctx, ns, "RT") == created
    assert db.metadef_resource_type_association_delete(ctx, ns, "RT") == created
    with pytest.raises(exc.MetadefResourceTypeAssociationNotFound, match="RT"):
        db.metadef_resource_type_association_get(ctx, ns, "RT")
    with pytest.raises(exc.MetadefResourceTypeAssociationNotFound, match="RT"):
        db.metadef_resource_type_association_delete(ctx, ns, "RT")
    # The resource type remains.
    assert db.metadef_resource_type_get(ctx, "RT")["name"] == "RT"


def test_association_get_unknown_resource_type(db: Database, ctx: RequestContext, ns: str) -> None:
    with pytest.raises(exc.MetadefResourceTypeNotFound, match="nope"):
        db.metadef_resource_type_association_get(ctx, ns, "nope")
    with pytest.raises(exc.MetadefResourceTypeNotFound, match="nope"):
        db.metadef_resource_type_association_delete(ctx, ns, "nope")


def test_association_get_all_by_namespace(db: Database, ctx: RequestContext, ns: str) -> None:
    db.metadef_namespace_create(ctx, {"namespace": "Other"})
    db.metadef_resource_type_association_create(ctx, ns, {"name": "B", "prefix": "b_"})
    db.metadef_resource_type_association_create(ctx, ns, {"name": "A"})
    db.metadef_resource_type_association_create(ctx, "Other", {"name": "C"})
    listed = db.metadef_resource_type_association_get_all_by_namespace(ctx, ns)
    assert [a["name"] for a in listed] == ["A", "B"]
    assert all(set(a) == ASSOCIATION_KEYS for a in listed)
    assert listed[1]["prefix"] == "b_"
    assert [
        a["name"] for a in db.metadef_resource_type_association_get_all_by_namespace(ctx, "Other")
    ] == ["C"]


def test_association_namespace_checks(
    db: Database, ctx: RequestContext, other_ctx: RequestContext, ns: str
) -> None:
    db.metadef_resource_type_association_create(ctx, ns, {"name": "RT"})
    for call in (
        lambda c, n: db.metadef_resource_type_association_create(c, n, {"name": "X"}),
        lambda c, n: db.metadef_resource_type_association_get(c, n, "RT"),
        lambda c, n: db.metadef_resource_type_association_delete(c, n, "RT"),
        lambda c, n: db.metadef_resource_type_association_get_all_by_namespace(c, n),
    ):
        with pytest.raises(exc.MetadefNamespaceNotFound):
            call(ctx, "nope")
        with pytest.raises(exc.MetadefForbidden):
            call(other_ctx, ns)
    assert rows(db, t.metadef_namespace_resource_types) == 1
    assert rows(db, t.metadef_resource_types) == 1


def test_facade_has_resource_type_functions() -> None:
    from glancedb import api

    for name in (
        "metadef_resource_type_create",
        "metadef_resource_type_get",
        "metadef_resource_type_get_all",
        "metadef_resource_type_delete",
        "metadef_resource_type_association_create",
        "metadef_resource_type_association_get",
        "metadef_resource_type_association_delete",
        "metadef_resource_type_association_get_all_by_namespace",
    ):
        assert callable(getattr(api, name))


def test_concurrent_associations_create_one_resource_type(
    db: Database, ctx: RequestContext
) -> None:
    import threading

    for i in range(4):
        db.metadef_namespace_create(ctx, {"namespace": f"N{i}"})
    barrier = threading.Barrier(4)
    outcomes: list[str] = []
    lock = threading.Lock()

    def associate(i: int) -> None:
        barrier.wait()
        try:
            db.metadef_resource_type_association_create(ctx, f"N{i}", {"name": "New::Type"})
            outcome = "ok"
        except Exception as error:  # reported by the assertion below
            outcome = repr(error)
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=associate, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes == ["ok"] * 4
    assert rows(db, t.metadef_resource_types) == 1
    assert rows(db, t.metadef_namespace_resource_types) == 4


# --- hostile input (SPEC 12): the leaks the fuzz test found ---------------------------


def test_hostile_resource_type_input(db: Database, ctx: RequestContext, ns: str) -> None:
    db.metadef_resource_type_association_create(ctx, ns, {"name": "RT"})
    for name in ("nul\x00", "lone\ud800", 2**70):
        with pytest.raises(exc.MetadefResourceTypeNotFound):
            db.metadef_resource_type_get(ctx, name)  # type: ignore[arg-type]
        with pytest.raises(exc.MetadefResourceTypeNotFound):
            db.metadef_resource_type_delete(ctx, name)  # type: ignore[arg-type]
        with pytest.raises(exc.MetadefResourceTypeNotFound):
            db.metadef_resource_type_association_get(ctx, ns, name)  # type: ignore[arg-type]
    with pytest.raises(exc.Invalid, match="resource type name"):
        db.metadef_resource_type_get(ctx, ["RT"])  # type: ignore[arg-type]
    for values in (
        {"name": "nul\x00"},
        {"name": ["RT2"]},
        {"name": "RT2", "protected": ["yes"]},
        ["name", "RT2"],
    ):
        with pytest.raises(exc.Invalid):
            db.metadef_resource_type_create(ctx, values)  # type: ignore[arg-type]
    for values in (
        {"name": "nul\x00"},
        {"name": ["RT2"]},
        {"name": "RT2", "prefix": ["x"]},
        ["name", "RT2"],
    ):
        with pytest.raises(exc.Invalid):
            db.metadef_resource_type_association_create(ctx, ns, values)  # type: ignore[arg-type]
    assert rows(db, t.metadef_resource_types) == 1
    assert rows(db, t.metadef_namespace_resource_types) == 1
