"""Metadef resource types and their associations with namespaces (SPEC 11)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, Row, delete, select

from glancedb.context import ContextLike
from glancedb.driver_errors import TransientError, duplicate_as
from glancedb.exception import (
    DBError,
    Invalid,
    MetadefDuplicateResourceType,
    MetadefDuplicateResourceTypeAssociation,
    MetadefIntegrityError,
    MetadefResourceTypeAssociationNotFound,
    MetadefResourceTypeNotFound,
    ProtectedMetadefResourceTypeSystemDelete,
)
from glancedb.metadefs.common import (
    association_record,
    association_select,
    namespace_row,
    require_name,
    resource_type_record,
    writable_values,
)
from glancedb.models import tables as t
from glancedb.records import Record
from glancedb.rows import creation_times, inserted_id
from glancedb.timeutils import utcnow
from glancedb.transactions import DatabaseCore, retrying
from glancedb.validation import lookup_key


def resource_type_row(conn: Connection, name: Any) -> Row[Any]:
    """The resource type called ``name``; :class:`MetadefResourceTypeNotFound` if none."""
    rt = t.metadef_resource_types
    key = lookup_key(name, "resource type name")
    row = None
    if key is not None:
        row = conn.execute(select(rt).where(rt.c.name == key)).first()
    if row is None:
        raise MetadefResourceTypeNotFound(
            f"Metadata definition resource type {name!r} was not found"
        )
    return row


def insert_resource_type(conn: Connection, values: Mapping[str, Any]) -> int:
    """Insert a resource type (checked); return its id."""
    rt = t.metadef_resource_types
    row = writable_values(rt, values, "resource type")
    name = require_name(row, "name", "resource type")
    protected = row.get("protected")
    if protected is not None and not isinstance(protected, bool | int):
        raise Invalid(f"Resource type protected must be a boolean, got {protected!r}")
    row["protected"] = bool(protected)
    row.update(creation_times(values, utcnow()))
    message = f"Metadata definition resource type {name!r} already exists"
    if conn.execute(select(rt.c.id).where(rt.c.name == name)).first() is not None:
        raise MetadefDuplicateResourceType(message)
    with duplicate_as(MetadefDuplicateResourceType, message):
        result = conn.execute(rt.insert().values(**row))
    return inserted_id(result)


def _association_values(values: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """The resource-type name and the association columns of ``values``."""
    if not isinstance(values, Mapping):
        raise Invalid(f"Association values must be a mapping, got {type(values).__name__}")
    name = require_name(values, "name", "resource type association")
    writable_values(t.metadef_resource_types, {"name": name}, "resource type")
    columns = writable_values(
        t.metadef_namespace_resource_types,
        {k: values[k] for k in ("properties_target", "prefix") if k in values},
        "resource type association",
    )
    return name, columns


def _association_row(conn: Connection, namespace_id: int, type_id: int) -> Row[Any] | None:
    """The association row joined with its resource type's name, or None."""
    assoc = t.metadef_namespace_resource_types
    return conn.execute(
        association_select().where(
            assoc.c.namespace_id == namespace_id, assoc.c.resource_type_id == type_id
        )
    ).first()


def _find_association(
    conn: Connection, context: ContextLike, namespace_name: str, resource_type_name: str
) -> tuple[int, int, Row[Any]]:
    namespace = namespace_row(conn, context, namespace_name)
    resource_type = resource_type_row(conn, resource_type_name)
    row = _association_row(conn, namespace.id, resource_type.id)
    if row is None:
        raise MetadefResourceTypeAssociationNotFound(
            f"Namespace {namespace_name!r} is not associated with resource type "
            f"{resource_type_name!r}"
        )
    return namespace.id, resource_type.id, row


