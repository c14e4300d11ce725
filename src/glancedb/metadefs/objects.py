"""Metadef objects: named groups of property schemas (SPEC 11)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from glancedb.context import ContextLike
from glancedb.metadefs import definitions as d
from glancedb.records import Record
from glancedb.transactions import DatabaseCore, retrying


class MetadefObjectsAPI(DatabaseCore):
    """Object definitions inside namespaces."""

    @retrying
    def metadef_object_create(
        self, context: ContextLike, namespace_name: str, object_dict: Mapping[str, Any]
    ) -> Record:
        """Create an object in the named namespace from ``object_dict``.

        Keys: ``name``, ``description``, ``required`` and ``json_schema`` (the
        object's property schemas, stored as JSON text; a string comes back
        as the same string).  ``required`` is the text Glance's upper layer
        sends (the required property names joined with commas) and is
        stored and returned as given; a list or tuple of names is stored
        comma-joined (an empty one as None).

        Raises :class:`MetadefDuplicateObject` when the name exists in the
        namespace; :class:`Invalid` when ``required`` is neither a string nor
        a list of strings, or one of its names contains a comma.
        """
        with self._writing() as conn:
            return d.create(conn, context, d.OBJECT, namespace_name, object_dict)

    @retrying
    def metadef_object_get(
        self, context: ContextLike, namespace_name: str, object_name: str
    ) -> Record:
        """The object called ``object_name``; :class:`MetadefObjectNotFound` if none."""
        with self._reading() as conn:
            return d.OBJECT.record(d.get_row(conn, context, d.OBJECT, namespace_name, object_name))

    @retrying
    def metadef_object_get_all(self, context: ContextLike, namespace_name: str) -> list[Record]:
        """Every object of the named namespace, in creation order."""
        with self._reading() as conn:
            return d.get_all(conn, context, d.OBJECT, namespace_name)

    @retrying
    def metadef_object_update(
        self,
        context: ContextLike,
        namespace_name: str,
        object_id: Any,
        object_dict: Mapping[str, Any],
    ) -> Record:
        """Update the object with id ``object_id`` (in the named namespace).

        ``object_dict`` takes the keys of :meth:`metadef_object_create`, with
        the same handling of ``required``.
        """
        with self._writing() as conn:
            return d.update_by_id(conn, context, d.OBJECT, namespace_name, object_id, object_dict)

    @retrying
    def metadef_object_delete(
        self, context: ContextLike, namespace_name: str, object_name: str
    ) -> Record:
        """Delete the object called ``object_name``; return the deleted record."""
        with self._writing() as conn:
            return d.delete_by_name(conn, context, d.OBJECT, namespace_name, object_name)

    @retrying
    def metadef_object_delete_namespace_content(
        self, context: ContextLike, namespace_name: str
    ) -> int:
        """Delete every object of the named namespace; return how many."""
        with self._writing() as conn:
            return d.delete_content(conn, context, d.OBJECT, namespace_name)

    @retrying
    def metadef_object_count(self, context: ContextLike, namespace_name: str) -> int:
        """The number of objects in the named namespace."""
        with self._reading() as conn:
            return d.count(conn, context, d.OBJECT, namespace_name)
