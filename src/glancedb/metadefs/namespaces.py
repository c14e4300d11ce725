"""Metadef namespaces: list, get, create, update, cascading delete (SPEC 11)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, delete, exists, select, update

from glancedb.context import ContextLike, context_owner
from glancedb.driver_errors import duplicate_as
from glancedb.exception import Invalid, MetadefDuplicateNamespace
from glancedb.keyset import check_limit, paginate
from glancedb.metadefs.common import (
    NAMESPACE_VISIBILITIES,
    listing_condition,
    namespace_record,
    namespace_row,
    namespace_row_by_id,
    require_name,
    sort_order,
    writable_values,
)
from glancedb.models import tables as t
from glancedb.records import Record
from glancedb.rows import creation_times, in_list, inserted_id
from glancedb.timeutils import utcnow
from glancedb.transactions import DatabaseCore, retrying
from glancedb.validation import check_lengths, check_mapping, check_scalar, filter_text


def check_namespace_values(values: dict[str, Any]) -> None:
    """Normalise ``visibility`` and ``protected`` in place."""
    visibility = values.get("visibility")
    if visibility is not None and visibility not in NAMESPACE_VISIBILITIES:
        raise Invalid(f"Namespace visibility {visibility!r} is invalid: use 'public' or 'private'")
    protected = values.get("protected")
    if protected is not None:
        if not isinstance(protected, bool | int):
            raise Invalid(f"Namespace protected must be a boolean, got {protected!r}")
        values["protected"] = bool(protected)
    if "owner" in values and values["owner"] is None:
        raise Invalid("A namespace owner cannot be None")


def _name_taken(conn: Connection, name: str, except_id: int | None = None) -> bool:
    ns = t.metadef_namespaces
    query = select(ns.c.id).where(ns.c.namespace == name)
    if except_id is not None:
        query = query.where(ns.c.id != except_id)
    return conn.execute(query.limit(1)).first() is not None


def insert_namespace(conn: Connection, context: ContextLike, values: Mapping[str, Any]) -> int:
    """Insert a namespace row (checked) in ``conn``'s transaction; return its id."""
    row = writable_values(t.metadef_namespaces, values, "namespace")
    name = require_name(row, "namespace", "namespace")
    if "owner" not in row:
        # The context's project becomes the owner: checked as a given one is.
        row["owner"] = context_owner(context)
        check_lengths(t.metadef_namespaces, row)
    if row["owner"] is None:
        raise Invalid(f"Namespace {name!r} needs an owner (the context has none)")
    check_namespace_values(row)
    row.update(creation_times(values, utcnow()))
    if _name_taken(conn, name):
        raise MetadefDuplicateNamespace(f"Metadata definition namespace {name!r} already exists")
    ns = t.metadef_namespaces
    with duplicate_as(
        MetadefDuplicateNamespace, f"Metadata definition namespace {name!r} already exists"
    ):
        result = conn.execute(ns.insert().values(**row))
    return inserted_id(result)


def delete_namespace_content(conn: Connection, namespace_id: int) -> dict[str, int]:
    """Delete a namespace's tags, objects, properties and associations."""
    counts: dict[str, int] = {}
    for table in (
        t.metadef_tags,
        t.metadef_objects,
        t.metadef_properties,
        t.metadef_namespace_resource_types,
    ):
        result = conn.execute(delete(table).where(table.c.namespace_id == namespace_id))
        counts[table.name] = result.rowcount
    return counts


