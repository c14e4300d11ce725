"""Load, unload and export the metadata-definition catalogue (SPEC 11.1).

Each namespace file is loaded in its own transaction: a broken file loads
nothing of itself and does not stop the others.  The work per file is
set-based: one look-up and at most one bulk INSERT (and one bulk UPDATE) per
table, whatever the number of definitions.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import URL, Connection, Engine, bindparam, delete, select, update

from glancedb.database import Database
from glancedb.exception import Duplicate, GlanceDBError, Invalid
from glancedb.metadefs import definitions as d
from glancedb.metadefs.files import (
    NamespaceDocument,
    file_name_for,
    namespace_files,
    parse_document,
    read_document,
    render_document,
)
from glancedb.metadefs.namespaces import delete_namespace_content
from glancedb.models import tables as t
from glancedb.records import load_json
from glancedb.rows import inserted_id
from glancedb.timeutils import utcnow
from glancedb.transactions import retrying

LOG = logging.getLogger("glancedb.metadefs")

DatabaseLike = Database | Engine | URL | str

#: What happened to a namespace file.
CREATED, MERGED, OVERWRITTEN, SKIPPED, FAILED = (
    "created",
    "merged",
    "overwritten",
    "skipped",
    "failed",
)


@dataclass
class NamespaceResult:
    """The outcome of loading one namespace file.

    ``created`` / ``updated`` / ``skipped`` / ``deleted`` count definitions
    (properties, objects, tags and resource-type associations).
    """

    file: str
    namespace: str | None = None
    action: str = FAILED
    created: int = 0
    updated: int = 0
    skipped: int = 0
    deleted: int = 0
    error: str | None = None

    @property
    def failed(self) -> bool:
        return self.action == FAILED


@dataclass
class LoadSummary:
    """Every file's :class:`NamespaceResult`, in loading order."""

    results: list[NamespaceResult] = field(default_factory=list)
    dry_run: bool = False

    @property
    def failures(self) -> list[NamespaceResult]:
        return [r for r in self.results if r.failed]

    @property
    def ok(self) -> bool:
        return not self.failures

    def count(self, action: str) -> int:
        """How many files ended with ``action``."""
        return sum(1 for r in self.results if r.action == action)

    def __iter__(self) -> Iterator[NamespaceResult]:
        return iter(self.results)

    def __len__(self) -> int:
        return len(self.results)


@contextmanager
def _database(target: DatabaseLike) -> Iterator[Database]:
    """``target`` as a Database; one built here from an Engine or URL is disposed after."""
    if isinstance(target, Database):
        yield target
        return
    url = target.url if isinstance(target, Engine) else target
    database = Database(url)
    try:
        yield database
    finally:
        database.dispose()


class _DryRun(Exception):
    """Raised inside a file's transaction to roll a dry run back."""


def load_metadefs(
    db: DatabaseLike,
    path: str,
    merge: bool = False,
    prefer_new: bool = False,
    overwrite: bool = False,
    *,
    dry_run: bool = False,
    progress: Callable[[NamespaceResult], None] | None = None,
) -> LoadSummary:
    """Load every ``*.json`` namespace file of the directory ``path``.

    Without ``merge`` an existing namespace is skipped.  With ``merge`` new
    definitions are added to it; ``prefer_new`` also replaces existing ones
    (and the namespace's own fields) with the file's version; ``overwrite``
    deletes the namespace's content first and reloads it from the file.
    ``prefer_new`` / ``overwrite`` without ``merge`` raise :class:`Invalid`,
    as does a missing ``path``.  Resource types are created on demand
    (protected) and every association of the file is created.  ``dry_run``
    does all the work and rolls each file back.  ``progress`` is called with
    each file's result.  Failures are reported in the summary, not raised.
    """
    if (prefer_new or overwrite) and not merge:
        raise Invalid("--prefer-new and --overwrite need --merge")
    paths = namespace_files(path)
    summary = LoadSummary(dry_run=dry_run)
    with _database(db) as database:
        for file_path in paths:
            result = _load_file(database, file_path, merge, prefer_new, overwrite, dry_run)
            if result.failed:
                LOG.info("%s failed: %s", result.file, result.error)
            else:
                LOG.info("%s: namespace %s %s", result.file, result.namespace, result.action)
            summary.results.append(result)
            if progress is not None:
                progress(result)
    return summary


def _load_file(
    database: Database,
    file_path: str,
    merge: bool,
    prefer_new: bool,
    overwrite: bool,
    dry_run: bool,
) -> NamespaceResult:
    result = NamespaceResult(file=os.path.basename(file_path))
    try:
        document = parse_document(read_document(file_path))
        result.namespace = document.name
        try:
            loaded = _load_document(database, document, merge, prefer_new, overwrite, dry_run)
        except Duplicate:
            # A concurrent load inserted the same namespace or resource type
            # first; the file's transaction was rolled back: redo it once,
            # now seeing those rows.
            loaded = _load_document(database, document, merge, prefer_new, overwrite, dry_run)
    except GlanceDBError as exc:
        result.action = FAILED
        result.error = exc.msg
        return result
    loaded.file = result.file
    return loaded


