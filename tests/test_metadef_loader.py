"""The metadata-definition loader: load / merge / prefer-new / overwrite, unload, export."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from glancedb import Database
from glancedb import exception as exc
from glancedb.metadefs import loader
from glancedb.metadefs.loader import export_metadefs, load_metadefs, unload_metadefs
from glancedb.models import tables as t
from tests.support.backends import count_statements
from tests.support.metadef_support import (
    ADMIN,
    CATALOGUE,
    expected_from_directory,
    expected_from_document,
    metadef_row_counts,
    resource_types,
    sample,
    snapshot,
    url_of,
    write_json,
)

# --- whole catalogues ---------------------------------------------------------------------


def test_small_catalogue_loads_and_round_trips_through_export(db: Database, tmp_path: Path) -> None:
    check_catalogue_round_trip(db, tmp_path, CATALOGUE, files=4)


@pytest.mark.glance_catalogue
def test_glances_catalogue_loads_and_round_trips_through_export(
    db: Database, tmp_path: Path, glance_catalogue_dir: Path
) -> None:
    check_catalogue_round_trip(db, tmp_path, str(glance_catalogue_dir), files=33)


def check_catalogue_round_trip(db: Database, tmp_path: Path, catalogue: str, files: int) -> None:
    """Load every file of ``catalogue``, export, unload, reload: nothing changes."""
    expected = expected_from_directory(catalogue)
    assert len(expected) == files

    summary = load_metadefs(db, catalogue)
    assert summary.ok, summary.failures
    assert len(summary) == files
    assert {r.action for r in summary} == {"created"}
    assert {r.file for r in summary} == {
        name for name in os.listdir(catalogue) if name.endswith(".json")
    }
    loaded = snapshot(db)
    assert loaded == expected
    # Every resource type named by a file exists, created protected.
    named = {rt for ns in expected.values() for rt in ns["associations"]}
    assert resource_types(db) == dict.fromkeys(named, True)
    # Counts per file: every definition of the file was created.
    for result in summary:
        assert result.namespace is not None
        ns = expected[result.namespace]
        total = len(ns["properties"]) + len(ns["objects"]) + len(ns["tags"])
        assert result.created == total + len(ns["associations"])

    first = tmp_path / "first"
    written = export_metadefs(db, str(first))
    assert len(written) == files == len(os.listdir(first))
    # Objects' ``required`` lists come back as in the catalogue (key omitted when none).
    exported = [json.loads(Path(p).read_text(encoding="utf-8")) for p in written]
    assert {
        (doc["namespace"], o["name"]): o.get("required") for doc in exported for o in doc["objects"]
    } == required_lists(catalogue)

    counts = unload_metadefs(db)
    assert counts["metadef_namespaces"] == files
    assert set(metadef_row_counts(db).values()) == {0}

    again = load_metadefs(db, str(first))
    assert again.ok, again.failures
    assert snapshot(db) == loaded
    assert resource_types(db) == dict.fromkeys(named, True)

    second = tmp_path / "second"
    export_metadefs(db, str(second))
    for name in os.listdir(first):
        assert json.loads((first / name).read_text()) == json.loads((second / name).read_text())


def required_lists(path: str) -> dict[tuple[str, str], list[str] | None]:
    """``required`` of every object of the catalogue files, None when absent or empty."""
    lists = {}
    for name in sorted(os.listdir(path)):
        if name.endswith(".json"):
            doc = json.loads(Path(path, name).read_text(encoding="utf-8"))
            for obj in doc.get("objects") or []:
                lists[doc["namespace"], obj["name"]] = obj.get("required") or None
    return lists


# --- small namespace files ----------------------------------------------------------------


def test_existing_namespace_is_skipped_without_merge(db: Database, tmp_path: Path) -> None:
    write_json(tmp_path, "sample.json", sample())
    assert load_metadefs(db, str(tmp_path)).results[0].action == "created"
    before = snapshot(db)
    write_json(tmp_path, "sample.json", sample(display_name="Changed", properties={"new": {}}))
    result = load_metadefs(db, str(tmp_path)).results[0]
    assert result.action == "skipped"
    assert result.created == result.updated == 0
    assert result.skipped == 6  # every definition of the file: 2 associations, 1 + 1 + 2
    assert snapshot(db) == before


def test_owner_defaults_to_admin_and_a_given_owner_is_kept(db: Database, tmp_path: Path) -> None:
    write_json(tmp_path, "a.json", sample(namespace="A"))
    write_json(tmp_path, "b.json", sample(namespace="B", owner="tenant-x"))
    load_metadefs(db, str(tmp_path))
    assert db.metadef_namespace_get(ADMIN, "A")["owner"] == "admin"
    assert db.metadef_namespace_get(ADMIN, "B")["owner"] == "tenant-x"


def _changed_sample() -> dict[str, Any]:
    doc = sample(display_name="Sample v2")
    doc["properties"] = {
        "p1": {"title": "P1 v2", "type": "string"},  # changed
        "p3": {"title": "P3", "type": "boolean"},  # new
    }  # p2 is missing from the file
    doc["objects"] = [
        {"name": "o1", "description": "changed", "properties": {"z": {}}},
        {"name": "o2", "description": "new object", "required": [], "properties": {}},
    ]
    doc["tags"] = [{"name": "t1"}, {"name": "t3"}]
    doc["resource_type_associations"] = [
        {"name": "OS::Glance::Image", "prefix": "v2_"},
        {"name": "OS::Nova::Flavor", "prefix": "f_"},
    ]
    return doc


def test_merge_adds_new_definitions_only(db: Database, tmp_path: Path) -> None:
    write_json(tmp_path, "sample.json", sample())
    load_metadefs(db, str(tmp_path))
    original = snapshot(db)["Test::Sample"]
    write_json(tmp_path, "sample.json", _changed_sample())
    result = load_metadefs(db, str(tmp_path), merge=True).results[0]
    assert result.action == "merged"
    assert (result.created, result.updated, result.deleted) == (4, 0, 0)  # p3, o2, t3, Flavor
    assert result.skipped == 4  # p1, o1, t1, Image
    merged = snapshot(db)["Test::Sample"]
    assert merged["display_name"] == "Sample"
    assert merged["properties"] == original["properties"] | {
        "p3": {"title": "P3", "type": "boolean"}
    }
    assert merged["objects"]["o1"] == original["objects"]["o1"]
    assert merged["objects"]["o2"] == {
        "description": "new object",
        "required": None,  # an empty list is stored as NULL
        "properties": {},
    }
    assert merged["tags"] == ["t1", "t2", "t3"]
    assert merged["associations"]["OS::Glance::Image"]["prefix"] == "s_"
    assert merged["associations"]["OS::Nova::Flavor"] == {"prefix": "f_", "properties_target": None}
    assert "OS::Cinder::Volume" in merged["associations"]


def test_prefer_new_replaces_changed_definitions(db: Database, tmp_path: Path) -> None:
    write_json(tmp_path, "sample.json", sample())
    load_metadefs(db, str(tmp_path))
    original = snapshot(db)["Test::Sample"]
    write_json(tmp_path, "sample.json", _changed_sample())
    result = load_metadefs(db, str(tmp_path), merge=True, prefer_new=True).results[0]
    assert result.action == "merged"
    assert (result.created, result.updated, result.skipped) == (4, 3, 1)  # t1 unchanged
    merged = snapshot(db)["Test::Sample"]
    assert merged["display_name"] == "Sample v2"
    assert merged["properties"] == {
        "p1": {"title": "P1 v2", "type": "string"},
        "p2": original["properties"]["p2"],  # left alone: not in the file
        "p3": {"title": "P3", "type": "boolean"},
    }
    assert merged["objects"]["o1"] == {
        "description": "changed",
        "required": None,
        "properties": {"z": {}},
    }
    assert merged["tags"] == ["t1", "t2", "t3"]
    assert merged["associations"]["OS::Glance::Image"]["prefix"] == "v2_"
    assert "OS::Cinder::Volume" in merged["associations"]
    # A second identical load changes nothing.
    same = load_metadefs(db, str(tmp_path), merge=True, prefer_new=True).results[0]
    assert (same.created, same.updated) == (0, 0)


def test_prefer_new_compares_json_by_value_not_by_spelling(db: Database, tmp_path: Path) -> None:
    """A schema another tool wrote with other spacing and key order is not a change."""
    write_json(tmp_path, "sample.json", sample())
    load_metadefs(db, str(tmp_path))
    prop = t.metadef_properties
    respelled = {}
    with db.engine.begin() as conn:
        for row in conn.execute(select(prop.c.id, prop.c.json_schema)):
            value = json.loads(row.json_schema)
            text = json.dumps(dict(reversed(value.items())), separators=(",", ":"))
            assert text != row.json_schema
            conn.execute(update(prop).where(prop.c.id == row.id).values(json_schema=text))
            respelled[row.id] = text
    result = load_metadefs(db, str(tmp_path), merge=True, prefer_new=True).results[0]
    assert (result.created, result.updated) == (0, 0)
    with db.engine.connect() as conn:
        assert dict(conn.execute(select(prop.c.id, prop.c.json_schema)).all()) == respelled


def test_overwrite_replaces_the_namespace_content(db: Database, tmp_path: Path) -> None:
    write_json(tmp_path, "sample.json", sample())
    load_metadefs(db, str(tmp_path))
    namespace_id = db.metadef_namespace_get(ADMIN, "Test::Sample")["id"]
    doc = _changed_sample()
    write_json(tmp_path, "sample.json", doc)
    result = load_metadefs(db, str(tmp_path), merge=True, overwrite=True).results[0]
    assert result.action == "overwritten"
    assert result.deleted == 2 + 1 + 2 + 2
    assert result.created == 2 + 2 + 2 + 2
    assert snapshot(db) == {"Test::Sample": expected_from_document(doc)}
    assert db.metadef_namespace_get(ADMIN, "Test::Sample")["id"] == namespace_id


def test_prefer_new_or_overwrite_without_merge_is_invalid(db: Database, tmp_path: Path) -> None:
    write_json(tmp_path, "sample.json", sample())
    with pytest.raises(exc.Invalid, match="merge"):
        load_metadefs(db, str(tmp_path), prefer_new=True)
    with pytest.raises(exc.Invalid, match="merge"):
        load_metadefs(db, str(tmp_path), overwrite=True)
    assert set(metadef_row_counts(db).values()) == {0}


def test_missing_path_is_an_error(db: Database, tmp_path: Path) -> None:
    missing = str(tmp_path / "nowhere")
    with pytest.raises(exc.Invalid, match="nowhere"):
        load_metadefs(db, missing)


def test_existing_resource_types_get_associations_too(db: Database, tmp_path: Path) -> None:
    db.metadef_resource_type_create(ADMIN, {"name": "OS::Glance::Image", "protected": False})
    db.metadef_namespace_create(ADMIN, {"namespace": "Other", "owner": "admin"})
    db.metadef_resource_type_association_create(ADMIN, "Other", {"name": "OS::Cinder::Volume"})
    write_json(tmp_path, "sample.json", sample())
    assert load_metadefs(db, str(tmp_path)).ok
    associations = snapshot(db)["Test::Sample"]["associations"]
    assert set(associations) == {"OS::Glance::Image", "OS::Cinder::Volume"}
    # Pre-existing resource types keep their protection; none is duplicated.
    assert resource_types(db) == {"OS::Glance::Image": False, "OS::Cinder::Volume": False}


def test_broken_files_are_reported_and_the_rest_load(db: Database, tmp_path: Path) -> None:
    write_json(tmp_path, "good.json", sample())
    (tmp_path / "malformed.json").write_text('{"namespace": "Broken", ', encoding="utf-8")
    write_json(tmp_path, "no-namespace.json", {"display_name": "x", "properties": {}})
    write_json(tmp_path, "not-an-object.json", ["namespace"])
    write_json(tmp_path, "nameless-object.json", sample(namespace="N1", objects=[{"x": 1}]))
    write_json(tmp_path, "long-name.json", sample(namespace="N2", properties={"p" * 81: {}}))
    write_json(tmp_path, "emoji.json", sample(namespace="N3", description="\U0001f600"))
    write_json(tmp_path, "bad-visibility.json", sample(namespace="N4", visibility="shared"))
    twice = {"name": "o1", "properties": {}}
    write_json(tmp_path, "object-twice.json", sample(namespace="N5", objects=[twice, twice]))
    write_json(tmp_path, "tag-twice.json", sample(namespace="N6", tags=["t", {"name": "t"}]))
    (tmp_path / "notes.txt").write_text("not a namespace file", encoding="utf-8")
    (tmp_path / "a-directory.json").mkdir()  # not a file: not loaded, not a failure
    summary = load_metadefs(db, str(tmp_path))
    assert not summary.ok
    reasons = {r.file: r.error or "" for r in summary.failures}
    assert set(reasons) == {
        "malformed.json",
        "no-namespace.json",
        "not-an-object.json",
        "nameless-object.json",
        "long-name.json",
        "emoji.json",
        "bad-visibility.json",
        "object-twice.json",
        "tag-twice.json",
    }
    assert "invalid JSON" in reasons["malformed.json"]
    assert "'namespace'" in reasons["no-namespace.json"]
    assert "JSON object" in reasons["not-an-object.json"]
    assert "'name'" in reasons["nameless-object.json"]
    assert "name" in reasons["long-name.json"] and "80" in reasons["long-name.json"]
    assert "4-byte" in reasons["emoji.json"]
    assert "shared" in reasons["bad-visibility.json"]
    assert "object 'o1' appears twice" in reasons["object-twice.json"]
    assert "tag 't' appears twice" in reasons["tag-twice.json"]
    assert [r.namespace for r in summary if not r.failed] == ["Test::Sample"]
    assert [r.file for r in summary] == sorted(r.file for r in summary)  # in name order
    assert list(snapshot(db)) == ["Test::Sample"]


def test_one_file_loads_and_tags_may_be_plain_names(db: Database, tmp_path: Path) -> None:
    """The path may name one file; a tag may be given as its name alone."""
    path = write_json(tmp_path, "sample.json", sample(tags=["plain", {"name": "object"}]))
    write_json(tmp_path, "other.json", sample(namespace="Other"))
    summary = load_metadefs(db, str(path))
    assert [(r.file, r.action) for r in summary] == [("sample.json", "created")]
    assert sorted(snapshot(db)["Test::Sample"]["tags"]) == ["object", "plain"]
    assert list(snapshot(db)) == ["Test::Sample"]


def test_a_file_failing_midway_leaves_nothing_of_itself(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_json(tmp_path, "a.json", sample(namespace="A"))
    write_json(tmp_path, "b.json", sample(namespace="B"))
    real = loader._merge_definitions

    def failing(conn: Any, kind: Any, namespace_id: int, rows: Any, *args: Any) -> None:
        real(conn, kind, namespace_id, rows, *args)
        if kind.label == "tag" and "B" in str(namespace_id_names(conn, namespace_id)):
            raise exc.Invalid("simulated failure after the tags of B")

    def namespace_id_names(conn: Any, namespace_id: int) -> Any:
        from sqlalchemy import select

        from glancedb.models import tables as t

        ns = t.metadef_namespaces
        return conn.execute(select(ns.c.namespace).where(ns.c.id == namespace_id)).scalar_one()

    monkeypatch.setattr(loader, "_merge_definitions", failing)
    summary = load_metadefs(db, str(tmp_path))
    assert [(r.file, r.action) for r in summary] == [("a.json", "created"), ("b.json", "failed")]
    assert "simulated failure" in (summary.failures[0].error or "")
    assert list(snapshot(db)) == ["A"]
    counts = metadef_row_counts(db)
    assert counts["metadef_properties"] == 2
    assert counts["metadef_tags"] == 2
    assert counts["metadef_namespace_resource_types"] == 2


def test_dry_run_writes_nothing(db: Database, tmp_path: Path) -> None:
    write_json(tmp_path, "sample.json", sample())
    (tmp_path / "broken.json").write_text("{", encoding="utf-8")
    summary = load_metadefs(db, str(tmp_path), dry_run=True)
    assert summary.dry_run
    assert [(r.file, r.action) for r in summary] == [
        ("broken.json", "failed"),
        ("sample.json", "created"),
    ]
    assert summary.results[1].created == 2 + 1 + 2 + 2
    assert set(metadef_row_counts(db).values()) == {0}


def test_statements_per_file_do_not_grow_with_definitions(db: Database, tmp_path: Path) -> None:
    small = tmp_path / "small"
    large = tmp_path / "large"
    write_json(small, "s.json", sample(namespace="Small"))
    many = sample(
        namespace="Large",
        properties={f"p{i}": {"type": "string"} for i in range(60)},
        objects=[{"name": f"o{i}", "properties": {}} for i in range(30)],
        tags=[{"name": f"t{i}"} for i in range(30)],
    )
    write_json(large, "l.json", many)
    for name in ("OS::Glance::Image", "OS::Cinder::Volume"):
        db.metadef_resource_type_create(ADMIN, {"name": name, "protected": True})
    with count_statements(db) as few:
        load_metadefs(db, str(small))
    with count_statements(db) as lots:
        load_metadefs(db, str(large))
    assert lots.count == few.count
    assert db.metadef_property_count(ADMIN, "Large") == 60
    # Merging into existing namespaces is set-based as well.
    write_json(
        small, "s.json", sample(namespace="Small", display_name="v2", tags=[{"name": "new"}])
    )
    write_json(large, "l.json", many | {"display_name": "v2", "tags": [{"name": "new"}]})
    with count_statements(db) as few:
        load_metadefs(db, str(small), merge=True, prefer_new=True)
    with count_statements(db) as lots:
        load_metadefs(db, str(large), merge=True, prefer_new=True)
    assert lots.count == few.count


def test_round_trip_keeps_tags_required_and_raw_schemas(db: Database, tmp_path: Path) -> None:
    db.metadef_namespace_create(
        ADMIN, {"namespace": "Raw", "owner": "tenant-z", "visibility": "private"}
    )
    db.metadef_property_create(ADMIN, "Raw", {"name": "p", "json_schema": "{fake-schema}"})
    db.metadef_object_create(
        ADMIN, "Raw", {"name": "o", "required": ["a", "b"], "json_schema": [1, "two"]}
    )
    db.metadef_tag_create_tags(ADMIN, "Raw", [{"name": "x"}, {"name": "y"}])
    db.metadef_resource_type_association_create(
        ADMIN, "Raw", {"name": "RT", "properties_target": "image"}
    )
    before = snapshot(db)
    export_metadefs(db, str(tmp_path))
    unload_metadefs(db)
    assert load_metadefs(db, str(tmp_path)).ok
    assert snapshot(db) == before


def test_engine_and_url_are_accepted(db: Database, tmp_path: Path) -> None:
    write_json(tmp_path, "a.json", sample(namespace="A"))
    assert load_metadefs(db.engine, str(tmp_path)).ok
    written = export_metadefs(url_of(db), str(tmp_path / "out"))
    assert [os.path.basename(p) for p in written] == ["A.json"]
    assert unload_metadefs(url_of(db))["metadef_namespaces"] == 1
    assert set(metadef_row_counts(db).values()) == {0}


def test_unload_removes_every_metadef_row(db: Database, tmp_path: Path) -> None:
    write_json(tmp_path, "a.json", sample(namespace="A"))
    load_metadefs(db, str(tmp_path))
    db.metadef_resource_type_create(ADMIN, {"name": "Unused"})
    counts = unload_metadefs(db)
    assert counts["metadef_resource_types"] == 3
    assert counts["metadef_tags"] == 2
    assert set(metadef_row_counts(db).values()) == {0}


def test_export_file_names_are_safe_and_unique(db: Database, tmp_path: Path) -> None:
    for name in ("OS::A", "OS:A", "with/slash"):
        db.metadef_namespace_create(ADMIN, {"namespace": name, "owner": "admin"})
    written = export_metadefs(db, str(tmp_path))
    assert len(set(written)) == 3
    assert all(os.path.dirname(p) == str(tmp_path) for p in written)
    loaded = {json.loads(Path(p).read_text())["namespace"] for p in written}
    assert loaded == {"OS::A", "OS:A", "with/slash"}


def test_export_lists_associations_by_resource_type_name(db: Database, tmp_path: Path) -> None:
    """An export is the same file whatever order the associations were made in."""
    names = ["OS::Nova::Flavor", "OS::Cinder::Volume", "OS::Glance::Image", "OS::Nova::Aggregate"]
    doc = sample(resource_type_associations=[{"name": name} for name in names])
    write_json(tmp_path / "in", "sample.json", doc)
    assert load_metadefs(db, str(tmp_path / "in")).ok
    (written,) = export_metadefs(db, str(tmp_path / "out"))
    exported = json.loads(Path(written).read_text())["resource_type_associations"]
    assert [association["name"] for association in exported] == sorted(names)


def test_glance_named_aliases(db: Database, tmp_path: Path) -> None:
    write_json(tmp_path / "in", "a.json", sample(namespace="A"))
    assert loader.db_load_metadefs(db.engine, str(tmp_path / "in")).ok
    written = loader.db_export_metadefs(db.engine, str(tmp_path / "out"))
    assert [os.path.basename(p) for p in written] == ["A.json"]
    assert loader.db_unload_metadefs(db.engine)["metadef_namespaces"] == 1


def test_concurrent_loads_of_the_same_files(db: Database, tmp_path: Path) -> None:
    import threading

    for i in range(3):
        write_json(tmp_path, f"ns{i}.json", sample(namespace=f"NS{i}"))
    barrier = threading.Barrier(3)
    summaries = []
    lock = threading.Lock()

    def load() -> None:
        barrier.wait()
        summary = load_metadefs(db, str(tmp_path))
        with lock:
            summaries.append(summary)

    threads = [threading.Thread(target=load) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(summaries) == 3
    for summary in summaries:
        assert summary.ok, summary.failures
    actions = sorted(r.action for summary in summaries for r in summary)
    assert actions == ["created"] * 3 + ["skipped"] * 6
    expected = expected_from_document(sample())
    assert snapshot(db) == {f"NS{i}": expected for i in range(3)}
    assert resource_types(db) == {"OS::Glance::Image": True, "OS::Cinder::Volume": True}


def test_prefer_new_keeps_the_owner_when_the_file_names_none(db: Database, tmp_path: Path) -> None:
    db.metadef_namespace_create(ADMIN, {"namespace": "Owned", "owner": "tenant-x"})
    write_json(tmp_path, "a.json", sample(namespace="Owned", display_name="new"))
    assert load_metadefs(db, str(tmp_path), merge=True, prefer_new=True).ok
    updated = db.metadef_namespace_get(ADMIN, "Owned")
    assert (updated["owner"], updated["display_name"]) == ("tenant-x", "new")
    write_json(tmp_path, "a.json", sample(namespace="Owned", owner="tenant-y"))
    assert load_metadefs(db, str(tmp_path), merge=True, overwrite=True).ok
    assert db.metadef_namespace_get(ADMIN, "Owned")["owner"] == "tenant-y"
