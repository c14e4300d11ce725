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

import functools
import operator
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from sqlalchemy import (
    BigInteger,
    BindParameter,
    Column,
    ColumnElement,
    Connection,
    Integer,
    Select,
    String,
    Subquery,
    and_,
    bindparam,
    case,
    exists,
    false,
    literal_column,
    or_,
    select,
    true,
    union_all,
)
from sqlalchemy.sql.util import ClauseAdapter

from glancedb.context import (
    ContextLike,
    context_can_see_deleted,
    context_is_admin,
    context_owner,
)
from glancedb.exception import Forbidden, ImageNotFound, Invalid
from glancedb.images.access import image_with_membership, visibility_without_membership
from glancedb.images.listing_filters import (
    ImageQuery,
    SortKey,
    parse_query,
)
from glancedb.images.listing_properties import (
    PROBED_DIALECTS,
    PropertyShape,
    choose_property_shapes,
    property_condition,
    property_parameters,
    value_is_indexed,
)
from glancedb.images.plans import flag_text, not_deleted, uses_opaque_flags
from glancedb.images.records import image_dicts
from glancedb.keyset import (
    OrderKey,
    after_marker,
    check_limit,
    empty_value,
    marker_parameters,
    marker_values,
    order_terms,
    sort_value,
)
from glancedb.models import images as models
from glancedb.models import tables as t
from glancedb.records import Record
from glancedb.rows import in_list, slot_count, slot_parameters
from glancedb.statements import fetch_all
from glancedb.transactions import DatabaseCore, retrying
from glancedb.validation import MEMBER_STATUSES, image_key

_MEMBER_STATUS_CHOICES = MEMBER_STATUSES | {"all"}

#: Sort columns whose order an index serves (NOT NULL, so :func:`glancedb.keyset.sort_expression`
#: leaves them bare): ``created_at_image_idx`` and the primary key.
INDEX_ORDER_COLUMNS = frozenset({"created_at", "id"})
#: Sort columns whose order glancedb's order indexes serve (revisions
#: ``0006_images_sort_order`` and, on MySQL/MariaDB, ``0008_mysql_images_sort_order``)
#: when the whole order is ``[column, created_at, id]`` in one direction.  A
#: page sorted first on any other column has to read every match before it can stop.
ORDER_INDEX_COLUMNS = frozenset({"name", "size"})
#: The backends whose order indexes are on the plain columns (revision
#: ``0008_mysql_images_sort_order``): an index cannot serve the sort
#: expression ``COALESCE(column, empty)`` there, so a page reads the images
#: with a value and those without one apart (see :class:`NullSplit`).
PLAIN_ORDER_INDEX_DIALECTS = frozenset(models.PLAIN_ORDER_INDEX_DIALECTS)
#: Where a page walks the walk indexes (revisions 0010 and 0011) in a derived table
#: (:func:`_walked_page_statement`).  SQLite walks its own (revision 0012) with
#: the plain statement: its deferred seek already reads the row of an image
#: only once the index entry has passed the tests.
WALKED_PAGE_DIALECTS = PLAIN_ORDER_INDEX_DIALECTS
ORDER_INDEX_DIALECTS = frozenset(models.ORDER_INDEX_DIALECTS) | PLAIN_ORDER_INDEX_DIALECTS


def index_serves_order(dialect: str, sort: Sequence[SortKey]) -> bool:
    """Whether a page in ``sort``'s order can walk an index and stop after ``limit`` rows."""
    first = sort[0]
    if first.column in INDEX_ORDER_COLUMNS:
        return True
    return (
        dialect in ORDER_INDEX_DIALECTS
        and first.column in ORDER_INDEX_COLUMNS
        and [key.column for key in sort] == [first.column, "created_at", "id"]
        and all(key.direction == first.direction for key in sort)
    )


