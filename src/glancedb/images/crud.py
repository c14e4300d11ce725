"""Image calls: create, update, destroy, get, restore, visibility (SPEC 2)."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Connection, Update, bindparam, select, update

from glancedb import commits
from glancedb.context import (
    ContextLike,
    context_can_see_deleted,
    context_is_admin,
    context_owner,
)
from glancedb.driver_errors import duplicate_as
from glancedb.exception import (
    Conflict,
    Duplicate,
    Invalid,
)
from glancedb.images.access import (
    check_mutable,
    has_membership,
    image_field,
    is_image_mutable,
    visibility_without_membership,
    visible_image_row,
)
from glancedb.images.records import attach_children, image_dicts, image_record, with_children
from glancedb.images.values import prepare_create, prepare_update
from glancedb.images.whole import whole_visible_image
from glancedb.images.writes import (
    created_children,
    image_with_children_insert,
    image_with_children_parameters,
    insert_locations,
    insert_new_properties,
    replace_locations,
    returns_inserted_rows,
    set_properties,
    soft_delete_children,
)
from glancedb.models import tables as t
from glancedb.records import Record
from glancedb.timeutils import utcnow
from glancedb.transactions import DatabaseCore, retrying
from glancedb.validation import check_text, lookup_key, require_image_key

_INSERT_IMAGE = t.images.insert()
_INSERT_IMAGE_RETURNING = t.images.insert().returning(*t.images.c)

_IMAGE_WIDTH = len(t.images.c)


def _image_dict(
    conn: Connection,
    context: ContextLike,
    image_id: str,
    *,
    v1_mode: bool = False,
    row: Sequence[Any] | None = None,
) -> Record:
    """Re-read a just-written image as a dict (locations as ``image_get`` shows them).

    ``row``: the image's row when the write returned it (then only its
    children are read).
    """
    if row is None:
        row = conn.execute(_IMAGE_BY_ID, {"image_id": image_id}).one()
    return image_dicts(
        conn,
        [row],
        hide_deactivated_locations=not context_is_admin(context),
        v1_mode=v1_mode,
    )[0]


_IMAGE_BY_ID = select(t.images).where(t.images.c.id == bindparam("image_id"))


@functools.cache
def _update_statement(
    from_state: bool, returning: bool, xid: ColumnElement[str] | None = None
) -> Update:
    """``UPDATE images`` of the columns given as parameters, for ``:glancedb_image_id``.

    ``from_state``: only while the status is ``:glancedb_from_state``
    (compare-and-swap).  ``returning``: the updated row comes back (SQLite,
    PostgreSQL), so it is not read again; followed by ``xid``, the
    transaction id, when given (PostgreSQL).
    """
    images = t.images
    stmt = images.update().where(images.c.id == bindparam("glancedb_image_id"))
    if from_state:
        stmt = stmt.where(images.c.status == bindparam("glancedb_from_state"))
    if returning:
        stmt = stmt.returning(*images.c, *([] if xid is None else [xid]))
    return stmt


class ImageCrudAPI(DatabaseCore):
    """Image calls: create, update, destroy, get, restore, visibility (SPEC 2)."""

    # --- reads ------------------------------------------------------------------------

    @retrying
    def image_get(
        self,
        context: ContextLike,
        image_id: str,
        force_show_deleted: bool = False,
        v1_mode: bool = False,
    ) -> Record:
        """Return the image ``image_id`` as a dict (SPEC 2.4).

        :param context: the caller; deleted images are found only when it can
            see deleted records or ``force_show_deleted`` is set.
        :param image_id: the image's id (longer than 36 characters: not found).
        :param force_show_deleted: find a deleted image and include deleted
            locations.
        :param v1_mode: return ``is_public`` instead of ``visibility``.
        :raises ImageNotFound: unknown, or deleted and not shown.
        :raises Forbidden: the image is not visible to ``context``.
        """
        image_id = require_image_key(image_id)
        hide_locations = not context_is_admin(context)
        # PostgreSQL reads the image and its children in one statement.
        one_statement = self.engine.dialect.name == "postgresql"
        with self._reading(one_statement=one_statement) as conn:
            if one_statement:
                image, properties, locations = whole_visible_image(
                    conn,
                    context,
                    image_id,
                    live_only=not force_show_deleted and not context_can_see_deleted(context),
                    show_deleted_locations=bool(force_show_deleted),
                )
                return attach_children(
                    image,
                    properties,
                    locations,
                    hide_deactivated_locations=hide_locations,
                    v1_mode=v1_mode,
                )
            image = visible_image_row(conn, context, image_id, force_show_deleted)
            return with_children(
                conn,
                [image],
                show_deleted_locations=force_show_deleted,
                hide_deactivated_locations=hide_locations,
                v1_mode=v1_mode,
            )[0]

    @retrying
    def is_image_visible(self, context: ContextLike, image: Any, status: str | None = None) -> bool:
        """Whether ``image`` (a dict with ``id``, ``owner``, ``visibility``) is
        visible to ``context`` (SPEC 1.2).

        :param status: for shared images, the membership status that grants
            visibility (any status when None).
        """
        verdict = visibility_without_membership(context, image)
        if verdict is not None:
            return verdict
        image_id = lookup_key(image_field(image, "id"), "image['id']")
        member = lookup_key(context_owner(context), "context owner")
        if status is not None:
            status = lookup_key(status, "status")
            if status is None:
                return False
        if image_id is None or member is None:
            return False
        with self._reading(one_statement=True) as conn:
            return has_membership(conn, image_id, member, status)

    def is_image_mutable(self, context: ContextLike, image: Any) -> bool:
        """Whether ``context`` may change ``image`` (SPEC 1.2): admin, or same owner."""
        return is_image_mutable(context, image)

    # --- writes -----------------------------------------------------------------------

    @retrying
    def image_create(
        self, context: ContextLike, values: Mapping[str, Any], v1_mode: bool = False
    ) -> Record:
        """Create an image from ``values`` and return it as a dict (SPEC 2.1).

        :param values: image columns (``status`` required), plus optional
            ``properties`` (name -> value), ``locations`` (list of
            ``{'url', 'metadata', 'status'}``) and v1-style ``is_public``.
            ``created_at``, ``updated_at``, ``deleted`` and ``deleted_at`` are
            stored as given.
        :param v1_mode: return ``is_public`` instead of ``visibility``.
        :raises Invalid: bad or unknown values.
        :raises Duplicate: an image with the given ``id`` exists.
        """
        prepared = prepare_create(values)
        now = utcnow()
        columns = dict(prepared.columns)
        for name in ("created_at", "updated_at"):
            if columns.get(name) is None:
                columns[name] = now
        image_id: str = columns["id"]
        with self._writing() as conn:
            if not returns_inserted_rows(conn):
                with duplicate_as(Duplicate, f"Image ID {image_id} already exists"):
                    conn.execute(_INSERT_IMAGE, columns)
                set_properties(conn, image_id, prepared.properties or {}, now=now, new_image=True)
                insert_locations(conn, image_id, prepared.locations, now=now)
                return _image_dict(conn, context, image_id, v1_mode=v1_mode)
            # The INSERTs return what they stored (types, truncations and all),
            # so the new image is not read back: three statements in all, one
            # on PostgreSQL.
            properties = prepared.properties or {}
            if conn.dialect.name == "postgresql":
                statement = image_with_children_insert(commits.transaction_id_column(conn))
                params = image_with_children_parameters(
                    columns, image_id, properties, prepared.locations, now=now
                )
                with duplicate_as(Duplicate, f"Image ID {image_id} already exists"):
                    returned = self._keep_transaction_id(conn.execute(statement, params).one())
                image = image_record(returned[:_IMAGE_WIDTH])
                image["properties"], locations = created_children(
                    image_id, returned[_IMAGE_WIDTH:], now=now
                )
            else:
                with duplicate_as(Duplicate, f"Image ID {image_id} already exists"):
                    stored = conn.execute(_INSERT_IMAGE_RETURNING, columns).one()
                image = image_record(stored)
                image["properties"] = insert_new_properties(conn, image_id, properties, now=now)
                locations = insert_locations(
                    conn, image_id, prepared.locations, now=now, returning=True
                )
            hidden = image["status"] == "deactivated" and not context_is_admin(context)
            image["locations"] = [] if hidden else locations
            if v1_mode:
                image["is_public"] = image.pop("visibility") == "public"
            return image

    @retrying
    def image_update(
        self,
        context: ContextLike,
        image_id: str,
        values: Mapping[str, Any],
        purge_props: bool = False,
        from_state: str | None = None,
        v1_mode: bool = False,
        atomic_props: Iterable[str] | None = None,
    ) -> Record:
        """Update image ``image_id`` with ``values`` and return it (SPEC 2.2).

        Only the columns present in ``values`` are written (``updated_at`` is
        always set to now); unknown keys, the timestamps and ``deleted`` are
        ignored.

        :param values: image columns, ``properties`` (created, updated or
            revived) and ``locations`` (a non-empty list replaces them).
        :param purge_props: soft-delete the live properties not named in
            ``values['properties']``.
        :param from_state: apply only if the stored status is this one,
            atomically; else :class:`Conflict`.
        :param v1_mode: return ``is_public`` instead of ``visibility``.
        :param atomic_props: property names never touched by this call.
        :raises ImageNotFound: unknown or deleted image.
        :raises Forbidden: not visible, or not the owner of a private/shared
            image (:class:`ForbiddenPublicImage` for public/community).
        :raises Conflict: the status is not ``from_state``.
        :raises Invalid: bad values.
        """
        image_id = require_image_key(image_id)
        prepared = prepare_update(values)
        atomic = _atomic_names(atomic_props)
        # A from_state no image can be in makes the update a conflict below.
        wanted_state = lookup_key(from_state, "from_state") if from_state else None
        now = utcnow()
        with self._writing() as conn:
            image = visible_image_row(conn, context, image_id, False)
            check_mutable(context, image)
            images = t.images
            returning = bool(conn.dialect.update_returning)
            postgresql = conn.dialect.name == "postgresql"
            row: list[Any] | None = None
            updated = False
            if not from_state or wanted_state is not None:
                params = {
                    **prepared.columns,
                    "updated_at": now,
                    "glancedb_image_id": image_id,
                    "glancedb_from_state": wanted_state,
                }
                xid = commits.transaction_id_column(conn) if postgresql else None
                statement = _update_statement(bool(from_state), returning, xid)
                result = conn.execute(statement, params)
                returned = result.first() if returning else None
                updated = returned is not None if returning else result.rowcount > 0
                if returned is not None:
                    row = list(returned) if xid is None else self._keep_transaction_id(returned)
            if not updated:
                # Read the status that won, with a locking read so that
                # MySQL's snapshot does not show the stale one.
                current = conn.execute(
                    select(images.c.status).where(images.c.id == image_id).with_for_update()
                ).scalar()
                raise Conflict(
                    f"Cannot transition image {image_id} from {current} to "
                    f"{prepared.columns.get('status', current)} in update "
                    f"(wanted from_state={from_state})"
                )
            if prepared.properties is not None or purge_props:
                set_properties(
                    conn,
                    image_id,
                    prepared.properties or {},
                    now=now,
                    purge=purge_props,
                    atomic=atomic,
                )
            if prepared.locations:
                replace_locations(conn, image_id, prepared.locations, now=now)
            return _image_dict(conn, context, image_id, v1_mode=v1_mode, row=row)

    @retrying
    def image_destroy(self, context: ContextLike, image_id: str) -> Record:
        """Soft-delete image ``image_id`` and its children; return it (SPEC 2.3).

        The image, its properties, members and tags get the same
        ``deleted_at``; its live locations are deleted with status
        ``deleted``.  The image's own status is left as it was.

        :raises ImageNotFound: unknown or already deleted.
        :raises Forbidden: as for :meth:`image_update`.
        """
        image_id = require_image_key(image_id)
        with self._writing() as conn:
            image = visible_image_row(conn, context, image_id, False)
            check_mutable(context, image)
            now = utcnow()
            conn.execute(
                update(t.images)
                .where(t.images.c.id == image_id)
                .values(deleted=True, deleted_at=now, updated_at=now)
            )
            soft_delete_children(conn, image_id, now=now)
            return _image_dict(conn, context, image_id)

    @retrying
    def image_restore(self, context: ContextLike, image_id: str) -> None:
        """Bring a ``pending_delete`` image back to ``active`` (SPEC 2.5).

        Sets status ``active`` and ``deleted=False``.  No ownership check.

        :raises ImageNotFound: unknown, or deleted and not shown to ``context``.
        :raises Forbidden: not visible to ``context``.
        :raises Conflict: the image is not in status ``pending_delete``.
        """
        image_id = require_image_key(image_id)
        with self._writing() as conn:
            image = visible_image_row(conn, context, image_id, False)
            images = t.images
            result = None
            if image["status"] == "pending_delete":
                result = conn.execute(
                    update(images)
                    .where(images.c.id == image_id, images.c.status == "pending_delete")
                    .values(status="active", deleted=False, updated_at=utcnow())
                )
            if result is None or result.rowcount == 0:
                raise Conflict(
                    f"Cannot restore image {image_id} from {image['status']} to active "
                    "(wanted from_state=pending_delete)"
                )


def _atomic_names(atomic_props: Any) -> list[str]:
    """``image_update``'s ``atomic_props``: property names (strings) never touched."""
    if atomic_props is None:
        return []
    if isinstance(atomic_props, str | bytes) or not isinstance(
        atomic_props, list | tuple | set | frozenset
    ):
        raise Invalid(f"atomic_props must be a list of property names, got {atomic_props!r}")
    return [check_text("atomic_props item", name) for name in atomic_props]
