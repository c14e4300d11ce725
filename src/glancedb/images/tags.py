"""Image tags (SPEC 5).

Tag values are compared in Python after SQL has narrowed the rows down:
Glance's MySQL tables use a case- and accent-insensitive collation, under
which ``'a' = 'A'``, while a tag is an exact string on every backend.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, false, insert, select, update

from glancedb.context import ContextLike
from glancedb.exception import Invalid, NotFound
from glancedb.images.writes import lock_image
from glancedb.models import tables as t
from glancedb.rows import in_list
from glancedb.timeutils import utcnow
from glancedb.transactions import DatabaseCore, retrying
from glancedb.validation import (
    check_lengths,
    image_key,
    lookup_key,
    reject_unstorable_text,
    require_image_key,
)


def _check_tag(value: Any) -> str:
    """Validate one tag value before anything is written (SPEC 12)."""
    if not isinstance(value, str):
        raise Invalid(f"A tag must be a string, got {value!r}")
    reject_unstorable_text(value, "Tag")
    check_lengths(t.image_tags, {"value": value})
    return value


def _live_tags(
    conn: Connection, image_id: str, values: Iterable[str] | None = None
) -> list[tuple[int, str]]:
    """``(id, value)`` of the image's live tags in insertion order.

    With ``values``, only rows whose value the database finds equal to one
    of them (callers compare exactly afterwards).
    """
    tag = t.image_tags
    stmt = select(tag.c.id, tag.c.value).where(tag.c.image_id == image_id, tag.c.deleted == false())
    if values is not None:
        stmt = stmt.where(in_list(tag.c.value, conn.dialect.name, values=values))
    return [(row.id, row.value) for row in conn.execute(stmt.order_by(tag.c.id))]


def _soft_delete(conn: Connection, ids: list[int]) -> None:
    if ids:
        now = utcnow()
        conn.execute(
            update(t.image_tags)
            .where(in_list(t.image_tags.c.id, conn.dialect.name, values=ids))
            .values(deleted=True, deleted_at=now, updated_at=now)
        )


class ImageTagsAPI(DatabaseCore):
    """Image tags (SPEC 5)."""

    @retrying
    def image_tag_create(self, context: ContextLike, image_id: str, value: str) -> str:
        """Tag image ``image_id`` with ``value`` and return the value.

        Tagging an image with a tag it already carries changes nothing.
        Unknown image → :class:`ImageNotFound`; a 4-byte character or a value
        longer than 255 characters → :class:`Invalid`.
        """
        image_id = require_image_key(image_id)
        _check_tag(value)
        with self._writing() as conn:
            lock_image(conn, image_id)
            if not any(v == value for _, v in _live_tags(conn, image_id, [value])):
                now = utcnow()
                conn.execute(
                    insert(t.image_tags).values(
                        image_id=image_id,
                        value=value,
                        created_at=now,
                        updated_at=now,
                        deleted=False,
                    )
                )
        return value

    @retrying
    def image_tag_delete(self, context: ContextLike, image_id: str, value: str) -> None:
        """Soft-delete tag ``value`` of image ``image_id``.

        :class:`NotFound` when the image carries no live tag of that value.
        """
        image, tag = image_key(image_id), lookup_key(value, "value")
        if image is None or tag is None:
            raise NotFound(f"Image {image_id!r} has no tag {value!r}")
        image_id, value = image, tag
        with self._writing() as conn:
            ids = [i for i, v in _live_tags(conn, image_id, [value]) if v == value]
            if not ids:
                raise NotFound(f"Image {image_id} has no tag {value!r}")
            _soft_delete(conn, ids)

    @retrying
    def image_tag_get_all(self, context: ContextLike, image_id: str) -> list[str]:
        """The live tags of image ``image_id`` in insertion order.

        An unknown image has no tags (``[]``); an id longer than 36
        characters raises :class:`ImageNotFound`.
        """
        key = image_key(image_id)
        if key is None:
            return []
        with self._reading(one_statement=True) as conn:
            return [value for _, value in _live_tags(conn, key)]

    @retrying
    def image_tag_set_all(self, context: ContextLike, image_id: str, tags: Iterable[str]) -> None:
        """Make the live tags of image ``image_id`` exactly the distinct ``tags``.

        Tags the image already carries are kept (with their position), new
        ones are added in the given order, the others are soft-deleted; ``[]``
        removes every tag.  One transaction of at most four statements,
        whatever the number of tags.  Unknown image → :class:`ImageNotFound`.
        """
        image_id = require_image_key(image_id)
        if isinstance(tags, str | bytes) or not isinstance(tags, Iterable):
            raise Invalid(f"tags must be a list of strings, got {tags!r}")
        wanted = list(dict.fromkeys(_check_tag(value) for value in tags))
        with self._writing() as conn:
            lock_image(conn, image_id)
            kept: set[str] = set()
            stale: list[int] = []
            wanted_set = set(wanted)
            for tag_id, value in _live_tags(conn, image_id):
                if value in wanted_set and value not in kept:
                    kept.add(value)
                else:
                    stale.append(tag_id)
            _soft_delete(conn, stale)
            now = utcnow()
            new_rows = [
                {
                    "image_id": image_id,
                    "value": value,
                    "created_at": now,
                    "updated_at": now,
                    "deleted": False,
                }
                for value in wanted
                if value not in kept
            ]
            if new_rows:
                conn.execute(insert(t.image_tags), new_rows)