class MetadefResourceTypesAPI(DatabaseCore):
    """Resource types and namespace/resource-type associations."""

    @retrying
    def metadef_resource_type_create(
        self, context: ContextLike, values: Mapping[str, Any]
    ) -> Record:
        """Create a resource type from ``values`` (``name``, ``protected``: default False).

        Raises :class:`MetadefDuplicateResourceType` when the name exists.
        """
        rt = t.metadef_resource_types
        with self._writing() as conn:
            ident = insert_resource_type(conn, values)
            row = conn.execute(select(rt).where(rt.c.id == ident)).one()
        return resource_type_record(row)

    @retrying
    def metadef_resource_type_get(self, context: ContextLike, resource_type_name: str) -> Record:
        """The resource type called ``resource_type_name``.

        Raises :class:`MetadefResourceTypeNotFound`.
        """
        with self._reading() as conn:
            return resource_type_record(resource_type_row(conn, resource_type_name))

    @retrying
    def metadef_resource_type_get_all(self, context: ContextLike) -> list[Record]:
        """Every resource type, by name."""
        rt = t.metadef_resource_types
        with self._reading() as conn:
            rows = conn.execute(select(rt).order_by(rt.c.name, rt.c.id)).all()
        return [resource_type_record(row) for row in rows]

    @retrying
    def metadef_resource_type_delete(self, context: ContextLike, resource_type_name: str) -> Record:
        """Delete a resource type; return the deleted record.

        A protected one raises :class:`ProtectedMetadefResourceTypeSystemDelete`;
        one still associated with a namespace raises :class:`MetadefIntegrityError`.
        """
        rt = t.metadef_resource_types
        assoc = t.metadef_namespace_resource_types
        with self._writing() as conn:
            row = resource_type_row(conn, resource_type_name)
            if row.protected:
                raise ProtectedMetadefResourceTypeSystemDelete(
                    f"Resource type {resource_type_name!r} is protected and cannot be deleted"
                )
            used = conn.execute(
                select(assoc.c.namespace_id).where(assoc.c.resource_type_id == row.id).limit(1)
            ).first()
            if used is not None:
                raise MetadefIntegrityError(
                    f"Resource type {resource_type_name!r} is still associated with "
                    "a namespace and cannot be deleted"
                )
            conn.execute(delete(rt).where(rt.c.id == row.id))
        return resource_type_record(row)

    @retrying
    def metadef_resource_type_association_create(
        self, context: ContextLike, namespace_name: str, values: Mapping[str, Any]
    ) -> Record:
        """Associate the named namespace with the resource type ``values['name']``.

        ``values``: ``name``, ``properties_target``, ``prefix``.  A missing
        resource type is created (unprotected).  An existing association
        raises :class:`MetadefDuplicateResourceTypeAssociation`.
        """
        name, columns = _association_values(values)
        assoc = t.metadef_namespace_resource_types
        with self._writing() as conn:
            namespace = namespace_row(conn, context, namespace_name)
            rt = t.metadef_resource_types
            found = conn.execute(select(rt.c.id).where(rt.c.name == name)).first()
            if found is not None:
                type_id = found.id
            else:
                try:
                    type_id = insert_resource_type(conn, {"name": name, "protected": False})
                except MetadefDuplicateResourceType as error:
                    # A concurrent call created it first: run the call again,
                    # in a new transaction that sees it.
                    raise TransientError(
                        DBError(f"Resource type {name!r} was created concurrently: {error.msg}")
                    ) from error
            message = (
                f"Namespace {namespace_name!r} is already associated with resource type {name!r}"
            )
            existing = conn.execute(
                select(assoc.c.namespace_id).where(
                    assoc.c.namespace_id == namespace.id, assoc.c.resource_type_id == type_id
                )
            ).first()
            if existing is not None:
                raise MetadefDuplicateResourceTypeAssociation(message)
            columns.update(creation_times(values, utcnow()))
            with duplicate_as(MetadefDuplicateResourceTypeAssociation, message):
                conn.execute(
                    assoc.insert().values(
                        namespace_id=namespace.id, resource_type_id=type_id, **columns
                    )
                )
            row = _association_row(conn, namespace.id, type_id)
        if row is None:
            raise DBError(f"The association of {namespace_name!r} with {name!r} vanished")
        return association_record(row)

    @retrying
    def metadef_resource_type_association_get(
        self, context: ContextLike, namespace_name: str, resource_type_name: str
    ) -> Record:
        """The association of the named namespace with ``resource_type_name``.

        Raises :class:`MetadefResourceTypeNotFound` (unknown resource type) or
        :class:`MetadefResourceTypeAssociationNotFound`.
        """
        with self._reading() as conn:
            row = _find_association(conn, context, namespace_name, resource_type_name)[2]
        return association_record(row)

    @retrying
    def metadef_resource_type_association_delete(
        self, context: ContextLike, namespace_name: str, resource_type_name: str
    ) -> Record:
        """Remove the association; return the deleted record (the resource type stays)."""
        assoc = t.metadef_namespace_resource_types
        with self._writing() as conn:
            namespace_id, type_id, row = _find_association(
                conn, context, namespace_name, resource_type_name
            )
            conn.execute(
                delete(assoc).where(
                    assoc.c.namespace_id == namespace_id, assoc.c.resource_type_id == type_id
                )
            )
        return association_record(row)

    @retrying
    def metadef_resource_type_association_get_all_by_namespace(
        self, context: ContextLike, namespace_name: str
    ) -> list[Record]:
        """Every association of the named namespace, by resource-type name."""
        assoc = t.metadef_namespace_resource_types
        rt = t.metadef_resource_types
        with self._reading() as conn:
            namespace = namespace_row(conn, context, namespace_name)
            rows = conn.execute(
                association_select().where(assoc.c.namespace_id == namespace.id).order_by(rt.c.name)
            ).all()
        return [association_record(row) for row in rows]