@dataclass(frozen=True)
class NullSplit:
    """A page sorted on a nullable column, read as two index walks.

    A NULL sorts as the column's empty value (``''``, ``0``), among the
    values equal to it, which an index on the plain column keeps apart (all
    NULLs first).  So the page is the first ``limit`` rows of the merge of
    two walks of the ``(column, created_at, id)`` index, each stopping after
    ``limit`` matches: the rows with a value, in the page's order, and the
    rows without one, in (created_at, id) order.

    ``values_from_marker``: the first walk starts at the marker's value
    (``:split_value``); ``nulls``: the second walk is needed at all (it is
    not when the marker sorts after every NULL); ``nulls_from_marker``: it
    starts at the marker's ``created_at`` (``:split_created_at``), when the
    marker's value may equal the empty value.
    """

    values_from_marker: bool
    nulls: bool
    nulls_from_marker: bool


def _relative_to_empty(column: Column[Any], value: Any) -> int:
    """-1, 0 or 1: ``value`` sorts below, maybe equal to, or above ``column``'s empty value.

    A string counts as above only when it holds a character every collation
    weighs; spaces (ignored at the end by PAD SPACE collations), controls,
    format characters and combining marks may weigh nothing, so a string of
    only those may equal ``''``.
    """
    if isinstance(value, str):
        return 1 if any(unicodedata.category(c) not in _MAYBE_WEIGHTLESS for c in value) else 0
    empty = empty_value(column)
    return int(value > empty) - int(value < empty)


_MAYBE_WEIGHTLESS = frozenset({"Zs", "Zl", "Zp", "Cc", "Cf", "Cs", "Co", "Cn", "Mn", "Mc", "Me"})


def null_split(
    shape: PageShape, marker: Mapping[str, Any] | None
) -> tuple[NullSplit, dict[str, Any]]:
    """How a page of ``shape`` after ``marker`` splits (see :class:`NullSplit`),
    and the values the split binds."""
    first = shape.sort[0]
    if marker is None:
        return NullSplit(values_from_marker=False, nulls=True, nulls_from_marker=False), {}
    column = t.images.c[first.column]
    value = sort_value(column, marker[first.column])
    where = _relative_to_empty(column, value)
    ascending = first.direction == "asc"
    split = NullSplit(
        values_from_marker=where > 0 or not ascending,
        nulls=where <= 0 if ascending else where >= 0,
        nulls_from_marker=where == 0,
    )
    params: dict[str, Any] = {}
    if split.values_from_marker:
        params["split_value"] = value
    if split.nulls and split.nulls_from_marker:
        params["split_created_at"] = marker["created_at"]
    return split, params


#: How many differently shaped page statements are kept built (see
#: :func:`shaped_page_statement`); real callers use a handful.
STATEMENT_CACHE_SIZE = 512


# --- the shape of a page statement ----------------------------------------------
#
# A page statement is built once per *shape* - everything that decides its SQL
# text: the visibility case, which filters with which operators, the property
# shapes, the order, whether there is a marker - and reused with the values
# bound (owner, filter values, marker values, limit).  Building a statement
# costs more than running a page on SQLite; a reused one is also a hit in
# SQLAlchemy's compiled cache (its cache key is memoised on the object) and,
# on PostgreSQL, one prepared statement per shape.  Constants that shape the
# plan (visibility names, booleans) are written into the SQL text, so the
# planner sees them; user data is always bound.


class PageShape(NamedTuple):
    """What decides a page statement's SQL text (see :func:`page_shape`)."""

    dialect: str
    regular: bool
    has_owner: bool
    visibility: str | None
    any_member_status: bool
    #: Whether a membership can make an image visible: the context has an
    #: owner and ``member_status`` is not None (as in Glance, a None status
    #: matches no membership row).
    members_match: bool
    is_public: bool | None
    #: (column, operator, literal boolean or None when the value is bound,
    #: parameter slots of an ``in`` list: see :func:`in_parameters`)
    conditions: tuple[tuple[str, str, bool | None, int], ...]
    #: (shape, whether the value is None, whether the value is one
    #: PostgreSQL's partial (name, value) index holds)
    properties: tuple[tuple[PropertyShape, bool, bool], ...]
    tags: int
    sort: tuple[SortKey, ...]
    marker: bool
    limited: bool
    #: On MySQL/MariaDB, a page sorted on a nullable column (see :class:`NullSplit`).
    null_split: NullSplit | None = None


