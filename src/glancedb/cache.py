"""Image-cache records: cache nodes and the images cached on them (SPEC 10b).

``node_reference`` names each cache node by URL; ``cached_images`` says which
image is cached on which node, with its size, hit count and times.  Neither
table has soft delete.
"""

from __future__ import annotations

import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    delete,
    exists,
    false,
    func,
    insert,
    literal,
    select,
    update,
)
from sqlalchemy.sql.selectable import ScalarSelect

from glancedb.context import ContextLike
from glancedb.exception import Duplicate, Invalid, NotFound
from glancedb.models import tables as t
from glancedb.records import Record
from glancedb.timeutils import from_timestamp, to_timestamp, utcnow
from glancedb.transactions import DatabaseCore, retrying
from glancedb.validation import (
    check_datetime,
    check_int32,
    check_lengths,
    check_text,
    lookup_key,
    reject_unstorable_text,
    to_int,
)

_nodes = t.node_reference
_cached = t.cached_images


def _node_id_of(node_reference_url: str) -> ScalarSelect[Any]:
    """Scalar subquery: the id of the node with that URL (NULL if none)."""
    return (
        select(_nodes.c.node_reference_id)
        .where(_nodes.c.node_reference_url == node_reference_url)
        .scalar_subquery()
    )


def _on_node(node_reference_url: Any) -> ColumnElement[bool]:
    """Entries of the node with that URL (none for a URL no node can have)."""
    url = lookup_key(node_reference_url, "node_reference_url")
    if url is None:
        return false()
    return _cached.c.node_reference_id == _node_id_of(url)


def _of_image(image_id: Any) -> ColumnElement[bool]:
    """Entries of the image ``image_id`` (none for an id no image can have)."""
    key = lookup_key(image_id, "image_id")
    return false() if key is None else _cached.c.image_id == key