@retrying
def _load_document(
    database: Database,
    document: NamespaceDocument,
    merge: bool,
    prefer_new: bool,
    overwrite: bool,
    dry_run: bool,
) -> NamespaceResult:
    result = NamespaceResult(file="", namespace=document.name)
    try:
        with database.transaction() as conn:
            _write_document(conn, document, result, merge, prefer_new, overwrite)
            if dry_run:
                raise _DryRun
    except _DryRun:
        pass
    return result


def _write_document(
    conn: Connection,
    document: NamespaceDocument,
    result: NamespaceResult,
    merge: bool,
    prefer_new: bool,
    overwrite: bool,
) -> None:
    ns = t.metadef_namespaces
    now = utcnow()
    existing = conn.execute(select(ns).where(ns.c.namespace == document.name)).first()
    if existing is None:
        row = dict(document.namespace, created_at=now, updated_at=now)
        namespace_id = inserted_id(conn.execute(ns.insert().values(**row)))
        result.action = CREATED
        fresh = True
    elif not merge:
        result.action = SKIPPED
        result.skipped = document.definition_count
        return
    else:
        namespace_id = existing.id
        fresh = overwrite
        if overwrite:
            result.deleted = sum(delete_namespace_content(conn, namespace_id).values())
            result.action = OVERWRITTEN
        else:
            result.action = MERGED
        if overwrite or prefer_new:
            changes = {k: v for k, v in document.namespace.items() if k != "namespace"}
            if not document.owner_given:
                del changes["owner"]
            conn.execute(
                update(ns).where(ns.c.id == namespace_id).values(updated_at=now, **changes)
            )
    replace = prefer_new or overwrite
    _merge_associations(conn, namespace_id, document, result, replace, fresh, now)
    for kind, rows in (
        (d.PROPERTY, document.properties),
        (d.OBJECT, document.objects),
        (d.TAG, document.tags),
    ):
        _merge_definitions(conn, kind, namespace_id, rows, result, replace, fresh, now)


def _merge_definitions(
    conn: Connection,
    kind: d.Kind,
    namespace_id: int,
    rows: dict[str, dict[str, Any]],
    result: NamespaceResult,
    replace: bool,
    fresh: bool,
    now: Any,
) -> None:
    """Insert the new definitions in bulk; with ``replace`` update changed ones."""
    if not rows:
        return
    table = kind.table
    current: dict[str, Any] = {}
    if not fresh:
        found = conn.execute(
            select(table).where(table.c.namespace_id == namespace_id, table.c.name.in_(list(rows)))
        ).all()
        current = {row.name: row for row in found}
    inserts = []
    updates = []
    for name, values in rows.items():
        old = current.get(name)
        if old is None:
            inserts.append(dict(values, namespace_id=namespace_id, created_at=now, updated_at=now))
        elif replace and _differs(kind, old._mapping, values):
            changed = dict(values, updated_at=now)
            updates.append({"_id": old.id} | {f"new_{k}": v for k, v in changed.items()})
        else:
            result.skipped += 1
    if inserts:
        conn.execute(table.insert(), inserts)
        result.created += len(inserts)
    if updates:
        # SET parameters may not share a column's name: hence the prefix.
        columns = [key.removeprefix("new_") for key in updates[0] if key != "_id"]
        conn.execute(
            update(table)
            .where(table.c.id == bindparam("_id"))
            .values({key: bindparam(f"new_{key}") for key in columns}),
            updates,
        )
        result.updated += len(updates)


def _differs(kind: d.Kind, stored: Any, values: dict[str, Any]) -> bool:
    for key, value in values.items():
        if key in kind.json_columns:
            if load_json(stored[key]) != load_json(value):
                return True
        elif stored[key] != value:
            return True
    return False


def _merge_associations(
    conn: Connection,
    namespace_id: int,
    document: NamespaceDocument,
    result: NamespaceResult,
    replace: bool,
    fresh: bool,
    now: Any,
) -> None:
    """Create missing resource types (protected) and the file's associations."""
    if not document.associations:
        return
    rt = t.metadef_resource_types
    assoc = t.metadef_namespace_resource_types
    names = list(document.associations)
    type_ids = {
        row.name: row.id
        for row in conn.execute(select(rt.c.name, rt.c.id).where(rt.c.name.in_(names)))
    }
    missing = [name for name in names if name not in type_ids]
    if missing:
        conn.execute(
            rt.insert(),
            [{"name": n, "protected": True, "created_at": now, "updated_at": now} for n in missing],
        )
        for row in conn.execute(select(rt.c.name, rt.c.id).where(rt.c.name.in_(missing))):
            type_ids[row.name] = row.id
    current: dict[int, Any] = {}
    if not fresh:
        current = {
            row.resource_type_id: row
            for row in conn.execute(select(assoc).where(assoc.c.namespace_id == namespace_id))
        }
    inserts = []
    updates = []
    for name, values in document.associations.items():
        type_id = type_ids[name]
        old = current.get(type_id)
        if old is None:
            inserts.append(
                dict(
                    values,
                    namespace_id=namespace_id,
                    resource_type_id=type_id,
                    created_at=now,
                    updated_at=now,
                )
            )
        elif replace and any(old._mapping[k] != v for k, v in values.items()):
            updates.append(
                {
                    "_type_id": type_id,
                    "new_properties_target": values.get("properties_target"),
                    "new_prefix": values.get("prefix"),
                    "new_updated_at": now,
                }
            )
        else:
            result.skipped += 1
    if inserts:
        conn.execute(assoc.insert(), inserts)
        result.created += len(inserts)
    if updates:
        conn.execute(
            update(assoc)
            .where(
                assoc.c.namespace_id == namespace_id,
                assoc.c.resource_type_id == bindparam("_type_id"),
            )
            .values(
                properties_target=bindparam("new_properties_target"),
                prefix=bindparam("new_prefix"),
                updated_at=bindparam("new_updated_at"),
            ),
            updates,
        )
        result.updated += len(updates)


