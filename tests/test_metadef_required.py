"""An object's ``required`` column: Glance's comma-joined text, in the API and the loader."""

from __future__ import annotations

import datetime
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from glancedb import Database, RequestContext
from glancedb import exception as exc
from glancedb.metadefs.files import split_names
from glancedb.metadefs.loader import export_metadefs, load_metadefs, unload_metadefs
from glancedb.models import tables as t
from tests.support.backends import clear_tables
from tests.support.metadef_support import ADMIN, sample, snapshot, write_json


@pytest.fixture
def ns(db: Database, ctx: RequestContext) -> str:
    db.metadef_namespace_create(ctx, {"namespace": "NS", "visibility": "private"})
    return "NS"


def stored(db: Database) -> dict[str, str | None]:
    """``required`` of every object row, as the database holds it."""
    objects = t.metadef_objects
    with db.engine.connect() as conn:
        return {row.name: row.required for row in conn.execute(select(objects))}


# --- the API ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value", ["a,b", "single", "", " a , b,,", '["json", "text"]', ",".join(["x" * 40] * 100)]
)
def test_a_string_is_stored_and_returned_as_given(
    db: Database, ctx: RequestContext, ns: str, value: str
) -> None:
    created = db.metadef_object_create(ctx, ns, {"name": "o", "required": value})
    assert created["required"] == value
    assert db.metadef_object_get(ctx, ns, "o")["required"] == value
    assert db.metadef_object_get_all(ctx, ns)[0]["required"] == value
    assert stored(db) == {"o": value}
    updated = db.metadef_object_update(ctx, ns, created["id"], {"required": value + "z"})
    assert updated["required"] == value + "z"
    assert stored(db) == {"o": value + "z"}


@pytest.mark.parametrize(
    ("value", "joined"),
    [
        (["a", "b"], "a,b"),
        (("x",), "x"),
        (["with space", "ü", "a.b:c"], "with space,ü,a.b:c"),
        (["a", ""], "a,"),
    ],
)
def test_a_list_of_names_is_stored_comma_joined(
    db: Database, ctx: RequestContext, ns: str, value: Any, joined: str
) -> None:
    created = db.metadef_object_create(ctx, ns, {"name": "o", "required": value})
    assert created["required"] == joined
    assert db.metadef_object_get(ctx, ns, "o")["required"] == joined
    assert stored(db) == {"o": joined}
    # Glance's upper layer reads it back by splitting on commas.
    assert joined.split(",") == list(value)
    other = db.metadef_object_create(ctx, ns, {"name": "other", "required": "old"})
    updated = db.metadef_object_update(ctx, ns, other["id"], {"required": value})
    assert updated["required"] == joined
    assert stored(db) == {"o": joined, "other": joined}


@pytest.mark.parametrize("empty", [[], (), None])
def test_an_empty_list_or_none_is_stored_as_null(
    db: Database, ctx: RequestContext, ns: str, empty: Any
) -> None:
    assert db.metadef_object_create(ctx, ns, {"name": "o", "required": empty})["required"] is None
    created = db.metadef_object_create(ctx, ns, {"name": "p", "required": ["a"]})
    assert db.metadef_object_update(ctx, ns, created["id"], {"required": empty})["required"] is None
    assert stored(db) == {"o": None, "p": None}
    # Omitted on create: NULL too; omitted on update: left alone.
    db.metadef_object_create(ctx, ns, {"name": "q"})
    kept = db.metadef_object_create(ctx, ns, {"name": "r", "required": "k"})
    db.metadef_object_update(ctx, ns, kept["id"], {"description": "d"})
    assert stored(db) == {"o": None, "p": None, "q": None, "r": "k"}


@pytest.mark.parametrize(
    ("value", "named"),
    [
        (42, "42"),
        (True, "True"),
        ({"a": 1}, "'a': 1"),
        ({"a", "b"}, "'a'"),
        (b"a,b", "b'a,b'"),
        ([1, 2], "1"),
        (["a", None], "None"),
        (["a", ["b"]], "['b']"),
    ],
    ids=repr,
)
def test_any_other_type_is_invalid(
    db: Database, ctx: RequestContext, ns: str, value: Any, named: str
) -> None:
    with pytest.raises(exc.Invalid, match="required") as raised:
        db.metadef_object_create(ctx, ns, {"name": "o", "required": value})
    assert named in str(raised.value)
    assert stored(db) == {}
    created = db.metadef_object_create(ctx, ns, {"name": "o", "required": "kept"})
    with pytest.raises(exc.Invalid, match="required"):
        db.metadef_object_update(ctx, ns, created["id"], {"required": value, "name": "renamed"})
    assert stored(db) == {"o": "kept"}