def page_shape(
    context: ContextLike,
    query: ImageQuery,
    *,
    marker: bool,
    limit: int | None,
    member_status: str | None,
    admin_as_user: bool,
    dialect: str,
    property_shapes: Sequence[PropertyShape] | None = None,
) -> PageShape:
    """The shape of the page statement for these options."""
    if property_shapes is None:
        shape: PropertyShape = "correlated" if dialect in PROBED_DIALECTS else "exists"
        property_shapes = [shape] * len(query.properties)
    has_owner = context_owner(context) is not None
    return PageShape(
        dialect=dialect,
        regular=bool(admin_as_user) or not context_is_admin(context),
        has_owner=has_owner,
        visibility=query.visibility,
        any_member_status=member_status == "all",
        members_match=has_owner and member_status is not None,
        is_public=query.is_public,
        conditions=tuple(
            (
                c.column,
                c.op,
                c.value if isinstance(c.value, bool) else None,
                in_slots(c.value) if c.op == "in" else 0,
            )
            for c in query.conditions
        ),
        properties=tuple(
            (shape, p.value is None, dialect == "postgresql" and value_is_indexed(p.value))
            for p, shape in zip(query.properties, property_shapes, strict=True)
        ),
        tags=len(query.tags),
        sort=query.sort,
        marker=marker,
        limited=limit is not None,
    )


def page_parameters(
    context: ContextLike,
    query: ImageQuery,
    *,
    marker: Mapping[str, Any] | None,
    limit: int | None,
    member_status: str | None,
) -> dict[str, Any]:
    """The values bound into the page statement (names as :func:`shaped_page_statement` uses)."""
    params: dict[str, Any] = {"owner": context_owner(context), "member_status": member_status}
    for i, condition in enumerate(query.conditions):
        if condition.op == "in" and in_slots(condition.value):
            params.update(in_parameters(i, condition.value))
        elif condition.op == "in":
            params[f"filter_{i}"] = list(condition.value)
        elif condition.op != "is_null" and not isinstance(condition.value, bool):
            params[f"filter_{i}"] = condition.value
    params.update(property_parameters(query.properties))
    for i, tag in enumerate(query.tags):
        params[f"tag_{i}"] = tag
    if marker is not None:
        params.update(marker_values(order_keys(query.sort), marker))
    if limit is not None:
        params["page_limit"] = limit
    return params


# --- visibility (SPEC 3.1) ----------------------------------------------------


def _text(value: str) -> ColumnElement[Any]:
    """A visibility name written into the SQL text (a plan-shaping constant, never user data)."""
    if not value.isalpha():
        raise ValueError(f"not a visibility name: {value!r}")  # pragma: no cover
    return literal_column(f"'{value}'", String)


def _member_exists(any_status: bool, *, planner_chooses: bool = False) -> ColumnElement[bool]:
    member = t.image_members
    # ``deleted`` compared plainly on every backend (unlike the images'
    # flags): with the status, the four columns of revision 0009's (member,
    # deleted, status, image_id) index are all equalities, so each probe is
    # one lookup in that index alone.  Measured at a million images, MariaDB
    # and SQLite then read no membership row per walked image (MariaDB's
    # tenant tag page 43-47 -> 37-38 ms, SQLite's 5.9 -> 4.3 ms).
    conditions = [
        member.c.image_id == t.images.c.id,
        member.c.member == bindparam("owner"),
        member.c.deleted == false(),
    ]
    if not any_status:
        conditions.append(member.c.status == bindparam("member_status"))
    if planner_chooses:
        # PostgreSQL plans an EXISTS inside the OR both ways and picks by
        # cost: read the project's memberships once into a hash ("hashed
        # SubPlan", an index-only scan of the (member, deleted, status,
        # image_id) index of revision 0009), or probe per walked image when
        # the project has too many to hash.  Measured at a million images
        # (1,690 memberships), the tenant's tag page read 877 buffers hashed
        # against 5,317 probing.  Wrapped in CASE ... IS NOT NULL, as the
        # LIMIT 1 form below is, for the row estimate: PostgreSQL rates a
        # bare subplan as true for half the rows, and, expecting fewer
        # visible images, started common-value pages from the (name, value)
        # index and sorted every match (10k catalogue, os_distro=fedora:
        # 2,000 rows, 10-15 ms against 3.5-4.4 ms walking).
        member_exists = exists(select(literal_column("1")).where(*conditions))
        return case((member_exists, literal_column("1"))).is_not(None)
    # Elsewhere a scalar subquery with LIMIT 1, never an EXISTS: MariaDB
    # rewrites an EXISTS inside the OR into IN and materialises it, once per
    # page, over all the project's memberships, which grow with the
    # catalogue (thousands at a million images), read before the first row.
    # A LIMIT 1 subquery can only be probed per walked image, and only for
    # shared images the project does not own: the page stays O(limit).
    return select(literal_column("1")).where(*conditions).limit(1).scalar_subquery().is_not(None)


