"""Metadef tags: tag names (SPEC 11)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import ColumnElement, delete, select

from glancedb.context import ContextLike
from glancedb.driver_errors import duplicate_as
from glancedb.exception import Invalid
from glancedb.keyset import check_limit, paginate
from glancedb.metadefs import definitions as d
from glancedb.metadefs.common import (
    namespace_row,
    sort_order,
    tag_record,
)
from glancedb.models import tables as t
from glancedb.records import Record
from glancedb.rows import creation_times, in_list, row_id
from glancedb.timeutils import utcnow
from glancedb.transactions import DatabaseCore, retrying
from glancedb.validation import check_datetime, check_mapping, check_scalar, filter_text

# Filter keys naming tag columns; any other key (Glance's upper layer passes
# ``namespace``, for instance) is ignored.
_FILTER_COLUMNS = ("name", "id", "created_at", "updated_at")


def _filter_conditions(filters: Any) -> list[ColumnElement[bool]] | None:
    """``metadef_tag_get_all``'s filters as conditions; None when no tag can match."""
    if filters is None:
        return []
    check_mapping("filters", filters)
    tags = t.metadef_tags
    conditions: list[ColumnElement[bool]] = []
    for key in _FILTER_COLUMNS:
        value = filters.get(key)
        if value is None:
            continue
        check_scalar(f"Filter {key!r}", value)
        if key == "id":
            ident = row_id(value, "Filter 'id'")
            if ident is None:
                return None
            conditions.append(tags.c.id == ident)
        elif key in ("created_at", "updated_at"):
            conditions.append(tags.c[key] == check_datetime(f"Filter {key!r}", value))
        else:
            text = filter_text(key, value if isinstance(value, str) else str(value))
            if text is None:
                return None
            conditions.append(tags.c[key] == text)
    return conditions


class MetadefTagsAPI(DatabaseCore):
    """Tag definitions inside namespaces."""

    @retrying
    def metadef_tag_create(
        self, context: ContextLike, namespace_name: str, tag_dict: Mapping[str, Any]
    ) -> Record:
        """Create a tag in the named namespace from ``tag_dict`` (``name``).

        Raises :class:`MetadefDuplicateTag` when the name exists in the namespace.
        """
        with self._writing() as conn:
            return d.create(conn, context, d.TAG, namespace_name, tag_dict)

    @retrying
    def metadef_tag_get(self, context: ContextLike, namespace_name: str, name: str) -> Record:
        """The tag called ``name``; :class:`MetadefTagNotFound` if none."""
        with self._reading() as conn:
            return d.TAG.record(d.get_row(conn, context, d.TAG, namespace_name, name))

    @retrying
    def metadef_tag_update(
        self, context: ContextLike, namespace_name: str, id: Any, tag_dict: Mapping[str, Any]
    ) -> Record:
        """Update the tag with id ``id`` (in the named namespace)."""
        with self._writing() as conn:
            return d.update_by_id(conn, context, d.TAG, namespace_name, id, tag_dict)

    @retrying
    def metadef_tag_delete(self, context: ContextLike, namespace_name: str, name: str) -> Record:
        """Delete the tag called ``name``; return the deleted record."""
        with self._writing() as conn:
            return d.delete_by_name(conn, context, d.TAG, namespace_name, name)

    @retrying
    def metadef_tag_delete_namespace_content(
        self, context: ContextLike, namespace_name: str
    ) -> int:
        """Delete every tag of the named namespace; return how many."""
        with self._writing() as conn:
            return d.delete_content(conn, context, d.TAG, namespace_name)

    @retrying
    def metadef_tag_count(self, context: ContextLike, namespace_name: str) -> int:
        """The number of tags in the named namespace."""
        with self._reading() as conn:
            return d.count(conn, context, d.TAG, namespace_name)

    @retrying
    def metadef_tag_get_all(
        self,
        context: ContextLike,
        namespace_name: str,
        filters: Mapping[str, Any] | None = None,
        marker: Any = None,
        limit: Any = None,
        sort_key: str = "created_at",
        sort_dir: str = "desc",
    ) -> list[Record]:
        """The tags of the named namespace, sorted and paged.

        Order ``[sort_key, 'created_at', 'id']`` in ``sort_dir``; ``marker`` is
        a tag **id** of this namespace (the page starts after it); ``filters``
        may hold ``name`` (and other tag columns) for equality, other keys
        are ignored.
        """
        tags = t.metadef_tags
        keys = sort_order(tags, sort_key, sort_dir)
        page_limit = check_limit(limit)
        conditions = _filter_conditions(filters)
        with self._reading() as conn:
            namespace = namespace_row(conn, context, namespace_name)
            if conditions is None:
                return []
            query = select(tags).where(tags.c.namespace_id == namespace.id, *conditions)
            marker_row = None
            if marker is not None:
                ident = row_id(marker, "marker")
                if ident is not None:
                    marker_row = conn.execute(
                        select(tags).where(tags.c.id == ident, tags.c.namespace_id == namespace.id)
                    ).first()
                if marker_row is None:
                    raise d.TAG.not_found(
                        f"Marker tag with id {marker!r} was not found "
                        f"in namespace {namespace_name!r}"
                    )
            marker_values = None if marker_row is None else marker_row._mapping
            rows = conn.execute(paginate(query, keys, marker_values, page_limit)).all()
        return [tag_record(row) for row in rows]

    @retrying
    def metadef_tag_create_tags(
        self,
        context: ContextLike,
        namespace_name: str,
        tag_list: list[Mapping[str, Any]],
        can_append: bool = False,
    ) -> list[Record]:
        """Create many tags in the named namespace at once; return them.

        An empty ``tag_list`` does nothing.  Without ``can_append`` the
        namespace's existing tags are deleted first.  A name repeated in the
        list, or (when appending) already present, raises
        :class:`MetadefDuplicateTag` and nothing changes.
        """
        if tag_list is not None and not isinstance(tag_list, list | tuple):
            raise Invalid(f"tag_list must be a list of tags, got {tag_list!r}")
        if not tag_list:
            return []
        rows = []
        now = utcnow()
        for item in tag_list:
            if isinstance(item, str):
                item = {"name": item}
            rows.append(d.column_values(d.TAG, item, creating=True) | creation_times(item, now))
        names = [row["name"] for row in rows]
        seen: set[str] = set()
        for name in names:
            if name in seen:
                raise d.TAG.duplicate_error(name, namespace_name)
            seen.add(name)
        tags = t.metadef_tags
        with self._writing() as conn:
            namespace = namespace_row(conn, context, namespace_name)
            if can_append:
                existing = conn.execute(
                    select(tags.c.name)
                    .where(
                        tags.c.namespace_id == namespace.id,
                        in_list(tags.c.name, conn.dialect.name, values=names),
                    )
                    .limit(1)
                ).first()
                if existing is not None:
                    raise d.TAG.duplicate_error(existing.name, namespace_name)
            else:
                conn.execute(delete(tags).where(tags.c.namespace_id == namespace.id))
            for row in rows:
                row["namespace_id"] = namespace.id
            with duplicate_as(d.TAG.duplicate, f"Duplicate tag in {names!r}"):
                conn.execute(tags.insert(), rows)
            created = conn.execute(
                select(tags)
                .where(
                    tags.c.namespace_id == namespace.id,
                    in_list(tags.c.name, conn.dialect.name, values=names),
                )
                .order_by(tags.c.id)
            ).all()
        by_name = {row.name: row for row in created}
        return [tag_record(by_name[name]) for name in names]