def _as_time(name: str, value: Any, default: datetime.datetime) -> datetime.datetime:
    """A datetime (aware → naive UTC) or a POSIX timestamp, as naive UTC."""
    if value is None:
        return default
    if isinstance(value, datetime.datetime):
        return check_datetime(name, value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            return from_timestamp(value)
        except (OverflowError, ValueError, OSError):
            raise Invalid(f"{name} {value!r} is not a POSIX timestamp in range") from None
    raise Invalid(f"{name} must be a datetime or a POSIX timestamp, got {value!r}")


def _node_row(conn: Connection, node_reference_url: Any) -> Record:
    url = lookup_key(node_reference_url, "node_reference_url")
    row = None
    if url is not None:
        row = conn.execute(select(_nodes).where(_nodes.c.node_reference_url == url)).first()
    if row is None:
        raise NotFound(f"No cache node found with URL {node_reference_url!r}")
    return Record(row._mapping)


class CacheAPI(DatabaseCore):
    """Image-cache records: cache nodes and the images cached on them (SPEC 10b)."""

    @retrying
    def node_reference_create(self, context: ContextLike, node_reference_url: str) -> Record:
        """Register the cache node ``node_reference_url``.

        Returns ``{node_reference_id, node_reference_url}``; a URL already
        registered → ``Duplicate``.
        """
        values = {"node_reference_url": check_text("node_reference_url", node_reference_url)}
        reject_unstorable_text(values, "node reference")
        check_lengths(_nodes, values)
        try:
            with self._writing() as conn:
                conn.execute(insert(_nodes).values(**values))
                return _node_row(conn, node_reference_url)
        except Duplicate:
            raise Duplicate(f"Cache node {node_reference_url!r} already exists") from None

    @retrying
    def node_reference_get_by_url(self, context: ContextLike, node_reference_url: str) -> Record:
        """The node record of ``node_reference_url``; unknown → ``NotFound``."""
        with self._reading() as conn:
            return _node_row(conn, node_reference_url)

    @retrying
    def insert_cache_details(
        self,
        context: ContextLike,
        node_reference_url: str,
        image_id: str,
        filesize: int,
        checksum: str | None = None,
        last_accessed: datetime.datetime | float | None = None,
        last_modified: datetime.datetime | float | None = None,
        hits: int | None = None,
    ) -> None:
        """Record that ``image_id`` (``filesize`` bytes) is cached on the node.

        ``last_accessed`` / ``last_modified`` default to now (datetimes or
        POSIX timestamps are accepted), ``hits`` to 0.  The node must exist
        (``NotFound``); an entry already present is left as it is.
        """
        now = utcnow()
        values: dict[str, Any] = {
            "image_id": check_text("image_id", image_id),
            "size": to_int("filesize", filesize),
            "checksum": None if checksum is None else check_text("checksum", checksum),
            "last_accessed": _as_time("last_accessed", last_accessed, now),
            "last_modified": _as_time("last_modified", last_modified, now),
            "hits": check_int32("hits", hits or 0),
        }
        reject_unstorable_text(values, "cache entry")
        check_lengths(_cached, values)
        names = list(values)
        try:
            with self._writing() as conn:
                node_id = _node_row(conn, node_reference_url)["node_reference_id"]
                # INSERT ... SELECT ... WHERE NOT EXISTS: an existing (image,
                # node) entry is skipped without an error aborting the
                # transaction.
                source = select(
                    *(literal(values[n], _cached.c[n].type).label(n) for n in names),
                    literal(node_id, _cached.c.node_reference_id.type),
                ).where(
                    ~exists().where(
                        _cached.c.image_id == image_id, _cached.c.node_reference_id == node_id
                    )
                )
                conn.execute(insert(_cached).from_select([*names, "node_reference_id"], source))
        except Duplicate:
            pass  # a concurrent caller inserted the same entry first

    @retrying
    def get_hit_count(self, context: ContextLike, image_id: str, node_reference_url: str) -> int:
        """Hits of ``image_id`` on the node; 0 when it is not cached there."""
        query = select(_cached.c.hits).where(_of_image(image_id), _on_node(node_reference_url))
        with self._reading() as conn:
            hits = conn.execute(query).scalar()
        return int(hits or 0)

    @retrying
    def update_hit_count(
        self, context: ContextLike, image_id: str, node_reference_url: str
    ) -> None:
        """Add one hit to ``image_id`` on the node and set ``last_accessed`` to now."""
        statement = (
            update(_cached)
            .where(_of_image(image_id), _on_node(node_reference_url))
            .values(hits=_cached.c.hits + 1, last_accessed=utcnow())
        )
        with self._writing() as conn:
            conn.execute(statement)

    @retrying
    def get_cached_images(self, context: ContextLike, node_reference_url: str) -> list[Record]:
        """The images cached on the node, in insertion order.

        Each is ``{id, image_id, last_accessed, last_modified, size, hits,
        checksum}``, the two times as POSIX timestamps (floats).
        """
        query = (
            select(
                _cached.c.id,
                _cached.c.image_id,
                _cached.c.last_accessed,
                _cached.c.last_modified,
                _cached.c.size,
                _cached.c.hits,
                _cached.c.checksum,
            )
            .where(_on_node(node_reference_url))
            .order_by(_cached.c.id)
        )
        with self._reading() as conn:
            rows = conn.execute(query).all()
        records = []
        for row in rows:
            record = Record(row._mapping)
            record["last_accessed"] = to_timestamp(record["last_accessed"])
            record["last_modified"] = to_timestamp(record["last_modified"])
            records.append(record)
        return records

    @retrying
    def node_reference_get_all(self, context: ContextLike) -> list[Record]:
        """Every cache node with what is cached on it, by node id (not in Glance).

        Each is ``{node_reference_id, node_reference_url, cached_images,
        total_size}``: the number of images cached on the node and the sum of
        their sizes (0 for a node with none).  One aggregate query.
        """
        count = func.count(_cached.c.id)
        total = func.coalesce(func.sum(_cached.c.size), 0)
        query = (
            select(
                _nodes.c.node_reference_id,
                _nodes.c.node_reference_url,
                count.label("cached_images"),
                total.label("total_size"),
            )
            .select_from(
                _nodes.outerjoin(_cached, _cached.c.node_reference_id == _nodes.c.node_reference_id)
            )
            .group_by(_nodes.c.node_reference_id, _nodes.c.node_reference_url)
            .order_by(_nodes.c.node_reference_id)
        )
        with self._reading() as conn:
            rows = conn.execute(query).all()
        return [
            Record(
                node_reference_id=row.node_reference_id,
                node_reference_url=row.node_reference_url,
                cached_images=int(row.cached_images),
                total_size=int(row.total_size),
            )
            for row in rows
        ]

    @retrying
    def get_cached_nodes(self, context: ContextLike, image_id: str) -> list[str]:
        """URLs of the nodes ``image_id`` is cached on."""
        query = (
            select(_nodes.c.node_reference_url)
            .join(_cached, _cached.c.node_reference_id == _nodes.c.node_reference_id)
            .where(_of_image(image_id))
            .order_by(_nodes.c.node_reference_id)
        )
        with self._reading() as conn:
            return list(conn.execute(query).scalars())

    @retrying
    def get_least_recently_accessed(
        self, context: ContextLike, node_reference_url: str
    ) -> str | None:
        """The image id on the node with the oldest ``last_accessed``, or None."""
        query = (
            select(_cached.c.image_id)
            .where(_on_node(node_reference_url))
            .order_by(_cached.c.last_accessed, _cached.c.id)
            .limit(1)
        )
        with self._reading() as conn:
            image_id = conn.execute(query).scalar()
        return None if image_id is None else str(image_id)

    @retrying
    def is_image_cached_for_node(
        self, context: ContextLike, node_reference_url: str, image_id: str
    ) -> bool:
        """Whether ``image_id`` is cached on the node."""
        entry = select(_cached.c.id).where(_of_image(image_id), _on_node(node_reference_url))
        query = select(exists(entry))
        with self._reading() as conn:
            return bool(conn.execute(query).scalar())

    @retrying
    def delete_cached_image(
        self, context: ContextLike, image_id: str, node_reference_url: str
    ) -> None:
        """Forget that ``image_id`` is cached on the node."""
        statement = delete(_cached).where(_of_image(image_id), _on_node(node_reference_url))
        with self._writing() as conn:
            conn.execute(statement)

    @retrying
    def delete_all_cached_images(self, context: ContextLike, node_reference_url: str) -> None:
        """Forget every image cached on the node."""
        statement = delete(_cached).where(_on_node(node_reference_url))
        with self._writing() as conn:
            conn.execute(statement)