def visibility_condition(shape: PageShape) -> ColumnElement[bool] | None:
    """Which images the context sees, with the ``visibility`` filter folded in.

    Regular contexts see public and community images, their own, and shared
    images they are a member of (with ``:member_status``); then a visibility
    filter restricts that set, and without one community images show only
    to their owner.  Each case is written as the smallest condition so that
    the planner has a simple ``OR`` to work with.  The project is bound as
    ``:owner``.
    """
    img = t.images.c
    opaque = uses_opaque_flags(shape.dialect)
    visibility = shape.visibility
    owned: ColumnElement[bool] = img.owner == bindparam("owner") if shape.has_owner else false()
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
    membership = _member_exists(
        shape.any_member_status, planner_chooses=shape.dialect == "postgresql"
    )
    member: ColumnElement[bool] = (
        and_(vis_text == _text("shared"), membership) if shape.members_match else false()
    )
    if not shape.regular:
        if visibility is None:
            return or_(img.visibility != _text("community"), owned)
        if visibility == "all":
            return None
        return vis_text == _text(visibility)
    if visibility is None:
        return or_(vis_text == _text("public"), owned, member)
    if visibility == "all":
        return or_(vis_text.in_((_text("public"), _text("community"))), owned, member)
    if visibility in ("public", "community"):
        return vis_text == _text(visibility)
    if visibility == "private":
        return and_(vis_text == _text("private"), owned)
    shared_member: ColumnElement[bool] = membership if shape.members_match else false()
    return and_(vis_text == _text("shared"), or_(owned, shared_member))


# --- filters (SPEC 3.2) -------------------------------------------------------


_COMPARISONS: dict[str, Callable[[Any, Any], Any]] = {
    "eq": operator.eq,
    "neq": operator.ne,
    "lt": operator.lt,
    "lte": operator.le,
    "gt": operator.gt,
    "gte": operator.ge,
}


#: Longest ``in`` list bound as fixed slots; a longer one is an expanding
#: parameter (slots would double its parameter count, and backends limit it).
IN_SLOTS_MAX = 1024


def in_slots(values: Sequence[Any]) -> int:
    """The parameter slots of an ``in`` list of ``values``; 0 for an expanding parameter."""
    return slot_count(len(values)) if len(values) <= IN_SLOTS_MAX else 0


def in_parameters(index: int, values: Sequence[Any]) -> dict[str, Any]:
    """The values of an ``in`` condition's slots, ``:filter_<index>_<slot>``
    (:func:`~glancedb.rows.slot_parameters`)."""
    return slot_parameters(f"filter_{index}", values)