class MetadefNamespacesAPI(DatabaseCore):
    """Metadata-definition namespaces."""

    @retrying
    def metadef_namespace_get_all(
        self,
        context: ContextLike,
        marker: Any = None,
        limit: Any = None,
        sort_key: str = "created_at",
        sort_dir: str = "desc",
        filters: Mapping[str, Any] | None = None,
    ) -> list[Record]:
        """List the namespaces ``context`` may see (admin: all; others: public + own).

        ``filters``: ``visibility`` (equality) and ``resource_types`` (a
        comma-separated string or a list of resource-type names: only
        namespaces associated with one of them).  ``marker`` is a namespace
        **id**: the page starts after it in the order ``[sort_key,
        'created_at', 'id']`` (one ``sort_dir`` for all).
        """
        ns = t.metadef_namespaces
        keys = sort_order(ns, sort_key, sort_dir)
        page_limit = check_limit(limit)
        filters = check_mapping("filters", filters) if filters is not None else {}
        query = select(ns)
        condition = listing_condition(context)
        if condition is not None:
            query = query.where(condition)
        visibility = filters.get("visibility")
        if visibility:
            check_scalar("Filter 'visibility'", visibility)
            wanted = filter_text("visibility", str(visibility))
            if wanted is None:
                return []
            query = query.where(ns.c.visibility == wanted)
        requested = _resource_type_names(filters.get("resource_types"))
        names = [name for name in requested if filter_text("resource_types", name) is not None]
        if requested and not names:
            return []
        if names:
            assoc = t.metadef_namespace_resource_types
            rt = t.metadef_resource_types
            query = query.where(
                exists(
                    select(assoc.c.namespace_id)
                    .join_from(assoc, rt, assoc.c.resource_type_id == rt.c.id)
                    .where(
                        assoc.c.namespace_id == ns.c.id,
                        in_list(rt.c.name, self.engine.dialect.name, values=names),
                    )
                )
            )
        with self._reading() as conn:
            marker_row = None
            if marker is not None:
                marker_row = namespace_row_by_id(conn, context, marker)._mapping
            rows = conn.execute(paginate(query, keys, marker_row, page_limit)).all()
        return [namespace_record(row) for row in rows]

    @retrying
    def metadef_namespace_get(self, context: ContextLike, namespace_name: str) -> Record:
        """The namespace called ``namespace_name``.

        Raises :class:`MetadefNamespaceNotFound` or :class:`MetadefForbidden`.
        """
        with self._reading() as conn:
            return namespace_record(namespace_row(conn, context, namespace_name))

    @retrying
    def metadef_namespace_create(self, context: ContextLike, values: Mapping[str, Any]) -> Record:
        """Create a namespace from ``values`` (``namespace`` required; ``owner``
        defaults to the context owner).

        Raises :class:`MetadefDuplicateNamespace` when the name exists.
        """
        with self._writing() as conn:
            ident = insert_namespace(conn, context, values)
            row = conn.execute(
                select(t.metadef_namespaces).where(t.metadef_namespaces.c.id == ident)
            ).one()
        return namespace_record(row)

    @retrying
    def metadef_namespace_update(
        self, context: ContextLike, namespace_id: Any, namespace_dict: Mapping[str, Any]
    ) -> Record:
        """Update the namespace with id ``namespace_id`` from ``namespace_dict``.

        Renaming onto an existing name raises :class:`MetadefDuplicateNamespace`.
        """
        ns = t.metadef_namespaces
        changes = writable_values(ns, namespace_dict, "namespace")
        check_namespace_values(changes)
        if "namespace" in changes:
            require_name(changes, "namespace", "namespace")
        with self._writing() as conn:
            current = namespace_row_by_id(conn, context, namespace_id)
            ident = current.id
            name = changes.get("namespace")
            message = f"Metadata definition namespace {name!r} already exists"
            if name is not None and _name_taken(conn, name, except_id=ident):
                raise MetadefDuplicateNamespace(message)
            changes["updated_at"] = utcnow()
            with duplicate_as(MetadefDuplicateNamespace, message):
                conn.execute(update(ns).where(ns.c.id == ident).values(**changes))
            row = conn.execute(select(ns).where(ns.c.id == ident)).one()
        return namespace_record(row)

    @retrying
    def metadef_namespace_delete(self, context: ContextLike, namespace_name: str) -> Record:
        """Delete a namespace with its tags, objects, properties and
        resource-type associations (one transaction); return the deleted record.
        """
        ns = t.metadef_namespaces
        with self._writing() as conn:
            row = namespace_row(conn, context, namespace_name)
            delete_namespace_content(conn, row.id)
            conn.execute(delete(ns).where(ns.c.id == row.id))
        return namespace_record(row)


def _resource_type_names(value: Any) -> list[str]:
    """``resource_types`` filter: a comma-separated string or a list of names."""
    if not value:
        return []
    if isinstance(value, str):
        items: list[Any] = value.split(",")
    elif isinstance(value, list | tuple | set | frozenset):
        items = list(value)
    else:
        raise Invalid(f"Filter 'resource_types' needs names, got {value!r}")
    for item in items:
        check_scalar("Filter 'resource_types'", item)
    return [str(item).strip() for item in items if str(item).strip()]
