"""Helpers shared by every metadef area: lookups, visibility, records, paging.

Every function here works on a :class:`~sqlalchemy.Connection` that belongs
to the caller's transaction, so that an API call stays one transaction.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import (
    Connection,
    Row,
    Select,
    String,
    Table,
    or_,
    select,
)
from sqlalchemy.sql.elements import ColumnElement

from glancedb.context import ContextLike, context_is_admin, context_owner
from glancedb.exception import (
    Invalid,
    InvalidSortKey,
    MetadefForbidden,
    MetadefNamespaceNotFound,
)
from glancedb.keyset import OrderKey, check_direction, with_tie_breakers
from glancedb.models import tables as t
from glancedb.records import Record, load_json
from glancedb.rows import row_id
from glancedb.validation import (
    check_lengths,
    check_mapping,
    lookup_key,
    reject_unstorable_text,
)

NAMESPACE_VISIBILITIES = frozenset({"public", "private"})

# Keys the database sets itself: ignored in ``values`` (as Glance drops them).
PROTECTED_KEYS = frozenset({"id", "created_at", "updated_at", "deleted", "deleted_at"})


# --- visibility and namespace lookups ---------------------------------------------


def is_namespace_visible(context: ContextLike, namespace: Mapping[Any, Any]) -> bool:
    """Admin, owner None, public, or owned by the context owner."""
    if context_is_admin(context):
        return True
    owner = namespace["owner"]
    if owner is None or namespace["visibility"] == "public":
        return True
    ctx_owner = context_owner(context)
    return ctx_owner is not None and ctx_owner == owner


def check_namespace_visible(context: ContextLike, namespace: Mapping[Any, Any]) -> None:
    """Raise :class:`MetadefForbidden` unless ``context`` may see ``namespace``."""
    if not is_namespace_visible(context, namespace):
        raise MetadefForbidden(
            f"You are not authorized to access metadata definition namespace "
            f"{namespace['namespace']!r}"
        )


def listing_condition(context: ContextLike) -> ColumnElement[bool] | None:
    """SQL condition selecting the namespaces ``context`` may list (None = all)."""
    if context_is_admin(context):
        return None
    ns = t.metadef_namespaces
    owner = context_owner(context)
    if owner is None:
        return ns.c.visibility == "public"
    return or_(ns.c.visibility == "public", ns.c.owner == owner)


def namespace_row(conn: Connection, context: ContextLike, namespace_name: Any) -> Row[Any]:
    """The visible namespace called ``namespace_name``.

    A name no namespace can have (see :func:`~glancedb.validation.lookup_key`)
    is not looked up.  Raises :class:`MetadefNamespaceNotFound` or
    :class:`MetadefForbidden`.
    """
    ns = t.metadef_namespaces
    name = lookup_key(namespace_name, "namespace name")
    row = None
    if name is not None:
        row = conn.execute(select(ns).where(ns.c.namespace == name)).first()
    if row is None:
        raise MetadefNamespaceNotFound(
            f"Metadata definition namespace {namespace_name!r} was not found"
        )
    check_namespace_visible(context, row._mapping)
    return row


def namespace_row_by_id(conn: Connection, context: ContextLike, namespace_id: Any) -> Row[Any]:
    """The visible namespace with id ``namespace_id`` (NotFound / Forbidden)."""
    ns = t.metadef_namespaces
    ident = row_id(namespace_id, "namespace id")
    row = None
    if ident is not None:
        row = conn.execute(select(ns).where(ns.c.id == ident)).first()
    if row is None:
        raise MetadefNamespaceNotFound(
            f"Metadata definition namespace with id {namespace_id!r} was not found"
        )
    check_namespace_visible(context, row._mapping)
    return row


# --- input checks ---------------------------------------------------------------


def writable_values(
    table: Table, values: Mapping[str, Any], what: str, json_columns: tuple[str, ...] = ()
) -> dict[str, Any]:
    """The column values of ``values`` that a caller may set, checked.

    Keys that are not columns of ``table`` are ignored (Glance drops them
    too).  Any string anywhere with a 4-byte character, a string longer than
    its column, or a non-string for a text column (``json_columns`` take any
    JSON value) raises :class:`Invalid`.
    """
    check_mapping(f"{what} values", values)
    reject_unstorable_text(dict(values), what)
    kept = {
        k: v
        for k, v in values.items()
        if isinstance(k, str) and k in table.c and k not in PROTECTED_KEYS
    }
    for key, value in kept.items():
        if (
            value is not None
            and key not in json_columns
            and isinstance(table.c[key].type, String)
            and not isinstance(value, str)
        ):
            raise Invalid(f"{what} {key} must be a string, got {value!r}")
    check_lengths(table, kept)
    return kept


def require_name(values: Mapping[str, Any], key: str, what: str) -> str:
    """The non-empty string ``values[key]``, else :class:`Invalid`."""
    name = values.get(key)
    if not isinstance(name, str) or not name:
        raise Invalid(f"A {what} needs a non-empty string {key!r}, got {name!r}")
    return name


# --- records ----------------------------------------------------------------------


def namespace_record(row: Row[Any] | Mapping[str, Any]) -> Record:
    """A namespace row as a record of its columns."""
    data = row._mapping if isinstance(row, Row) else row
    return Record((c.name, data[c.name]) for c in t.metadef_namespaces.c)


def object_record(row: Row[Any] | Mapping[str, Any]) -> Record:
    """An object row as a record; ``json_schema`` decoded.

    ``required`` is not JSON: it comes back as stored (Glance's upper layer
    writes it comma-joined and splits it when reading).
    """
    data = row._mapping if isinstance(row, Row) else row
    record = Record((c.name, data[c.name]) for c in t.metadef_objects.c)
    record["json_schema"] = load_json(record["json_schema"])
    return record


def property_record(row: Row[Any] | Mapping[str, Any]) -> Record:
    """A property row as a record; ``json_schema`` decoded."""
    data = row._mapping if isinstance(row, Row) else row
    record = Record((c.name, data[c.name]) for c in t.metadef_properties.c)
    record["json_schema"] = load_json(record["json_schema"])
    return record


def tag_record(row: Row[Any] | Mapping[str, Any]) -> Record:
    """A tag row as a record."""
    data = row._mapping if isinstance(row, Row) else row
    return Record((c.name, data[c.name]) for c in t.metadef_tags.c)


def resource_type_record(row: Row[Any] | Mapping[str, Any]) -> Record:
    """A resource-type row as a record."""
    data = row._mapping if isinstance(row, Row) else row
    return Record((c.name, data[c.name]) for c in t.metadef_resource_types.c)


ASSOCIATION_COLUMNS = ("name", "properties_target", "prefix", "created_at", "updated_at")


def association_select() -> Select[Any]:
    """Associations joined with their resource type's name."""
    assoc = t.metadef_namespace_resource_types
    rt = t.metadef_resource_types
    return select(
        rt.c.name,
        assoc.c.properties_target,
        assoc.c.prefix,
        assoc.c.created_at,
        assoc.c.updated_at,
    ).join_from(assoc, rt, assoc.c.resource_type_id == rt.c.id)


def association_record(row: Row[Any] | Mapping[str, Any]) -> Record:
    """``{name, properties_target, prefix, created_at, updated_at}``."""
    data = row._mapping if isinstance(row, Row) else row
    return Record((c, data[c]) for c in ASSOCIATION_COLUMNS)


# --- sorting ------------------------------------------------------------------------


def sort_order(table: Table, sort_key: Any, sort_dir: Any) -> list[OrderKey]:
    """The keyset order ``[sort_key, 'created_at', 'id']``, all in ``sort_dir``.

    Raises :class:`InvalidSortKey` for a key that is not a column of
    ``table`` and :class:`InvalidSortDir` for a direction other than
    ``asc``/``desc``.
    """
    if not isinstance(sort_key, str) or sort_key not in table.c:
        raise InvalidSortKey(f"Sort key {sort_key!r} is not a column of {table.name}")
    direction = check_direction(sort_dir)
    columns = with_tie_breakers([table.c[sort_key]], [table.c.created_at, table.c.id])
    return [OrderKey(column, direction) for column in columns]
