"""Helpers for the metadef loader and CLI tests: catalogue files and DB snapshots."""

from __future__ import annotations

import copy
import glob
import json
import os
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from glancedb import Database, RequestContext
from glancedb.models import tables as t
from tests.support.data_files import SMALL_CATALOGUE

#: The small catalogue written for the tests (Glance's own: ``glance_catalogue`` fixture).
CATALOGUE = str(SMALL_CATALOGUE)
ADMIN = RequestContext(is_admin=True)

METADEF_TABLES = (
    t.metadef_namespaces,
    t.metadef_objects,
    t.metadef_properties,
    t.metadef_tags,
    t.metadef_resource_types,
    t.metadef_namespace_resource_types,
)

SAMPLE: dict[str, Any] = {
    "namespace": "Test::Sample",
    "display_name": "Sample",
    "description": "A namespace for the loader tests",
    "visibility": "public",
    "protected": True,
    "resource_type_associations": [
        {"name": "OS::Glance::Image", "prefix": "s_"},
        {"name": "OS::Cinder::Volume", "prefix": "s_", "properties_target": "image"},
    ],
    "properties": {
        "p1": {"title": "P1", "type": "string", "enum": ["a", "b"]},
        "p2": {"title": "P2", "type": "integer", "minimum": 1},
    },
    "objects": [
        {
            "name": "o1",
            "description": "first object",
            "required": ["x"],
            "properties": {"x": {"type": "string"}, "y": {"type": "integer"}},
        }
    ],
    "tags": [{"name": "t1"}, {"name": "t2"}],
}


def sample(**changes: Any) -> dict[str, Any]:
    """A deep copy of :data:`SAMPLE` with top-level keys replaced."""
    doc = copy.deepcopy(SAMPLE)
    doc.update(changes)
    return doc


def write_json(directory: Path, name: str, doc: Any) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(json.dumps(doc, indent=2), encoding="utf-8")
    return path


def stored_required(names: list[str] | None) -> str | None:
    """How an object's ``required`` list is stored: comma-joined, NULL when empty."""
    return ",".join(names) if names else None


def expected_from_document(doc: dict[str, Any]) -> dict[str, Any]:
    """What loading ``doc`` into an empty database must produce, normalised."""
    return {
        "display_name": doc.get("display_name"),
        "description": doc.get("description"),
        "visibility": doc.get("visibility"),
        "protected": doc.get("protected"),
        "owner": doc.get("owner") or "admin",
        "properties": dict(doc.get("properties") or {}),
        "objects": {
            o["name"]: {
                "description": o.get("description"),
                "required": stored_required(o.get("required")),
                "properties": o.get("properties") or {},
            }
            for o in doc.get("objects") or []
        },
        "tags": sorted(tag["name"] for tag in doc.get("tags") or []),
        "associations": {
            a["name"]: {"prefix": a.get("prefix"), "properties_target": a.get("properties_target")}
            for a in doc.get("resource_type_associations") or []
        },
    }


def expected_from_directory(path: str) -> dict[str, dict[str, Any]]:
    expected = {}
    for file_path in sorted(glob.glob(os.path.join(path, "*.json"))):
        with open(file_path, encoding="utf-8") as handle:
            doc = json.load(handle)
        expected[doc["namespace"]] = expected_from_document(doc)
    return expected


def snapshot(db: Database) -> dict[str, dict[str, Any]]:
    """Every namespace's content read back through the API, normalised."""
    result = {}
    for ns in db.metadef_namespace_get_all(ADMIN):
        name = ns["namespace"]
        result[name] = {
            "display_name": ns["display_name"],
            "description": ns["description"],
            "visibility": ns["visibility"],
            "protected": ns["protected"],
            "owner": ns["owner"],
            "properties": {
                p["name"]: p["json_schema"] for p in db.metadef_property_get_all(ADMIN, name)
            },
            "objects": {
                o["name"]: {
                    "description": o["description"],
                    "required": o["required"],
                    "properties": o["json_schema"],
                }
                for o in db.metadef_object_get_all(ADMIN, name)
            },
            "tags": sorted(tag["name"] for tag in db.metadef_tag_get_all(ADMIN, name)),
            "associations": {
                a["name"]: {"prefix": a["prefix"], "properties_target": a["properties_target"]}
                for a in db.metadef_resource_type_association_get_all_by_namespace(ADMIN, name)
            },
        }
    return result


def resource_types(db: Database) -> dict[str, bool]:
    return {rt["name"]: rt["protected"] for rt in db.metadef_resource_type_get_all(ADMIN)}


def metadef_row_counts(db: Database) -> dict[str, int]:
    with db.engine.connect() as conn:
        return {
            table.name: int(conn.execute(select(func.count()).select_from(table)).scalar_one())
            for table in METADEF_TABLES
        }


def url_of(db: Database) -> str:
    return db.engine.url.render_as_string(hide_password=False)
