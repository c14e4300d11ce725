"""image_get_all: Glance's listing semantics in one SQL statement per page (SPEC 3).

The filters are parsed by :mod:`glancedb.images.listing_filters` into an
:class:`~glancedb.images.listing_filters.ImageQuery`; this module turns it into SQL:
visibility rules as ``OR`` / ``EXISTS`` conditions, filters as column
comparisons and subqueries on the child tables, a total order with
``created_at`` and ``id`` as tie-breakers, and keyset pagination after the
marker image.  A call issues a constant number of statements: the marker
lookup (when there is a marker), on SQLite and MySQL one probe when there are
property filters (see :func:`choose_property_shapes`), the page, then one
query per child table.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Row,
    Select,
    and_,
    exists,
    false,
    or_,
    select,
    true,
)

from glancedb.context import (
    ContextLike,
    context_can_see_deleted,
    context_is_admin,
    context_owner,
)
from glancedb.exception import Forbidden, ImageNotFound, Invalid
from glancedb.images.access import visibility_without_membership
from glancedb.images.listing_filters import (
    ColumnCondition,
    ImageQuery,
    SortKey,
    parse_query,
)
from glancedb.images.listing_properties import (
    PROBED_DIALECTS,
    PropertyShape,
    choose_property_shapes,
    property_condition,
)
from glancedb.images.plans import flag_text, not_deleted, uses_opaque_flags
from glancedb.images.records import image_dicts
from glancedb.keyset import OrderKey, after_marker, check_limit, order_terms
from glancedb.models import tables as t
from glancedb.records import Record
from glancedb.transactions import DatabaseCore, retrying
from glancedb.validation import MAX_ID_LENGTH, MEMBER_STATUSES

_MEMBER_STATUS_CHOICES = MEMBER_STATUSES | {"all"}

#: Sort columns whose order an index serves (NOT NULL, so :func:`glancedb.keyset.sort_expression`
#: leaves them bare): ``created_at_image_idx`` and the primary key.  A page
#: sorted first on another column has to read every match before it can stop.
INDEX_ORDER_COLUMNS = frozenset({"created_at", "id"})


# --- visibility (SPEC 3.1) ----------------------------------------------------


def _member_exists(
    owner: str | None, member_status: str | None, *, opaque: bool = True
) -> ColumnElement[bool]:
    """A live membership of ``owner`` on the image, with ``member_status``.

    ``'all'`` accepts any status; None, as in Glance (its ``status = NULL``
    matches no row of the NOT NULL column), and a context without an owner
    match nothing.
    """
    if owner is None or member_status is None:
        return false()
    member = t.image_members
    # Opaque for the reason of :func:`column_condition`: MariaDB would
    # intersect ``ix_image_members_deleted`` (every live membership) with the
    # (member, deleted) index on every tenant page; without it, it reads the
    # project's own memberships only.
    live = not_deleted(member.c.deleted, opaque=opaque)
    conditions = [member.c.image_id == t.images.c.id, member.c.member == owner, live]
    if member_status != "all":
        conditions.append(member.c.status == member_status)
    return exists().where(*conditions)


def visibility_condition(
    context: ContextLike,
    visibility: str | None,
    member_status: str | None,
    admin_as_user: bool,
    *,
    opaque: bool = True,
) -> ColumnElement[bool] | None:
    """Which images the context sees, with the ``visibility`` filter folded in.

    Regular contexts see public and community images, their own, and shared
    images they are a member of (with ``member_status``); then a visibility
    filter restricts that set, and without one community images show only
    to their owner.  Each case is written as the smallest condition so that
    the planner has a simple ``OR`` to work with.
    """
    img = t.images.c
    owner = context_owner(context)
    regular = admin_as_user or not context_is_admin(context)
    owned: ColumnElement[bool] = img.owner == owner if owner is not None else false()
    # The visibility column is compared as text on purpose (``opaque``): its
    # index selects a large share of the table (and, in the ORs, SQLite and
    # MySQL would combine indexes - MULTI-INDEX OR, index merge), so the
    # planner would read *every* public or shared image before sorting -
    # O(table) per page.  Walking the
    # ``created_at`` index and stopping after ``limit`` hits keeps a page's
    # cost independent of the catalogue's size (SPEC 3.4).  PostgreSQL
    # estimates plain comparisons from its statistics and walks the index by
    # itself; an opaque expression would only spoil its row estimates.
    vis_text = flag_text(img.visibility, opaque=opaque)
    member: ColumnElement[bool] = (
        and_(vis_text == "shared", _member_exists(owner, member_status, opaque=opaque))
        if owner is not None and member_status is not None
        else false()
    )
    if not regular:
        if visibility is None:
            return or_(img.visibility != "community", owned)
        if visibility == "all":
            return None
        return vis_text == visibility
    if visibility is None:
        return or_(vis_text == "public", owned, member)
    if visibility == "all":
        return or_(vis_text.in_(("public", "community")), owned, member)
    if visibility in ("public", "community"):
        return vis_text == visibility
    if visibility == "private":
        return and_(vis_text == "private", owned)
    return and_(
        vis_text == "shared", or_(owned, _member_exists(owner, member_status, opaque=opaque))
    )


# --- filters (SPEC 3.2) -------------------------------------------------------


def _literal_for(value: Any) -> Any:
    if value is True:
        return true()
    if value is False:
        return false()
    return value


_COMPARISONS: dict[str, Callable[[Any, Any], Any]] = {
    "eq": operator.eq,
    "neq": operator.ne,
    "lt": operator.lt,
    "lte": operator.le,
    "gt": operator.gt,
    "gte": operator.ge,
}


def column_condition(condition: ColumnCondition, *, opaque: bool = True) -> ColumnElement[bool]:
    """SQL for one :class:`ColumnCondition` on ``images``."""
    col = t.images.c[condition.column]
    op, value = condition.op, _literal_for(condition.value)
    if opaque and condition.column == "deleted" and op == "eq" and condition.value is False:
        # Nearly every image is live, so the index on ``deleted`` never helps
        # here; but SQLite and MySQL pick it (an equality on an index) and
        # then sort the whole table.  Wrapping the NOT NULL column keeps the
        # index out of reach and lets the ``created_at`` order index win.
        return not_deleted(col)
    if op == "is_null":
        return col.is_(None)
    if op == "in":
        return col.in_(list(condition.value))
    comparison = _COMPARISONS.get(op)
    if comparison is not None:
        result: ColumnElement[bool] = comparison(col, value)
        return result
    raise Invalid(f"Unknown filter operator {op!r}")  # pragma: no cover - parser guards it


def tag_condition(tag: str) -> ColumnElement[bool]:
    """The image carries the live tag ``tag`` (EXISTS)."""
    tags = t.image_tags.c
    return exists().where(
        tags.image_id == t.images.c.id, tags.value == tag, tags.deleted == false()
    )


def column_filters(query: ImageQuery, *, opaque: bool = True) -> list[ColumnElement[bool]]:
    """The filters of ``query`` on ``images``' own columns."""
    conditions: list[ColumnElement[bool]] = []
    if query.is_public is not None:
        vis = flag_text(t.images.c.visibility, opaque=opaque)
        conditions.append(vis == "public" if query.is_public else vis != "public")
    conditions.extend(column_condition(c, opaque=opaque) for c in query.conditions)
    return conditions