def column_condition(
    index: int,
    column: str,
    op: str,
    literal: bool | None,
    slots: int = 0,
    *,
    opaque: bool = True,
    dialect: str = "sqlite",
) -> ColumnElement[bool]:
    """SQL for one column condition on ``images``; its value bound as ``:filter_<index>``.

    ``literal``: a boolean value written into the SQL instead of bound.
    ``slots``: the parameters of an ``in`` list (:func:`in_parameters`).
    ``dialect``: whom a longer ``in`` list is written for (:func:`~glancedb.rows.in_list`).
    """
    col = t.images.c[column]
    if opaque and column == "deleted" and op == "eq" and literal is False:
        # Nearly every image is live, so the index on ``deleted`` never helps
        # here; but SQLite and MySQL pick it (an equality on an index) and
        # then sort the whole table.  Wrapping the NOT NULL column keeps the
        # index out of reach and lets the ``created_at`` order index win.
        return not_deleted(col)
    if op == "is_null":
        return col.is_(None)
    if op == "in" and slots:
        items = [bindparam(f"filter_{index}_{slot}", type_=col.type) for slot in range(slots)]
        return col.in_(items)
    if op == "in":
        return in_list(col, dialect, key=f"filter_{index}")
    comparison = _COMPARISONS.get(op)
    if comparison is None:
        raise Invalid(f"Unknown filter operator {op!r}")  # pragma: no cover - parser guards it
    # The parser admits any 64-bit value; bound as the column's 32-bit
    # type, psycopg's cast would make PostgreSQL refuse 2**31 where the
    # other backends compare (min_ram = 2**31 matches no image).
    wide = BigInteger if isinstance(col.type, Integer) else None
    value: Any = bindparam(f"filter_{index}", type_=wide)
    if literal is not None:
        value = true() if literal else false()
    result: ColumnElement[bool] = comparison(col, value)
    return result


def tag_condition(index: int) -> ColumnElement[bool]:
    """The image carries the live tag ``:tag_<index>`` (EXISTS)."""
    tags = t.image_tags.c
    return exists().where(
        tags.image_id == t.images.c.id,
        tags.value == bindparam(f"tag_{index}"),
        tags.deleted == false(),
    )


def column_filters(shape: PageShape) -> list[ColumnElement[bool]]:
    """The filters of ``shape`` on ``images``' own columns."""
    opaque = uses_opaque_flags(shape.dialect)
    conditions: list[ColumnElement[bool]] = []
    if shape.is_public is not None:
        vis = flag_text(t.images.c.visibility, opaque=opaque)
        public = _text("public")
        conditions.append(vis == public if shape.is_public else vis != public)
    conditions.extend(
        column_condition(i, column, op, literal, slots, opaque=opaque, dialect=shape.dialect)
        for i, (column, op, literal, slots) in enumerate(shape.conditions)
    )
    return conditions


def child_filters(shape: PageShape) -> list[ColumnElement[bool]]:
    """The property and tag filters of ``shape`` (subqueries)."""
    conditions = [
        property_condition(i, property_shape, value_is_null=is_null, indexed=indexed)
        for i, (property_shape, is_null, indexed) in enumerate(shape.properties)
    ]
    conditions.extend(tag_condition(i) for i in range(shape.tags))
    return conditions


# --- order and keyset pagination (SPEC 3.3) -----------------------------------


def order_keys(sort: Sequence[SortKey]) -> list[OrderKey]:
    """The keyset order of ``sort`` (image column names) as ``images`` columns."""
    return [OrderKey(t.images.c[key.column], key.direction) for key in sort]


def page_conditions(shape: PageShape) -> list[ColumnElement[bool]]:
    """The WHERE conditions of a page of ``shape``, in the order they are written."""
    keys = order_keys(shape.sort)
    conditions = column_filters(shape)
    visible = visibility_condition(shape)
    if visible is not None:
        conditions.append(visible)
    if shape.marker:
        conditions.append(after_marker(keys, marker_parameters(keys)))
    # Subqueries last: SQLite and MariaDB test the conditions in the order
    # written, so while walking the order index the cheap column tests
    # (owner, visibility) reject most images before a subquery runs (the
    # benchmark's property pages: benchmarks/RESULTS.md).
    conditions.extend(child_filters(shape))
    return conditions


@functools.lru_cache(maxsize=STATEMENT_CACHE_SIZE)
def shaped_page_statement(shape: PageShape) -> Select[Any]:
    """The one SELECT of ``images`` rows for a page of ``shape``, values bound by name.

    Built once per shape (see :class:`PageShape`); :func:`page_parameters`
    gives the values (and :func:`null_split` those of a split page).
    """
    if shape.null_split is not None:
        return _split_page_statement(shape, shape.null_split)
    keys = order_keys(shape.sort)
    conditions = page_conditions(shape)
    if shape.limited and shape.dialect in WALKED_PAGE_DIALECTS:
        return _walked_page_statement(keys, conditions)
    stmt = select(t.images).where(*conditions).order_by(*order_terms(keys))
    if shape.limited:
        stmt = stmt.limit(_page_limit())
    return stmt