@retrying
def _unload(database: Database) -> dict[str, int]:
    counts: dict[str, int] = {}
    with database.transaction() as conn:
        for table in (
            t.metadef_namespace_resource_types,
            t.metadef_objects,
            t.metadef_properties,
            t.metadef_tags,
            t.metadef_resource_types,
            t.metadef_namespaces,
        ):
            counts[table.name] = int(conn.execute(delete(table)).rowcount)
    return counts


def unload_metadefs(db: DatabaseLike) -> dict[str, int]:
    """Delete every metadef row (one transaction); return rows deleted per table."""
    with _database(db) as database:
        counts = _unload(database)
    LOG.info("Unloaded metadata definitions: %s", counts)
    return counts


@retrying
def _read_all(database: Database) -> list[dict[str, Any]]:
    """Every namespace rendered as a file document, by name (one query per table)."""
    ns = t.metadef_namespaces
    assoc = t.metadef_namespace_resource_types
    rt = t.metadef_resource_types
    with database.transaction(write=False) as conn:
        namespaces = conn.execute(select(ns).order_by(ns.c.namespace)).all()
        children: dict[str, dict[int, list[Any]]] = {}
        for label, query in (
            ("properties", select(t.metadef_properties).order_by(t.metadef_properties.c.id)),
            ("objects", select(t.metadef_objects).order_by(t.metadef_objects.c.id)),
            ("tags", select(t.metadef_tags).order_by(t.metadef_tags.c.id)),
            (
                "associations",
                select(assoc, rt.c.name)
                .join_from(assoc, rt, assoc.c.resource_type_id == rt.c.id)
                .order_by(rt.c.name),
            ),
        ):
            grouped: dict[int, list[Any]] = {}
            for row in conn.execute(query):
                grouped.setdefault(row.namespace_id, []).append(row._mapping)
            children[label] = grouped
    return [
        render_document(
            row._mapping,
            children["associations"].get(row.id, []),
            children["properties"].get(row.id, []),
            children["objects"].get(row.id, []),
            children["tags"].get(row.id, []),
        )
        for row in namespaces
    ]


def export_metadefs(db: DatabaseLike, path: str) -> list[str]:
    """Write one JSON file per namespace into the directory ``path`` (created
    when missing), in the format :func:`load_metadefs` reads; return the files.
    """
    with _database(db) as database:
        documents = _read_all(database)
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as exc:
        raise Invalid(f"Cannot create the export directory {path!r}: {exc.strerror}") from None
    written: list[str] = []
    taken: set[str] = set()
    for document in documents:
        file_path = os.path.join(path, file_name_for(document["namespace"], taken))
        try:
            with open(file_path, "w", encoding="utf-8") as handle:
                json.dump(document, handle, indent=4, ensure_ascii=False)
                handle.write("\n")
        except OSError as exc:
            raise Invalid(f"Cannot write {file_path!r}: {exc.strerror}") from None
        written.append(file_path)
    LOG.info("Exported %d namespaces to %s", len(written), path)
    return written


#: Where Glance installs its catalogue: the default path of the aliases below.
GLANCE_METADEFS_PATH = "/etc/glance/metadefs"


def db_load_metadefs(
    engine: DatabaseLike,
    metadata_path: str | None = None,
    merge: bool = False,
    prefer_new: bool = False,
    overwrite: bool = False,
) -> LoadSummary:
    """:func:`load_metadefs` under the name and parameters Glance's loader uses."""
    return load_metadefs(
        engine, metadata_path or GLANCE_METADEFS_PATH, merge, prefer_new, overwrite
    )


def db_unload_metadefs(engine: DatabaseLike) -> dict[str, int]:
    """:func:`unload_metadefs` under the name Glance's loader uses."""
    return unload_metadefs(engine)


def db_export_metadefs(engine: DatabaseLike, metadata_path: str | None = None) -> list[str]:
    """:func:`export_metadefs` under the name and parameters Glance's loader uses."""
    return export_metadefs(engine, metadata_path or GLANCE_METADEFS_PATH)