def child_filters(
    query: ImageQuery, property_shapes: Sequence[PropertyShape] | None = None
) -> list[ColumnElement[bool]]:
    """The property and tag filters of ``query`` (subqueries)."""
    default: list[PropertyShape] = ["exists"] * len(query.properties)
    shapes = default if property_shapes is None else property_shapes
    conditions = [
        property_condition(p, shape) for p, shape in zip(query.properties, shapes, strict=True)
    ]
    conditions.extend(tag_condition(tag) for tag in query.tags)
    return conditions


# --- order and keyset pagination (SPEC 3.3) -----------------------------------


def order_keys(sort: Sequence[SortKey]) -> list[OrderKey]:
    """The keyset order of ``sort`` (image column names) as ``images`` columns."""
    return [OrderKey(t.images.c[key.column], key.direction) for key in sort]


def page_statement(
    context: ContextLike,
    query: ImageQuery,
    *,
    marker: Mapping[str, Any] | None,
    limit: int | None,
    member_status: str | None,
    admin_as_user: bool,
    dialect: str = "sqlite",
    property_shapes: Sequence[PropertyShape] | None = None,
) -> Select[Any]:
    """The one SELECT of ``images`` rows for the page, shaped for ``dialect``'s planner.

    ``property_shapes``: how each property filter is written (see
    :func:`choose_property_shapes`); by default ``correlated`` on SQLite and
    MySQL, ``exists`` on PostgreSQL.
    """
    opaque = uses_opaque_flags(dialect)
    if property_shapes is None:
        shape: PropertyShape = "correlated" if dialect in PROBED_DIALECTS else "exists"
        property_shapes = [shape] * len(query.properties)
    conditions = column_filters(query, opaque=opaque)
    visible = visibility_condition(
        context, query.visibility, member_status, admin_as_user, opaque=opaque
    )
    if visible is not None:
        conditions.append(visible)
    keys = order_keys(query.sort)
    if marker is not None:
        conditions.append(after_marker(keys, marker))
    # Subqueries last: SQLite and MariaDB test the conditions in the order
    # written, so while walking the order index the cheap column tests
    # (owner, visibility) reject most images before a subquery runs (the
    # benchmark's property pages: benchmarks/RESULTS.md).
    conditions.extend(child_filters(query, property_shapes))
    stmt = select(t.images).where(*conditions).order_by(*order_terms(keys))
    if limit is not None:
        stmt = stmt.limit(limit)
    return stmt


