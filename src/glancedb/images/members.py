"""Image members: sharing an image with other projects (SPEC 7)."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Select,
    bindparam,
    exists,
    false,
    func,
    insert,
    or_,
    select,
    update,
)

from glancedb.context import ContextLike, context_is_admin, context_owner
from glancedb.exception import Duplicate, Invalid, NotFound
from glancedb.images.plans import not_deleted
from glancedb.images.writes import lock_image
from glancedb.models import tables as t
from glancedb.records import Record
from glancedb.rows import given_time, inserted_id, row_id
from glancedb.statements import fetch_all
from glancedb.timeutils import utcnow
from glancedb.transactions import DatabaseCore, retrying
from glancedb.validation import (
    check_lengths,
    check_mapping,
    check_member_status,
    check_scalar,
    lookup_key,
    reject_unstorable_text,
    require_image_key,
    unknown_keys,
)

MEMBER_COLUMNS: tuple[str, ...] = (
    "id",
    "image_id",
    "member",
    "can_share",
    "status",
    "created_at",
    "updated_at",
    "deleted",
)

# What a caller may set: on create the bookkeeping columns are stored as
# given (SPEC 1.4); on update they are ignored.
_SETTABLE = frozenset({"image_id", "member", "can_share", "status"})
_BOOKKEEPING = frozenset({"created_at", "updated_at", "deleted", "deleted_at"})


@functools.lru_cache(maxsize=64)
def _find_statement(
    *,
    include_deleted: bool,
    regular: bool,
    owner_is_null: bool,
    image: bool,
    member: bool,
    status: bool,
) -> Select[Any]:
    """The ``image_member_find`` query of one shape, values bound by name.

    Built once per shape (which filters are given, whose view); the values
    are bound as ``:owner``, ``:image_id``, ``:member`` and ``:status``.
    """
    memb = t.image_members
    stmt = select(*(memb.c[c] for c in MEMBER_COLUMNS))
    if not include_deleted:
        stmt = stmt.where(not_deleted(memb.c.deleted))
    if regular:
        # An owner of None matches NULLs (SQL's IS NULL, as Glance).
        owned_by: ColumnElement[bool] = (
            t.images.c.owner.is_(None) if owner_is_null else t.images.c.owner == bindparam("owner")
        )
        member_is: ColumnElement[bool] = (
            memb.c.member.is_(None) if owner_is_null else memb.c.member == bindparam("owner")
        )
        # A correlated EXISTS (one primary-key probe per membership)
        # keeps image_members the driving table, reached by its image_id
        # index; a join let SQLite scan images when statistics were stale.
        owns_image = exists().where(t.images.c.id == memb.c.image_id, owned_by)
        stmt = stmt.where(or_(member_is, owns_image))
    if image:
        stmt = stmt.where(memb.c.image_id == bindparam("image_id"))
    if member:
        stmt = stmt.where(memb.c.member == bindparam("member"))
    if status:
        stmt = stmt.where(memb.c.status == bindparam("status"))
    return stmt.order_by(memb.c.id)


def _check_member_values(values: dict[str, Any]) -> None:
    """Validate the settable member attributes present in ``values`` (SPEC 12).

    ``image_id`` becomes the key of the image (:class:`ImageNotFound` when
    no image can have it); ``can_share`` a bool.
    """
    if "image_id" in values:
        image_id = values["image_id"]
        if image_id is None or image_id == "":
            raise Invalid(f"A membership needs an image id, got {image_id!r}")
        values["image_id"] = require_image_key(image_id)
    if "can_share" in values:
        check_scalar("can_share", values["can_share"])
        values["can_share"] = bool(values["can_share"])
    if "member" in values:
        member = values["member"]
        if not isinstance(member, str) or not member:
            raise Invalid(f"A membership needs a non-empty string member, got {member!r}")
        reject_unstorable_text(member, "Member")
        check_lengths(t.image_members, {"member": member})
    if "status" in values:
        check_member_status(values["status"])


def _membership_id(memb_id: Any) -> int:
    """``memb_id`` as a membership's primary key; NotFound when no row can have it."""
    number = row_id(memb_id, "memb_id")
    if number is None:
        raise NotFound(f"No image membership found with ID {memb_id!r}")
    return number


def _live_duplicate(conn: Connection, image_id: str, member: str) -> None:
    """Raise Duplicate when ``member`` already has a live membership of the image."""
    memb = t.image_members
    stmt = select(memb.c.id).where(
        memb.c.image_id == image_id,
        memb.c.member == member,
        memb.c.deleted == false(),
    )
    if conn.execute(stmt.limit(1)).first() is not None:
        raise Duplicate(f"Image {image_id} is already shared with member {member!r}")


