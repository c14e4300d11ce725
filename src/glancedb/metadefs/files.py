"""The namespace file format of the metadata-definition catalogue.

One JSON object per file: ``namespace, display_name, description,
visibility, protected, owner, resource_type_associations[], properties{},
objects[] {name, description, required, properties{}}, tags[]`` (the format
of Glance's ``etc/metadefs``).  :func:`parse_document` checks a decoded file
and turns it into rows ready to insert; :func:`render_document` is its
inverse, used by the export.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from glancedb.exception import Invalid
from glancedb.metadefs import definitions as d
from glancedb.metadefs.common import require_name, writable_values
from glancedb.metadefs.namespaces import check_namespace_values
from glancedb.models import tables as t
from glancedb.records import load_json
from glancedb.validation import reject_unstorable_text

#: The owner of a namespace whose file names none.
DEFAULT_OWNER = "admin"

_NAMESPACE_KEYS = ("namespace", "display_name", "description", "visibility", "protected", "owner")


@dataclass
class NamespaceDocument:
    """One parsed, checked namespace file: column values keyed by name."""

    namespace: dict[str, Any]
    # Whether the file names an owner (else the namespace gets DEFAULT_OWNER
    # when created, and an existing namespace keeps its owner).
    owner_given: bool = True
    # resource-type name -> {properties_target, prefix}
    associations: dict[str, dict[str, Any]] = field(default_factory=dict)
    # definition name -> column values (JSON columns already encoded, an
    # object's ``required`` list comma-joined)
    properties: dict[str, dict[str, Any]] = field(default_factory=dict)
    objects: dict[str, dict[str, Any]] = field(default_factory=dict)
    tags: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return str(self.namespace["namespace"])

    @property
    def definition_count(self) -> int:
        """Associations, properties, objects and tags in the file."""
        return len(self.associations) + len(self.properties) + len(self.objects) + len(self.tags)


def read_document(path: str) -> Any:
    """Decode the JSON file at ``path``; :class:`Invalid` naming the JSON error."""
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except json.JSONDecodeError as exc:
        raise Invalid(f"invalid JSON: {exc}") from None
    except UnicodeDecodeError as exc:
        raise Invalid(f"not UTF-8 text: {exc}") from None
    except OSError as exc:
        raise Invalid(f"cannot read the file: {exc.strerror or exc}") from None


def _list_of_named(doc: Mapping[str, Any], key: str) -> list[dict[str, Any]]:
    items = doc.get(key)
    if items is None:
        return []
    if not isinstance(items, list):
        raise Invalid(f"{key!r} must be a list, got {type(items).__name__}")
    named: list[dict[str, Any]] = []
    for index, item in enumerate(items):
        if isinstance(item, str) and key == "tags":
            item = {"name": item}
        if not isinstance(item, Mapping):
            raise Invalid(f"{key}[{index}] must be an object, got {type(item).__name__}")
        if not isinstance(item.get("name"), str) or not item["name"]:
            raise Invalid(f"{key}[{index}] is missing the required key 'name'")
        named.append(dict(item))
    return named


def _unique(kind: str, names: list[str]) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise Invalid(f"{kind} {name!r} appears twice")
        seen.add(name)


def parse_document(doc: Any) -> NamespaceDocument:
    """Check a decoded namespace file and build its rows.

    Raises :class:`Invalid` with the reason: not an object, a missing
    required key (``namespace``; ``name`` of every object, tag and
    association), a wrong type, a repeated name, a 4-byte character or a
    value too long for its column.
    """
    if not isinstance(doc, Mapping):
        raise Invalid(f"the top level must be a JSON object, got {type(doc).__name__}")
    if "namespace" not in doc:
        raise Invalid("missing the required key 'namespace'")
    reject_unstorable_text(dict(doc), "namespace file")
    values = {key: doc.get(key) for key in _NAMESPACE_KEYS}
    if values["owner"] is None:
        values["owner"] = DEFAULT_OWNER
    namespace = writable_values(t.metadef_namespaces, values, "namespace")
    require_name(namespace, "namespace", "namespace")
    check_namespace_values(namespace)
    result = NamespaceDocument(namespace, owner_given=doc.get("owner") is not None)

    associations = _list_of_named(doc, "resource_type_associations")
    _unique("resource type association", [a["name"] for a in associations])
    for item in associations:
        writable_values(t.metadef_resource_types, {"name": item["name"]}, "resource type")
        result.associations[item["name"]] = writable_values(
            t.metadef_namespace_resource_types,
            {"properties_target": item.get("properties_target"), "prefix": item.get("prefix")},
            "resource type association",
        )

    properties = doc.get("properties") or {}
    if not isinstance(properties, Mapping):
        raise Invalid(f"'properties' must be an object, got {type(properties).__name__}")
    for name, schema in properties.items():
        result.properties[name] = d.column_values(
            d.PROPERTY, {"name": name, "json_schema": schema}, creating=True
        )

    objects = _list_of_named(doc, "objects")
    _unique("object", [o["name"] for o in objects])
    for item in objects:
        row = {
            "name": item["name"],
            "description": item.get("description"),
            "required": item.get("required"),
            "json_schema": item.get("properties") or {},
        }
        result.objects[item["name"]] = d.column_values(d.OBJECT, row, creating=True)

    tags = _list_of_named(doc, "tags")
    _unique("tag", [tag["name"] for tag in tags])
    for item in tags:
        result.tags[item["name"]] = d.column_values(d.TAG, {"name": item["name"]}, creating=True)
    return result


def render_document(
    namespace: Mapping[Any, Any],
    associations: list[Mapping[Any, Any]],
    properties: list[Mapping[Any, Any]],
    objects: list[Mapping[Any, Any]],
    tags: list[Mapping[Any, Any]],
) -> dict[str, Any]:
    """The file content of one namespace from its rows as stored.

    JSON columns are decoded; an object's ``required`` becomes its list of
    names, the key omitted when there are none (as in Glance's catalogue).
    """
    doc: dict[str, Any] = {key: namespace[key] for key in _NAMESPACE_KEYS}
    doc["resource_type_associations"] = [
        {
            key: assoc[key]
            for key in ("name", "prefix", "properties_target")
            if assoc[key] is not None or key == "name"
        }
        for assoc in associations
    ]
    doc["properties"] = {prop["name"]: load_json(prop["json_schema"]) for prop in properties}
    rendered_objects = []
    for obj in objects:
        item: dict[str, Any] = {"name": obj["name"], "description": obj["description"]}
        required = split_names(obj["required"])
        if required:
            item["required"] = required
        item["properties"] = load_json(obj["json_schema"])
        rendered_objects.append(item)
    doc["objects"] = rendered_objects
    doc["tags"] = [{"name": tag["name"]} for tag in tags]
    return doc


def split_names(stored: str | None) -> list[str]:
    """The list of names a ``required`` column holds (the export's reading).

    Glance's layout is comma-joined text, NULL or empty meaning none.  Rows
    written by other tools may hold a JSON list instead: that is read as its
    items (a non-string item as its JSON text), and any comma inside them
    splits them further, since a name cannot hold one once stored.
    """
    if not stored:
        return []
    text = stored
    if stored.lstrip().startswith("["):
        decoded = load_json(stored)
        if isinstance(decoded, list):
            text = ",".join(i if isinstance(i, str) else json.dumps(i) for i in decoded)
    return text.split(",") if text else []


def file_name_for(namespace_name: str, taken: set[str]) -> str:
    """A safe, unique ``.json`` file name for a namespace (``OS::Foo`` -> ``OS-Foo``)."""
    stem = "".join(c if c.isalnum() or c in "._-" else "-" for c in namespace_name)
    stem = "-".join(part for part in stem.split("-") if part) or "namespace"
    name = f"{stem}.json"
    counter = 2
    while name.lower() in taken:
        name = f"{stem}-{counter}.json"
        counter += 1
    taken.add(name.lower())
    return name


def namespace_files(path: str) -> list[str]:
    """The ``*.json`` files to load: the directory's, sorted, or the one file."""
    if os.path.isfile(path):
        return [path]
    if not os.path.isdir(path):
        raise Invalid(f"Metadata definitions path {path!r} does not exist")
    return sorted(
        os.path.join(path, name)
        for name in os.listdir(path)
        if name.endswith(".json") and os.path.isfile(os.path.join(path, name))
    )