def _page_limit() -> BindParameter[int]:
    """The page size, bound.  A 64-bit integer as :func:`~glancedb.keyset.check_limit`
    admits: typed ``Integer``, psycopg's statement would cast it to
    PostgreSQL's 32-bit ``integer``, which refuses a limit of 2**31."""
    return bindparam("page_limit", type_=BigInteger)


def _walked_page_statement(
    keys: Sequence[OrderKey], conditions: Sequence[ColumnElement[bool]]
) -> Select[Any]:
    """MySQL/MariaDB: a page whose walk names only the ids and sort values,
    its images then read by id (see :func:`_read_walked`)."""
    walk = (
        select(*_walk_columns(keys))
        .where(*conditions)
        .order_by(*order_terms(keys))
        .limit(_page_limit())
        .subquery("walk")
    )
    return _read_walked(walk, keys)


def _walk_columns(keys: Sequence[OrderKey]) -> list[Column[Any]]:
    """The columns a walk returns: the image id and the sort columns."""
    columns = {t.images.c.id.key: t.images.c.id}
    for key in keys:
        columns.setdefault(key.column.key, key.column)
    return list(columns.values())


def _read_walked(walk: Subquery, keys: Sequence[OrderKey]) -> Select[Any]:
    """The images of a walked page, read by id, in the page's order.

    InnoDB stores rows in (random UUID) id order, so every image a walk
    tests costs a read from anywhere in the table.  A walk that names only
    columns of one of revision 0011's indexes - the page's order followed by
    what the visibility test and the usual filters (``os_hidden``,
    ``disk_format``, ``container_format``) read - reads that index alone,
    and only the page's images are read from the table: a tenant's page at a
    million images walks thousands of images for its 25
    (docs/performance.md).  A filter on another column still reads each
    walked row.
    """
    order = [ClauseAdapter(walk).traverse(term) for term in order_terms(keys)]
    return select(t.images).join(walk, walk.c.id == t.images.c.id).order_by(*order)


def _split_page_statement(shape: PageShape, split: NullSplit) -> Select[Any]:
    keys = order_keys(shape.sort)
    column = keys[0].column
    descending = keys[0].direction == "desc"
    limit = _page_limit()
    conditions = page_conditions(shape)
    walked = _walk_columns(keys)

    def native(key: OrderKey) -> ColumnElement[Any]:
        return key.column.desc() if key.direction == "desc" else key.column.asc()

    value_bounds: list[ColumnElement[bool]] = [column.is_not(None)]
    if split.values_from_marker:
        start = bindparam("split_value", type_=column.type)
        value_bounds.append(column <= start if descending else column >= start)
    walks = [
        select(*walked)
        .where(*value_bounds, *conditions)
        .order_by(*(native(key) for key in keys))
        .limit(limit)
    ]
    if split.nulls:
        null_bounds: list[ColumnElement[bool]] = [column.is_(None)]
        if split.nulls_from_marker:
            created = t.images.c.created_at
            start = bindparam("split_created_at", type_=created.type)
            null_bounds.append(created <= start if descending else created >= start)
        walks.append(
            select(*walked)
            .where(*null_bounds, *conditions)
            .order_by(*(native(key) for key in keys[1:]))
            .limit(limit)
        )
    if len(walks) == 1:
        # Its order is the page's: no NULL among its rows.
        return _read_walked(walks[0].subquery("walk"), keys)
    merged = union_all(*walks).subquery("page")
    # The page's order, its columns taken from the merged walks.
    order = [ClauseAdapter(merged).traverse(term) for term in order_terms(keys)]
    page = select(*merged.c).order_by(*order).limit(limit).subquery("walk")
    return _read_walked(page, keys)


def splits_nulls(shape: PageShape) -> bool:
    """Whether a page of ``shape`` is read as a :class:`NullSplit`."""
    return (
        shape.limited
        and shape.dialect in PLAIN_ORDER_INDEX_DIALECTS
        and shape.sort[0].column in ORDER_INDEX_COLUMNS
        and index_serves_order(shape.dialect, shape.sort)
    )