class ImageMembersAPI(DatabaseCore):
    """Image members: sharing an image with other projects (SPEC 7)."""

    @retrying
    def image_member_create(self, context: ContextLike, values: Mapping[str, Any]) -> Record:
        """Share an image with a project: create a membership and return its record.

        ``values`` holds ``image_id`` and ``member``, optionally ``can_share``
        (default False) and ``status`` (default ``pending``; one of
        ``pending``, ``accepted``, ``rejected``).  A second live membership of
        the same member on the image raises :class:`Duplicate`; an unknown
        image raises :class:`ImageNotFound`.
        """
        check_mapping("image member values", values)
        extra = unknown_keys(values, _SETTABLE | _BOOKKEEPING)
        if extra:
            raise Invalid(f"Unknown image member attribute(s): {', '.join(extra)}")
        for required in ("image_id", "member"):
            if required not in values:
                raise Invalid(f"A membership needs {required!r}")
        checked = {k: values[k] for k in _SETTABLE if k in values}
        _check_member_values(checked)
        check_scalar("deleted", values.get("deleted"))
        now = utcnow()
        deleted = bool(values.get("deleted", False))
        row: dict[str, Any] = {
            "image_id": checked["image_id"],
            "member": checked["member"],
            "can_share": checked.get("can_share", False),
            "status": checked.get("status", "pending"),
            "created_at": given_time(values, "created_at") or now,
            "updated_at": given_time(values, "updated_at") or now,
            "deleted": deleted,
            "deleted_at": (given_time(values, "deleted_at") or now) if deleted else None,
        }
        with self._writing() as conn:
            lock_image(conn, row["image_id"])
            if not deleted:
                _live_duplicate(conn, row["image_id"], row["member"])
            row["id"] = inserted_id(conn.execute(insert(t.image_members).values(**row)))
        return Record((c, row[c]) for c in MEMBER_COLUMNS)

    @retrying
    def image_member_update(
        self, context: ContextLike, memb_id: int, values: Mapping[str, Any]
    ) -> Record:
        """Update membership ``memb_id`` and return its record.

        The membership is always made live again (a revoked membership is
        re-granted this way); ``can_share`` falls back to False when absent;
        ``updated_at`` becomes now.  ``created_at``, ``updated_at``,
        ``deleted``, ``deleted_at`` and unknown keys in ``values`` are
        ignored.  Unknown id → :class:`NotFound`; reviving or moving it onto a
        member that already has a live membership → :class:`Duplicate`.
        """
        check_mapping("image member values", values)
        changes = {k: v for k, v in values.items() if k in _SETTABLE}
        _check_member_values(changes)
        changes["can_share"] = bool(changes.get("can_share", False))
        memb_id = _membership_id(memb_id)
        memb = t.image_members
        with self._writing() as conn:
            found = (
                conn.execute(
                    select(*(memb.c[c] for c in MEMBER_COLUMNS))
                    .where(memb.c.id == memb_id)
                    .with_for_update()
                )
                .mappings()
                .first()
            )
            if found is None:
                raise NotFound(f"No image membership found with ID {memb_id}")
            record = Record(found)
            record.update(changes, deleted=False, updated_at=utcnow())
            key_changed = any(record[k] != found[k] for k in ("image_id", "member"))
            if found["deleted"] or key_changed:
                # The membership itself cannot match: it is deleted, or the
                # pair it moves to is not its own.
                lock_image(conn, record["image_id"])
                _live_duplicate(conn, record["image_id"], record["member"])
            conn.execute(
                update(memb)
                .where(memb.c.id == found["id"])
                .values(
                    {
                        **changes,
                        "deleted": False,
                        "deleted_at": None,
                        "updated_at": record["updated_at"],
                    }
                )
            )
        return record

    @retrying
    def image_member_delete(self, context: ContextLike, memb_id: int) -> None:
        """Soft-delete (revoke) membership ``memb_id``; unknown id → :class:`NotFound`.

        Deleting an already deleted membership changes nothing.
        """
        memb_id = _membership_id(memb_id)
        memb = t.image_members
        now = utcnow()
        with self._writing() as conn:
            result = conn.execute(
                update(memb)
                .where(memb.c.id == memb_id, memb.c.deleted == false())
                .values(deleted=True, deleted_at=now, updated_at=now)
            )
            if result.rowcount:
                return
            exists = conn.execute(select(memb.c.id).where(memb.c.id == memb_id)).first()
            if exists is None:
                raise NotFound(f"No image membership found with ID {memb_id}")

    @retrying
    def image_member_find(
        self,
        context: ContextLike,
        image_id: str | None = None,
        member: str | None = None,
        status: str | None = None,
        include_deleted: bool = False,
    ) -> list[Record]:
        """Memberships matching the given image, member and status, ordered by id.

        A non-admin context sees only memberships of images it owns and
        memberships where it is the member (an owner of None matches a NULL
        image owner, as SQL's ``IS NULL``).  Soft-deleted memberships are
        included only with ``include_deleted``.
        """
        image_key = lookup_key(image_id, "image_id")
        member_key = lookup_key(member, "member")
        status_key = lookup_key(status, "status")
        if (
            (image_key is None and image_id is not None)
            or (member_key is None and member is not None)
            or (status_key is None and status is not None)
        ):
            return []  # a value no membership can hold
        regular = not context_is_admin(context)
        owner = context_owner(context) if regular else None
        stmt = _find_statement(
            include_deleted=bool(include_deleted),
            regular=regular,
            owner_is_null=owner is None,
            image=image_key is not None,
            member=member_key is not None,
            status=status_key is not None,
        )
        params = {"owner": owner, "image_id": image_key, "member": member_key, "status": status_key}
        with self._reading(one_statement=True) as conn:
            rows = fetch_all(conn, stmt, params)
        return [Record(zip(MEMBER_COLUMNS, row, strict=True)) for row in rows]

    @retrying
    def image_member_count(self, context: ContextLike, image_id: str) -> int:
        """Number of live memberships of ``image_id``; a falsy id → :class:`Invalid`."""
        key = lookup_key(image_id, "image_id")
        if not image_id:
            raise Invalid(f"An image id is required to count its members, got {image_id!r}")
        if key is None:
            return 0  # an id no image can have
        memb = t.image_members
        stmt = (
            select(func.count())
            .select_from(memb)
            .where(memb.c.image_id == key, not_deleted(memb.c.deleted))
        )
        with self._reading(one_statement=True) as conn:
            return int(conn.execute(stmt).scalar_one())