@pytest.mark.parametrize("value", [["a,b"], ["ok", "x,y"], [","], ("t,",)], ids=repr)
def test_a_name_with_a_comma_is_invalid(
    db: Database, ctx: RequestContext, ns: str, value: Any
) -> None:
    bad = next(name for name in value if "," in name)
    with pytest.raises(exc.Invalid, match="comma") as raised:
        db.metadef_object_create(ctx, ns, {"name": "o", "required": value})
    assert repr(bad) in str(raised.value)
    assert stored(db) == {}
    created = db.metadef_object_create(ctx, ns, {"name": "o", "required": ["a"]})
    with pytest.raises(exc.Invalid, match="comma"):
        db.metadef_object_update(ctx, ns, created["id"], {"required": value})
    assert stored(db) == {"o": "a"}


def test_four_byte_names_in_a_list_are_invalid(db: Database, ctx: RequestContext, ns: str) -> None:
    with pytest.raises(exc.Invalid, match="4-byte"):
        db.metadef_object_create(ctx, ns, {"name": "o", "required": ["a", "\U0001f600"]})
    assert stored(db) == {}


def test_rows_of_other_tools_come_back_unchanged(
    db: Database, ctx: RequestContext, ns: str
) -> None:
    namespace_id = db.metadef_namespace_get(ctx, ns)["id"]
    now = datetime.datetime(2024, 1, 1)
    values = {"json": '["a", "b"]', "garbage": "[not json", "blank": "", "spaces": " a , b "}
    with db.engine.begin() as conn:
        conn.execute(
            t.metadef_objects.insert(),
            [
                {
                    "namespace_id": namespace_id,
                    "name": name,
                    "required": value,
                    "json_schema": "{}",
                    "created_at": now,
                    "updated_at": now,
                }
                for name, value in values.items()
            ],
        )
    for name, value in values.items():
        assert db.metadef_object_get(ctx, ns, name)["required"] == value
    assert {o["name"]: o["required"] for o in db.metadef_object_get_all(ctx, ns)} == values
    assert db.metadef_object_delete(ctx, ns, "json")["required"] == '["a", "b"]'


names = st.text(
    # No "[": the export reads text that looks like a JSON list as one.
    st.characters(max_codepoint=0xFFFF, exclude_categories=["Cs", "Cc"], exclude_characters=",["),
    max_size=12,
)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=st.lists(names, max_size=5).filter(lambda v: v != [""]))
def test_any_list_of_names_reads_back_by_splitting(session_db: Database, value: list[str]) -> None:
    clear_tables(session_db)
    session_db.metadef_namespace_create(ADMIN, {"namespace": "H", "owner": "admin"})
    created = session_db.metadef_object_create(ADMIN, "H", {"name": "o", "required": value})
    required = session_db.metadef_object_get(ADMIN, "H", "o")["required"]
    assert required == created["required"]
    assert (required.split(",") if required is not None else []) == value
    assert split_names(required) == value


# --- the loader and the export -----------------------------------------------------------


def _objects(doc: dict[str, Any]) -> dict[str, Any]:
    return {o["name"]: o for o in doc["objects"]}


def test_loader_stores_required_comma_joined(db: Database, tmp_path: Path) -> None:
    objects = [
        {"name": "two", "required": ["a", "b"], "properties": {"a": {}, "b": {}}},
        {"name": "one", "required": ["a"], "properties": {}},
        {"name": "empty", "required": [], "properties": {}},
        {"name": "absent", "properties": {}},
        {"name": "null", "required": None, "properties": {}},
    ]
    write_json(tmp_path, "s.json", sample(objects=objects))
    assert load_metadefs(db, str(tmp_path)).ok
    assert stored(db) == {"two": "a,b", "one": "a", "empty": None, "absent": None, "null": None}
    listed = db.metadef_object_get_all(ADMIN, "Test::Sample")
    assert {o["name"]: o["required"] for o in listed} == stored(db)


@pytest.mark.parametrize(
    ("required", "error"),
    [(["a,b"], "comma"), ([1], "1"), ({"a": "b"}, "'a'")],
    ids=repr,
)
def test_loader_rejects_unstorable_required(
    db: Database, tmp_path: Path, required: Any, error: str
) -> None:
    objects = [{"name": "o", "required": required, "properties": {}}]
    write_json(tmp_path, "s.json", sample(objects=objects))
    summary = load_metadefs(db, str(tmp_path))
    assert [r.file for r in summary.failures] == ["s.json"]
    assert "required" in (summary.failures[0].error or "")
    assert error in (summary.failures[0].error or "")
    assert db.metadef_namespace_get_all(ADMIN) == []