def page_rows(
    conn: Connection,
    shape: PageShape,
    params: Mapping[str, Any],
    marker: Mapping[str, Any] | None,
) -> Sequence[Sequence[Any]]:
    """The ``images`` rows of the page of ``shape`` (one statement)."""
    if splits_nulls(shape):
        split, split_params = null_split(shape, marker)
        shape = shape._replace(null_split=split)
        params = {**params, **split_params}
    return fetch_all(conn, shaped_page_statement(shape), params)


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
    """The one SELECT of ``images`` rows for the page, shaped for ``dialect``'s planner,
    with its values bound (for inspection: ``image_get_all`` binds them per call).

    ``property_shapes``: how each property filter is written (see
    :func:`choose_property_shapes`); by default ``correlated`` on SQLite and
    MySQL, ``exists`` on PostgreSQL.
    """
    shape = page_shape(
        context,
        query,
        marker=marker is not None,
        limit=limit,
        member_status=member_status,
        admin_as_user=admin_as_user,
        dialect=dialect,
        property_shapes=property_shapes,
    )
    params = page_parameters(
        context, query, marker=marker, limit=limit, member_status=member_status
    )
    return shaped_page_statement(shape).params(params)


# --- the marker ----------------------------------------------------------------


def load_marker(
    conn: Connection, context: ContextLike, marker: Any, showing_deleted: bool
) -> Record:
    """The marker image (a dict without children), looked up with image_get's rules.

    Unknown, malformed, or deleted while deleted images are not shown ->
    :class:`ImageNotFound`; not visible to the context -> :class:`Forbidden`.
    The membership needed for the visibility check is read in the same
    statement.
    """
    key = image_key(marker, "marker")
    if key is None:
        raise ImageNotFound("Marker image not found")
    found = image_with_membership(conn, context, key, live_only=False)
    if found is None:
        raise ImageNotFound(f"Marker image {marker!r} not found")
    image, is_member = found
    if image["deleted"] and not (showing_deleted or context_can_see_deleted(context)):
        raise ImageNotFound(f"Marker image {marker!r} is deleted")
    verdict = visibility_without_membership(context, image)
    if verdict is None:
        verdict = is_member
    if not verdict:
        raise Forbidden(f"Forbidden to access marker image {marker!r}")
    return image


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
        :raises InvalidSortKey: a sort key that is not an image column.
        :raises InvalidSortDir: a sort direction other than ``asc``/``desc``.
        :raises InvalidFilterRangeValue: a non-numeric ``*_min``/``*_max``.
        :raises InvalidFilterOperatorValue: an unknown filter operator.
        :raises InvalidParameterValue: a malformed filter value.
        :raises Invalid: other bad options (a negative limit, ...).
        :raises ImageNotFound: an unknown or hidden marker.
        :raises Forbidden: a marker the context may not see.
        """
        query = parse_query(filters, sort_key, sort_dir, is_public)
        page_limit = check_limit(limit)
        if member_status is not None and (
            not isinstance(member_status, str) or member_status not in _MEMBER_STATUS_CHOICES
        ):
            raise Invalid(f"Unknown member status {member_status!r}")
        if page_limit == 0 or query.matches_nothing:
            return []
        with self._reading() as conn:
            marker_image = (
                load_marker(conn, context, marker, query.showing_deleted)
                if marker is not None
                else None
            )
            property_shapes = choose_property_shapes(
                conn,
                query.properties,
                page_limit,
                index_order=index_serves_order(conn.dialect.name, query.sort),
                regular=bool(admin_as_user) or not context_is_admin(context),
            )
            shape = page_shape(
                context,
                query,
                marker=marker_image is not None,
                limit=page_limit,
                member_status=member_status,
                admin_as_user=admin_as_user,
                dialect=conn.dialect.name,
                property_shapes=property_shapes,
            )
            params = page_parameters(
                context, query, marker=marker_image, limit=page_limit, member_status=member_status
            )
            rows = page_rows(conn, shape, params, marker_image)
            return image_dicts(
                conn,
                rows,
                show_deleted_locations=query.showing_deleted,
                hide_deactivated_locations=not context_is_admin(context),
                return_tag=return_tag,
                v1_mode=v1_mode,
            )
