"""Caller lists longer than any backend's parameter limit (SPEC 12: the same
answer everywhere).

psycopg sends at most 65,535 parameters with a statement, and SQLAlchemy's
``IN`` binds one per item: a longer list of tags, property names, metadef
tags or resource types was refused on PostgreSQL alone.  Such a list is one
array parameter there (:func:`glancedb.rows.in_list`).
"""

from __future__ import annotations

import pytest
from sqlalchemy import String, literal, select

from glancedb import Database, RequestContext
from glancedb.rows import in_list
from tests.support.factories import insert_image

#: Beyond psycopg's 65,535 parameters.
LONG = 66_000


@pytest.mark.parametrize(
    ("values", "found"),
    [
        ([], False),
        (["a"], True),
        (["b"], False),
        (["b", "a"], True),
        ([f"x{i}" for i in range(LONG)], False),
    ],
)
def test_in_list_answers_alike_on_every_backend(
    db: Database, values: list[str], found: bool
) -> None:
    """``IN`` and ``NOT IN`` of ``'a'``, the empty list included, whether the
    list is expanded or sent as one array."""
    dialect = db.engine.dialect.name
    with db.engine.connect() as conn:
        for negate in (False, True):
            condition = in_list(literal("a", String(10)), dialect, values=values, negate=negate)
            rows = conn.execute(select(literal(1)).where(condition)).all()
            assert bool(rows) is (found is not negate), (values[:3], negate)


def test_tag_set_all_replaces_a_long_list_by_another(
    db: Database, admin_ctx: RequestContext
) -> None:
    image_id = insert_image(db)
    first = [f"first-{i}" for i in range(LONG)]
    db.image_tag_set_all(admin_ctx, image_id, first)
    db.image_tag_set_all(admin_ctx, image_id, [*first[:10], "second"])
    assert db.image_tag_get_all(admin_ctx, image_id) == [*first[:10], "second"]


def test_update_purging_all_but_a_long_list_of_properties(
    db: Database, admin_ctx: RequestContext
) -> None:
    image_id = insert_image(db, properties={"old": "x"})
    kept = {f"p{i}": "v" for i in range(LONG)}
    image = db.image_update(admin_ctx, image_id, {"properties": kept}, purge_props=True)
    live = {p["name"] for p in image["properties"] if not p["deleted"]}
    assert live == set(kept)
    assert [p["name"] for p in image["properties"] if p["deleted"]] == ["old"]


def test_metadef_tags_created_from_a_long_list(db: Database, admin_ctx: RequestContext) -> None:
    db.metadef_namespace_create(admin_ctx, {"namespace": "Long::Tags", "owner": "x"})
    names = [f"t{i}" for i in range(LONG)]
    created = db.metadef_tag_create_tags(admin_ctx, "Long::Tags", [{"name": n} for n in names])
    assert [tag["name"] for tag in created] == names


def test_namespaces_filtered_by_a_long_list_of_resource_types(
    db: Database, admin_ctx: RequestContext
) -> None:
    db.metadef_namespace_create(admin_ctx, {"namespace": "Long::RT", "owner": "x"})
    db.metadef_resource_type_create(admin_ctx, {"name": "OS::Long::Type"})
    db.metadef_resource_type_association_create(admin_ctx, "Long::RT", {"name": "OS::Long::Type"})
    wanted = [*(f"OS::Other::{i}" for i in range(LONG)), "OS::Long::Type"]
    found = db.metadef_namespace_get_all(admin_ctx, filters={"resource_types": wanted})
    assert [ns["namespace"] for ns in found] == ["Long::RT"]