def test_merge_and_prefer_new_compare_the_joined_form(db: Database, tmp_path: Path) -> None:
    objects = [
        {"name": "same", "required": ["a", "b"], "properties": {}},
        {"name": "changed", "required": ["a"], "properties": {}},
        {"name": "dropped", "required": ["a"], "properties": {}},
    ]
    write_json(tmp_path, "s.json", sample(objects=objects, tags=[]))
    assert load_metadefs(db, str(tmp_path)).ok
    objects[1]["required"] = ["a", "c"]
    objects[2]["required"] = []
    write_json(tmp_path, "s.json", sample(objects=objects, tags=[]))
    merged = load_metadefs(db, str(tmp_path), merge=True).results[0]
    assert merged.updated == 0
    assert stored(db) == {"same": "a,b", "changed": "a", "dropped": "a"}
    preferred = load_metadefs(db, str(tmp_path), merge=True, prefer_new=True).results[0]
    assert preferred.updated == 2  # "same" compares equal in its stored form
    assert stored(db) == {"same": "a,b", "changed": "a,c", "dropped": None}
    again = load_metadefs(db, str(tmp_path), merge=True, prefer_new=True).results[0]
    assert again.updated == 0


def test_prefer_new_rewrites_a_json_text_row_in_glances_form(db: Database, tmp_path: Path) -> None:
    write_json(tmp_path, "s.json", sample(objects=[{"name": "o", "properties": {}}]))
    assert load_metadefs(db, str(tmp_path)).ok
    with db.engine.begin() as conn:
        conn.execute(t.metadef_objects.update().values(required='["a"]'))
    write_json(
        tmp_path, "s.json", sample(objects=[{"name": "o", "required": ["a"], "properties": {}}])
    )
    assert load_metadefs(db, str(tmp_path), merge=True, prefer_new=True).results[0].updated == 1
    assert stored(db) == {"o": "a"}


def test_export_writes_lists_and_round_trips(db: Database, tmp_path: Path) -> None:
    db.metadef_namespace_create(ADMIN, {"namespace": "R", "owner": "admin"})
    given = {
        "list": ["a", "b"],
        "string": "x,y,z",
        "single": "s",
        "gaps": "a,,b,",
        "spaces": " a , b",
        "none": None,
        "empty": [],
    }
    for name, value in given.items():
        db.metadef_object_create(ADMIN, "R", {"name": name, "required": value})
    before = snapshot(db)
    export_metadefs(db, str(tmp_path / "out"))
    doc = json.loads((tmp_path / "out" / "R.json").read_text(encoding="utf-8"))
    exported = {name: o.get("required", "omitted") for name, o in _objects(doc).items()}
    assert exported == {
        "list": ["a", "b"],
        "string": ["x", "y", "z"],
        "single": ["s"],
        "gaps": ["a", "", "b", ""],
        "spaces": [" a ", " b"],
        "none": "omitted",
        "empty": "omitted",
    }
    unload_metadefs(db)
    assert load_metadefs(db, str(tmp_path / "out")).ok
    assert snapshot(db) == before
    export_metadefs(db, str(tmp_path / "again"))
    assert json.loads((tmp_path / "again" / "R.json").read_text(encoding="utf-8")) == doc


def test_export_is_lenient_with_rows_of_other_tools(db: Database, tmp_path: Path) -> None:
    db.metadef_namespace_create(ADMIN, {"namespace": "R", "owner": "admin"})
    raw = {
        "json": '["a", "b"]',
        "json-spaced": '  ["a"]',
        "json-empty": "[]",
        "json-mixed": '[1, "x,y", null]',
        "not-a-list": '{"a": 1}',
        "broken": '["a", "b"',
        "blank": "",
    }
    for name, value in raw.items():
        created = db.metadef_object_create(ADMIN, "R", {"name": name})
        with db.engine.begin() as conn:
            conn.execute(
                t.metadef_objects.update()
                .where(t.metadef_objects.c.id == created["id"])
                .values(required=value)
            )
    export_metadefs(db, str(tmp_path))
    doc = json.loads((tmp_path / "R.json").read_text(encoding="utf-8"))
    exported = {name: o.get("required", "omitted") for name, o in _objects(doc).items()}
    assert exported == {
        "json": ["a", "b"],
        "json-spaced": ["a"],
        "json-empty": "omitted",
        "json-mixed": ["1", "x", "y", "null"],
        "not-a-list": ['{"a": 1}'],
        "broken": ['["a"', ' "b"'],
        "blank": "omitted",
    }
    # What was exported loads back (in Glance's comma-joined form).
    unload_metadefs(db)
    assert load_metadefs(db, str(tmp_path)).ok
    assert stored(db) == {
        "json": "a,b",
        "json-spaced": "a",
        "json-empty": None,
        "json-mixed": "1,x,y,null",
        "not-a-list": '{"a": 1}',
        "broken": '["a", "b"',
        "blank": None,
    }