# --- the marker ----------------------------------------------------------------


def load_marker(
    conn: Connection, context: ContextLike, marker: Any, showing_deleted: bool
) -> Row[Any]:
    """The marker image's row, looked up with image_get's rules.

    Unknown, malformed, or deleted while deleted images are not shown ->
    :class:`ImageNotFound`; not visible to the context -> :class:`Forbidden`.
    The membership needed for the visibility check is read in the same
    statement.
    """
    if not isinstance(marker, str) or len(marker) > MAX_ID_LENGTH:
        raise ImageNotFound(f"Marker image {marker!r} not found")
    owner = context_owner(context)
    member = t.image_members.c
    is_member: ColumnElement[bool] = (
        exists().where(
            member.image_id == t.images.c.id, member.member == owner, member.deleted == false()
        )
        if owner is not None and not context_is_admin(context)
        else false()
    )
    stmt = select(t.images, is_member.label("glancedb_marker_is_member")).where(
        t.images.c.id == marker
    )
    row = conn.execute(stmt).first()
    if row is None:
        raise ImageNotFound(f"Marker image {marker!r} not found")
    image = dict(row._mapping)
    if image["deleted"] and not (showing_deleted or context_can_see_deleted(context)):
        raise ImageNotFound(f"Marker image {marker!r} is deleted")
    verdict = visibility_without_membership(context, image)
    if verdict is None:
        verdict = bool(image["glancedb_marker_is_member"])
    if not verdict:
        raise Forbidden(f"Forbidden to access marker image {marker!r}")
    return row


class ImageListingAPI(DatabaseCore):
    """image_get_all: Glance's listing semantics in one SQL statement per page (SPEC 3)."""

    @retrying
    def image_get_all(
        self,
        context: ContextLike,
        filters: Mapping[str, Any] | None = None,
        marker: str | None = None,
        limit: int | None = None,
        sort_key: str | Sequence[str] | None = None,
        sort_dir: str | Sequence[str] | None = None,
        member_status: str | None = "accepted",
        is_public: bool | None = None,
        admin_as_user: bool = False,
        return_tag: bool = False,
        v1_mode: bool = False,
    ) -> list[Record]:
        """List the images ``context`` may see, filtered, sorted and paged.

        :param filters: Glance's filter dict (SPEC 3.2): ``visibility``,
            ``deleted``, ``changes-since``, ``checksum``, ``os_hash_value``,
            ``os_hidden``, ``properties``, ``tags``, ``<attr>_min/_max``,
            ``created_at``/``updated_at`` with operators, ``name``/``id``/
            ``status``/``container_format``/``disk_format`` with ``in:``,
            any other column (equality) or property name.
        :param marker: id of the last image of the previous page.
        :param limit: page size; None for all, 0 for none.
        :param sort_key: list of image columns (default ``['created_at']``).
        :param sort_dir: list of ``asc``/``desc`` (one per key, or one for all).
        :param member_status: membership status that makes a shared image
            visible to a member (``'all'`` for any; None, as in Glance, for
            none: shared images are then listed only to their owner).
        :param is_public: True: only public images; False: only non-public.
        :param admin_as_user: apply a regular user's visibility to an admin.
        :param return_tag: add each image's ``tags``.
        :param v1_mode: return ``is_public`` instead of ``visibility``.
        :returns: a list of image dicts (SPEC 1.6).
        :raises InvalidSortKey, InvalidSortDir, InvalidFilterRangeValue,
            InvalidFilterOperatorValue, InvalidParameterValue, Invalid: bad
            options; ImageNotFound / Forbidden: a bad marker.
        """
        query = parse_query(filters, sort_key, sort_dir, is_public)
        page_limit = check_limit(limit)
        if member_status is not None and member_status not in _MEMBER_STATUS_CHOICES:
            raise Invalid(f"Unknown member status {member_status!r}")
        if page_limit == 0:
            return []
        with self._reading() as conn:
            marker_row = (
                load_marker(conn, context, marker, query.showing_deleted)
                if marker is not None
                else None
            )
            shapes = choose_property_shapes(
                conn,
                query.properties,
                page_limit,
                index_order=query.sort[0].column in INDEX_ORDER_COLUMNS,
            )
            stmt = page_statement(
                context,
                query,
                marker=None if marker_row is None else dict(marker_row._mapping),
                limit=page_limit,
                member_status=member_status,
                admin_as_user=admin_as_user,
                dialect=conn.dialect.name,
                property_shapes=shapes,
            )
            rows = conn.execute(stmt).all()
            return image_dicts(
                conn,
                rows,
                show_deleted_locations=query.showing_deleted,
                hide_deactivated_locations=not context_is_admin(context),
                return_tag=return_tag,
                v1_mode=v1_mode,
            )
