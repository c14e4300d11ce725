"""What objects, properties and tags share: named definitions inside a namespace.

Each kind is described by a :class:`Kind`; the functions below implement the
common create / get / list / update / delete / count operations on a
connection of the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Row, Table, delete, func, select, update

from glancedb.context import ContextLike
from glancedb.driver_errors import duplicate_as
from glancedb.exception import (
    Duplicate,
    Invalid,
    MetadefDuplicateObject,
    MetadefDuplicateProperty,
    MetadefDuplicateTag,
    MetadefObjectNotFound,
    MetadefPropertyNotFound,
    MetadefTagNotFound,
    NotFound,
)
from glancedb.metadefs.common import (
    namespace_row,
    object_record,
    property_record,
    require_name,
    tag_record,
    writable_values,
)
from glancedb.models import tables as t
from glancedb.records import Record, dump_json
from glancedb.rows import creation_times, inserted_id, row_id
from glancedb.timeutils import utcnow
from glancedb.validation import check_lengths, lookup_key


@dataclass(frozen=True)
class Kind:
    """One kind of namespace definition (object, property or tag)."""

    label: str
    table: Table
    not_found: type[NotFound]
    duplicate: type[Duplicate]
    record: Callable[[Row[Any] | Mapping[str, Any]], Record]
    json_columns: tuple[str, ...] = ()
    # JSON columns that are NOT NULL: {} when a create omits them.
    required_json: tuple[str, ...] = ()
    # Text columns that also take a list of names, stored comma-joined.
    name_lists: tuple[str, ...] = ()

    def duplicate_error(self, name: Any, namespace_name: Any) -> Duplicate:
        return self.duplicate(
            f"A metadata definition {self.label} {name!r} already exists "
            f"in namespace {namespace_name!r}"
        )

    def not_found_error(self, name: Any, namespace_name: Any) -> NotFound:
        return self.not_found(
            f"Metadata definition {self.label} {name!r} was not found "
            f"in namespace {namespace_name!r}"
        )


OBJECT = Kind(
    "object",
    t.metadef_objects,
    MetadefObjectNotFound,
    MetadefDuplicateObject,
    object_record,
    json_columns=("json_schema",),
    required_json=("json_schema",),
    name_lists=("required",),
)
PROPERTY = Kind(
    "property",
    t.metadef_properties,
    MetadefPropertyNotFound,
    MetadefDuplicateProperty,
    property_record,
    json_columns=("json_schema",),
    required_json=("json_schema",),
)
TAG = Kind("tag", t.metadef_tags, MetadefTagNotFound, MetadefDuplicateTag, tag_record)


def encode_json(column: str, value: Any) -> str | None:
    """The JSON text stored for ``value`` (None stays NULL)."""
    try:
        return dump_json(value)
    except (TypeError, ValueError) as exc:
        raise Invalid(f"{column} cannot be encoded as JSON: {exc}") from None


def join_names(what: str, value: Any) -> str | None:
    """The text stored for a list of names, as Glance's upper layer writes it.

    A string (or None) is stored as given; a list or tuple of strings is
    joined with commas, an empty one becoming NULL.  Glance reads the column
    back by splitting on commas, so a name holding a comma is
    :class:`Invalid`, as is any other type.
    """
    if value is None or isinstance(value, str):
        return value
    if not isinstance(value, list | tuple):
        raise Invalid(f"{what} must be a string or a list of strings, got {value!r}")
    for name in value:
        if not isinstance(name, str):
            raise Invalid(f"{what} must hold strings only, got {name!r}")
        if "," in name:
            raise Invalid(f"{what} names cannot contain a comma, got {name!r}")
    return ",".join(value) if value else None


def column_values(kind: Kind, values: Mapping[str, Any], *, creating: bool) -> dict[str, Any]:
    """``values`` as checked column values (JSON columns encoded, name lists joined).

    The namespace id, if any, is dropped: the named namespace decides it.
    """
    if isinstance(values, Mapping) and any(column in values for column in kind.name_lists):
        values = dict(values)
        for column in kind.name_lists:
            if column in values:
                values[column] = join_names(f"{kind.label} {column}", values[column])
    row = writable_values(kind.table, values, kind.label, kind.json_columns)
    row.pop("namespace_id", None)
    if creating or "name" in row:
        require_name(row, "name", f"metadata definition {kind.label}")
    for column in kind.json_columns:
        if column in row:
            if row[column] is None and column in kind.required_json:
                raise Invalid(f"{kind.label} {column} cannot be None")
            row[column] = encode_json(column, row[column])
        elif creating and column in kind.required_json:
            row[column] = encode_json(column, {})
    check_lengths(
        kind.table, {column: row[column] for column in kind.json_columns if column in row}
    )
    return row


def _name_taken(
    conn: Connection, kind: Kind, namespace_id: int, name: str, except_id: int | None = None
) -> bool:
    table = kind.table
    query = select(table.c.id).where(table.c.namespace_id == namespace_id, table.c.name == name)
    if except_id is not None:
        query = query.where(table.c.id != except_id)
    return conn.execute(query.limit(1)).first() is not None


def create(
    conn: Connection,
    context: ContextLike,
    kind: Kind,
    namespace_name: str,
    values: Mapping[str, Any],
) -> Record:
    """Insert one definition into the named (visible) namespace."""
    row = column_values(kind, values, creating=True)
    namespace = namespace_row(conn, context, namespace_name)
    name = row["name"]
    if _name_taken(conn, kind, namespace.id, name):
        raise kind.duplicate_error(name, namespace_name)
    row["namespace_id"] = namespace.id
    row.update(creation_times(values, utcnow()))
    with duplicate_as(kind.duplicate, str(kind.duplicate_error(name, namespace_name))):
        result = conn.execute(kind.table.insert().values(**row))
    ident = inserted_id(result)
    created = conn.execute(select(kind.table).where(kind.table.c.id == ident)).one()
    return kind.record(created)


def get_row(
    conn: Connection, context: ContextLike, kind: Kind, namespace_name: str, name: Any
) -> Row[Any]:
    """The definition called ``name`` in the named namespace, else NotFound."""
    namespace = namespace_row(conn, context, namespace_name)
    table = kind.table
    key = lookup_key(name, f"{kind.label} name")
    row = None
    if key is not None:
        row = conn.execute(
            select(table).where(table.c.namespace_id == namespace.id, table.c.name == key)
        ).first()
    if row is None:
        raise kind.not_found_error(name, namespace_name)
    return row


def get_all(
    conn: Connection, context: ContextLike, kind: Kind, namespace_name: str
) -> list[Record]:
    """Every definition of the kind in the named namespace, in creation order."""
    namespace = namespace_row(conn, context, namespace_name)
    table = kind.table
    rows = conn.execute(
        select(table).where(table.c.namespace_id == namespace.id).order_by(table.c.id)
    ).all()
    return [kind.record(row) for row in rows]


def update_by_id(
    conn: Connection,
    context: ContextLike,
    kind: Kind,
    namespace_name: str,
    ident: Any,
    values: Mapping[str, Any],
) -> Record:
    """Update the definition with id ``ident`` of the named namespace."""
    changes = column_values(kind, values, creating=False)
    namespace = namespace_row(conn, context, namespace_name)
    table = kind.table
    number = row_id(ident, f"{kind.label} id")
    current = None
    if number is not None:
        current = conn.execute(
            select(table).where(table.c.id == number, table.c.namespace_id == namespace.id)
        ).first()
    if current is None:
        raise kind.not_found(
            f"Metadata definition {kind.label} with id {ident!r} was not found "
            f"in namespace {namespace_name!r}"
        )
    name = changes.get("name")
    if name is not None and _name_taken(conn, kind, namespace.id, name, except_id=current.id):
        raise kind.duplicate_error(name, namespace_name)
    changes["updated_at"] = utcnow()
    with duplicate_as(kind.duplicate, str(kind.duplicate_error(name, namespace_name))):
        conn.execute(update(table).where(table.c.id == current.id).values(**changes))
    row = conn.execute(select(table).where(table.c.id == current.id)).one()
    return kind.record(row)


def delete_by_name(
    conn: Connection, context: ContextLike, kind: Kind, namespace_name: str, name: Any
) -> Record:
    """Delete the named definition; return it as it was."""
    row = get_row(conn, context, kind, namespace_name, name)
    conn.execute(delete(kind.table).where(kind.table.c.id == row.id))
    return kind.record(row)


def delete_content(conn: Connection, context: ContextLike, kind: Kind, namespace_name: str) -> int:
    """Delete every definition of the kind in the named namespace; return the count."""
    namespace = namespace_row(conn, context, namespace_name)
    table = kind.table
    result = conn.execute(delete(table).where(table.c.namespace_id == namespace.id))
    return int(result.rowcount)


def count(conn: Connection, context: ContextLike, kind: Kind, namespace_name: str) -> int:
    """How many definitions of the kind the named namespace holds."""
    namespace = namespace_row(conn, context, namespace_name)
    table = kind.table
    total = conn.execute(
        select(func.count()).select_from(table).where(table.c.namespace_id == namespace.id)
    ).scalar_one()
    return int(total)
