"""Metadef properties: property schemas (SPEC 11)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from glancedb.context import ContextLike
from glancedb.metadefs import definitions as d
from glancedb.records import Record
from glancedb.transactions import DatabaseCore, retrying


class MetadefPropertiesAPI(DatabaseCore):
    """Property definitions inside namespaces."""

    @retrying
    def metadef_property_create(
        self, context: ContextLike, namespace_name: str, property_dict: Mapping[str, Any]
    ) -> Record:
        """Create a property in the named namespace from ``property_dict``.

        Keys: ``name`` and ``json_schema`` (the property's schema, any JSON value).

        Raises :class:`MetadefDuplicateProperty` when the name exists in the namespace.
        """
        with self._writing() as conn:
            return d.create(conn, context, d.PROPERTY, namespace_name, property_dict)

    @retrying
    def metadef_property_get(
        self, context: ContextLike, namespace_name: str, property_name: str
    ) -> Record:
        """The property called ``property_name``; :class:`MetadefPropertyNotFound` if none."""
        with self._reading() as conn:
            return d.PROPERTY.record(
                d.get_row(conn, context, d.PROPERTY, namespace_name, property_name)
            )

    @retrying
    def metadef_property_get_all(self, context: ContextLike, namespace_name: str) -> list[Record]:
        """Every property of the named namespace, in creation order."""
        with self._reading() as conn:
            return d.get_all(conn, context, d.PROPERTY, namespace_name)

    @retrying
    def metadef_property_update(
        self,
        context: ContextLike,
        namespace_name: str,
        property_id: Any,
        property_dict: Mapping[str, Any],
    ) -> Record:
        """Update the property with id ``property_id`` (in the named namespace)."""
        with self._writing() as conn:
            return d.update_by_id(
                conn, context, d.PROPERTY, namespace_name, property_id, property_dict
            )

    @retrying
    def metadef_property_delete(
        self, context: ContextLike, namespace_name: str, property_name: str
    ) -> Record:
        """Delete the property called ``property_name``; return the deleted record."""
        with self._writing() as conn:
            return d.delete_by_name(conn, context, d.PROPERTY, namespace_name, property_name)

    @retrying
    def metadef_property_delete_namespace_content(
        self, context: ContextLike, namespace_name: str
    ) -> int:
        """Delete every property of the named namespace; return how many."""
        with self._writing() as conn:
            return d.delete_content(conn, context, d.PROPERTY, namespace_name)

    @retrying
    def metadef_property_count(self, context: ContextLike, namespace_name: str) -> int:
        """The number of properties in the named namespace."""
        with self._reading() as conn:
            return d.count(conn, context, d.PROPERTY, namespace_name)
