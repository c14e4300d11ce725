"""Parsing ``image_get_all``'s filters and sort options (SPEC 3.2, 3.3).

Pure functions, no SQL: the Glance-style ``filters`` dict, ``sort_key`` /
``sort_dir`` and ``is_public`` become an :class:`ImageQuery`, a typed and
validated description that :mod:`glancedb.images.listing` turns into one SQL
statement.  Every malformed input is rejected here, before any query runs.
Filter keys are only ever compared with the known column names: a key that
is not a column becomes a property *name* (data), never an identifier.
"""

from __future__ import annotations

import datetime
import functools
from collections.abc import Mapping, Sequence
from typing import Any, Literal, NamedTuple

from sqlalchemy import Boolean, DateTime, Integer

from glancedb.exception import (
    Invalid,
    InvalidFilterOperatorValue,
    InvalidFilterRangeValue,
    InvalidParameterValue,
    InvalidSortDir,
    InvalidSortKey,
)
from glancedb.images.records import IMAGE_COLUMNS
from glancedb.models import tables as t
from glancedb.validation import (
    MAX_INT64,
    MIN_INT64,
    check_datetime,
    check_scalar,
    filter_text,
)

Operator = Literal["eq", "neq", "lt", "lte", "gt", "gte", "in", "is_null"]
Direction = Literal["asc", "desc"]


#: Comparison operators of the ``created_at`` / ``updated_at`` filters.
TIME_OPERATORS: frozenset[str] = frozenset({"eq", "neq", "lt", "lte", "gt", "gte"})
#: Columns filtered with ``in:a,b`` / ``eq:a`` / plain values.
LIST_FILTER_COLUMNS: frozenset[str] = frozenset(
    {"name", "id", "status", "container_format", "disk_format"}
)
TIME_FILTER_COLUMNS: frozenset[str] = frozenset({"created_at", "updated_at"})
#: Keys whose None value means ``IS NULL`` (every other None-valued key is ignored).
NULL_COMPARED_KEYS: frozenset[str] = frozenset(
    {"checksum", "os_hash_value", "os_hidden", "deleted"}
)
# The NULL-compared columns other than ``deleted`` (which has rules of its own), in order.
_NULL_COMPARED_COLUMNS: tuple[str, ...] = tuple(sorted(NULL_COMPARED_KEYS - {"deleted"}))
VISIBILITIES: frozenset[str] = frozenset({"public", "private", "shared", "community", "all"})
#: Most tag and property filters one listing takes, together.  Each is a
#: subquery of the page statement, and PostgreSQL's planning time grows
#: steeply with their number (on an empty database: 32 property filters
#: 0.4 s, 192 tag filters 15 s, a thousand longer than anyone waits), on
#: every call, so an unbounded list would let any caller tie up a server.
MAX_MATCH_FILTERS = 32
DEFAULT_SORT_KEY = "created_at"
DEFAULT_SORT_DIR: Direction = "desc"
TIE_BREAKERS: tuple[str, ...] = ("created_at", "id")


class ColumnCondition(NamedTuple):
    """``images.<column> <op> value`` (``in``: value is a tuple; ``is_null``: no value)."""

    column: str
    op: Operator
    value: Any = None


class PropertyCondition(NamedTuple):
    """The image has a live property ``name`` whose value equals ``value``."""

    name: str
    value: str | None


class SortKey(NamedTuple):
    """One ``ORDER BY`` term: an image column and a direction."""

    column: str
    direction: Direction


#: Glance's default order: newest first, the id breaking ties.
DEFAULT_SORT: tuple[SortKey, ...] = (SortKey("created_at", "desc"), SortKey("id", "desc"))


class ImageQuery(NamedTuple):
    """What ``image_get_all`` must return, validated and typed.

    ``visibility`` is the ``filters['visibility']`` value (None when absent);
    ``is_public`` the v1-style flag; ``showing_deleted`` whether deleted
    images are asked for (``deleted=True`` or ``changes-since``), which
    decides how the marker is looked up and whether deleted locations show.
    ``matches_nothing``: a filter compares with text no image can hold (a
    4-byte character), so the listing is empty without asking the database
    (MySQL's utf8 columns would reject the comparison).
    """

    conditions: tuple[ColumnCondition, ...] = ()
    properties: tuple[PropertyCondition, ...] = ()
    tags: tuple[str, ...] = ()
    visibility: str | None = None
    is_public: bool | None = None
    showing_deleted: bool = False
    matches_nothing: bool = False
    sort: tuple[SortKey, ...] = DEFAULT_SORT


# --- helpers for single values ------------------------------------------------


def split_filter_op(expression: str) -> tuple[str, str]:
    """Split ``"op:value"`` into ``(op, value)``; no operator means ``eq``.

    A value that contains ``:`` but as a whole is an ISO-8601 time is not
    split (``2024-01-01T10:00:00`` is an equality, not operator ``2024-01-01T10``).
    """
    op, sep, rest = expression.partition(":")
    if not sep:
        return "eq", expression
    if _try_parse_isotime(expression) is not None:
        return "eq", expression
    return op, rest


def _try_parse_isotime(text: str) -> datetime.datetime | None:
    try:
        return datetime.datetime.fromisoformat(text.strip())
    except ValueError:
        return None


def parse_isotime(value: Any, key: str) -> datetime.datetime:
    """An ISO-8601 time (or a datetime) as naive UTC; else InvalidParameterValue."""
    if isinstance(value, datetime.datetime):
        return check_datetime(f"Filter {key!r}", value)
    parsed = _try_parse_isotime(value) if isinstance(value, str) else None
    if parsed is None:
        raise InvalidParameterValue(
            f"Bad {key!r} filter value {value!r}: use ISO 8601 date-time notation"
        )
    return check_datetime(f"Filter {key!r}", parsed)


def split_in_list(value: str) -> list[str]:
    """Items of an ``in:`` list, following the API-WG quoting rules.

    Items are separated by commas.  An item may be double-quoted to contain
    commas; inside quotes a backslash protects the next character (both are
    kept, nothing is unescaped).  A quote must open at the start of an item,
    be closed, and be followed by a comma or the end, else
    :class:`InvalidParameterValue`.  A trailing comma ends the list.
    """
    items: list[str] = []
    pos, end = 0, len(value)
    while pos < end:
        if value[pos] == '"':
            pos += 1
            start = pos
            while pos < end and value[pos] != '"':
                pos += 2 if value[pos] == "\\" else 1
            if pos >= end:
                raise InvalidParameterValue(
                    f"Invalid filter value {value!r}: a quotation mark is not closed"
                )
            items.append(value[start:pos])
            pos += 1
            if pos < end and value[pos] != ",":
                raise InvalidParameterValue(
                    f"Invalid filter value {value!r}: no comma after a closing quotation mark"
                )
        else:
            stop = value.find(",", pos)
            stop = end if stop < 0 else stop
            item = value[pos:stop]
            _reject_bare_quote(item, value)
            items.append(item)
            pos = stop
        pos += 1  # the comma
    return items


def _reject_bare_quote(item: str, whole: str) -> None:
    for i, char in enumerate(item):
        if char == '"' and (i == 0 or item[i - 1] != "\\"):
            raise InvalidParameterValue(
                f"Invalid filter value {whole!r}: no comma before an opening quotation mark"
            )


def _to_bool(value: Any, key: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in ("true", "false", "1", "0"):
        return value.strip().lower() in ("true", "1")
    raise InvalidParameterValue(f"Filter {key!r} needs a boolean, not {value!r}")


def _to_int(value: Any, key: str) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError, OverflowError, ArithmeticError):
        raise InvalidParameterValue(f"Filter {key!r} needs an integer, not {value!r}") from None
    if not MIN_INT64 <= number <= MAX_INT64:
        raise InvalidParameterValue(f"Filter {key!r}: {number} does not fit a 64-bit integer")
    return number


def coerce_column_value(column: str, value: Any, key: str | None = None) -> Any:
    """``value`` converted to the Python type of image column ``column``."""
    key = key or column
    _check_value(key, value)
    col_type = t.images.c[column].type
    if isinstance(col_type, Boolean):
        return _to_bool(value, key)
    if isinstance(col_type, Integer):
        return _to_int(value, key)
    if isinstance(col_type, DateTime):
        return parse_isotime(value, key)
    return value if isinstance(value, str) else str(value)


def _check_value(key: str, value: Any) -> None:
    """A filter value must be one value: :class:`InvalidParameterValue` naming the key."""
    try:
        check_scalar(f"Filter {key!r}", value)
    except InvalidParameterValue:
        raise
    except Invalid as error:
        raise InvalidParameterValue(error.msg) from None


def _as_filter_text(key: str, value: Any) -> str | None:
    """A scalar filter value as text (see :func:`filter_text`)."""
    if isinstance(value, str):
        return filter_text(key, value)
    _check_value(key, value)
    return filter_text(key, str(value))


# --- the filters dict ---------------------------------------------------------


def _range_condition(key: str, value: Any) -> ColumnCondition | None:
    """The condition of a ``<column>_min`` / ``<column>_max`` key (None: not one)."""
    column, bound = key[:-4], key[-3:]
    if column not in IMAGE_COLUMNS:
        return None
    if not isinstance(t.images.c[column].type, Integer):
        raise InvalidFilterRangeValue(f"Unable to filter {key!r}: column {column!r} is not numeric")
    try:
        _check_value(key, value)
        number = _to_int(value, key)
    except Invalid:
        raise InvalidFilterRangeValue(
            f"Unable to filter {key!r} on a range with the value {value!r}: "
            "it needs a 64-bit integer"
        ) from None
    return ColumnCondition(column, "gte" if bound == "min" else "lte", number)


def _time_condition(key: str, value: Any) -> ColumnCondition:
    if isinstance(value, datetime.datetime):
        return ColumnCondition(key, "eq", check_datetime(f"Filter {key!r}", value))
    if not isinstance(value, str):
        raise InvalidParameterValue(f"Bad {key!r} filter value {value!r}: not a string")
    op, text = split_filter_op(value)
    if op not in TIME_OPERATORS:
        raise InvalidFilterOperatorValue(f"Unable to filter {key!r} by unknown operator {op!r}")
    return ColumnCondition(key, op, parse_isotime(text, key))  # type: ignore[arg-type]


def _list_condition(key: str, value: Any) -> ColumnCondition | None:
    """``in:`` / ``eq:`` / plain equality; None when it can match no image."""
    if not isinstance(value, str):
        value = coerce_column_value(key, value)
    filter_text(key, value)
    op, text = split_filter_op(value)
    if op == "in":
        items = [item for item in split_in_list(text) if filter_text(key, item) is not None]
        return ColumnCondition(key, "in", tuple(items)) if items else None
    if op == "eq":
        return ColumnCondition(key, "eq", text) if filter_text(key, text) is not None else None
    raise InvalidFilterOperatorValue(f"Unable to filter {key!r} by unknown operator {op!r}")


def parse_filters(
    filters: Mapping[str, Any] | None,
    is_public: bool | None = None,
    sort: tuple[SortKey, ...] = DEFAULT_SORT,
) -> ImageQuery:
    """Validate Glance's ``filters`` dict (and ``is_public``) into an :class:`ImageQuery`.

    The caller's dict is not modified.  ``sort`` is taken as it is; see
    :func:`parse_query` for the whole set of options, validated.
    """
    if filters is not None and not isinstance(filters, Mapping):
        raise Invalid(f"filters must be a dict, not {filters!r}")
    if is_public is not None:
        # Taken for its truth, as image_create takes values['is_public'].
        check_scalar("is_public", is_public)
        is_public = bool(is_public)
    remaining = dict(filters or {})
    conditions: list[ColumnCondition] = []
    # Tag and property filters as given; None for one no row can match
    # (it still counts towards MAX_MATCH_FILTERS).
    properties: list[PropertyCondition | None] = []
    matches_nothing = False

    visibility = remaining.pop("visibility", None)
    if visibility is not None and (
        not isinstance(visibility, str) or visibility not in VISIBILITIES
    ):
        raise InvalidParameterValue(f"Unknown visibility {visibility!r} in filters")

    showing_deleted = False
    if "changes-since" in remaining:
        since = remaining.pop("changes-since")
        if since is not None:
            conditions.append(
                ColumnCondition("updated_at", "gt", parse_isotime(since, "changes-since"))
            )
            showing_deleted = True

    if "deleted" in remaining:
        deleted = remaining.pop("deleted")
        if deleted is None:
            conditions.append(ColumnCondition("deleted", "is_null"))
        else:
            flag = _to_bool(deleted, "deleted")
            conditions.append(ColumnCondition("deleted", "eq", flag))
            if flag:
                showing_deleted = True
            else:
                conditions.append(ColumnCondition("status", "neq", "killed"))

    for key in _NULL_COMPARED_COLUMNS:
        if key in remaining:
            value = remaining.pop(key)
            if value is None:
                conditions.append(ColumnCondition(key, "is_null"))
                continue
            coerced = coerce_column_value(key, value)
            if isinstance(coerced, str) and filter_text(key, coerced) is None:
                matches_nothing = True
            else:
                conditions.append(ColumnCondition(key, "eq", coerced))

    props = remaining.pop("properties", None)
    if props is not None:
        if not isinstance(props, Mapping):
            raise InvalidParameterValue(f"Filter 'properties' needs a dict, not {props!r}")
        properties.extend(_property_condition(name, value) for name, value in props.items())

    tags: list[str | None] = []
    tag_values = remaining.pop("tags", None)
    if tag_values is not None:
        if isinstance(tag_values, str):
            tag_values = [tag_values]
        if not isinstance(tag_values, list | tuple | set | frozenset):
            raise InvalidParameterValue(f"Filter 'tags' needs a list, not {tag_values!r}")
        tags.extend(_as_filter_text("tags", tag) for tag in tag_values)

    for key, value in remaining.items():
        if value is None:
            continue  # a None filter is ignored (SPEC 3.2)
        if not isinstance(key, str):
            raise InvalidParameterValue(f"Filter key {key!r} is not a string")
        if key.endswith(("_min", "_max")):
            range_condition = _range_condition(key, value)
            if range_condition is not None:
                conditions.append(range_condition)
                continue
        if key in TIME_FILTER_COLUMNS:
            conditions.append(_time_condition(key, value))
        elif key in LIST_FILTER_COLUMNS:
            list_condition = _list_condition(key, value)
            matches_nothing |= list_condition is None
            if list_condition is not None:
                conditions.append(list_condition)
        elif key in IMAGE_COLUMNS:
            coerced = coerce_column_value(key, value)
            if isinstance(coerced, str) and filter_text(key, coerced) is None:
                matches_nothing = True
            else:
                conditions.append(ColumnCondition(key, "eq", coerced))
        else:
            properties.append(_property_condition(key, value))

    if len(properties) + len(tags) > MAX_MATCH_FILTERS:
        raise InvalidParameterValue(
            f"A listing takes at most {MAX_MATCH_FILTERS} tag and property filters "
            f"together, not {len(properties) + len(tags)}"
        )
    if None in tags or any(condition is None for condition in properties):
        matches_nothing = True
    return ImageQuery(
        conditions=tuple(conditions),
        properties=tuple(condition for condition in properties if condition is not None),
        tags=tuple(tag for tag in tags if tag is not None),
        visibility=visibility,
        is_public=is_public,
        showing_deleted=showing_deleted,
        matches_nothing=matches_nothing,
        sort=sort,
    )


def _property_condition(name: Any, value: Any) -> PropertyCondition | None:
    """The property filter ``name`` = ``value``; None when no property can match."""
    key = _as_filter_text("properties", name)
    text = None if value is None else _as_filter_text(f"property {name!r}", value)
    if key is None or (value is not None and text is None):
        return None
    return PropertyCondition(key, text)


# --- sorting ------------------------------------------------------------------


def _as_list(value: Any, error: type[Invalid], what: str) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list | tuple):
        return list(value)
    raise error(f"{what} must be a string or a list of strings, got {value!r}")


def parse_sort(
    sort_key: str | Sequence[str] | None, sort_dir: str | Sequence[str] | None
) -> tuple[SortKey, ...]:
    """The total order of a listing (SPEC 3.3).

    Keys default to ``['created_at']`` and must be image columns
    (:class:`InvalidSortKey`); directions default to ``desc``, one direction
    applies to every key, and each must be ``asc`` or ``desc``
    (:class:`InvalidSortDir`).  ``created_at`` then ``id`` are appended when
    missing, with the single given direction (else ``desc``).
    """
    keys = _as_list(sort_key, InvalidSortKey, "sort_key")
    dirs = _as_list(sort_dir, InvalidSortDir, "sort_dir")
    try:
        # Callers ask for a handful of orders over and over.
        return _sort_order(tuple(keys), tuple(dirs))
    except TypeError:  # an unhashable key or direction: rejected below
        return _sort_order.__wrapped__(tuple(keys), tuple(dirs))


@functools.lru_cache(maxsize=256)
def _sort_order(keys_given: tuple[Any, ...], dirs_given: tuple[Any, ...]) -> tuple[SortKey, ...]:
    """:func:`parse_sort` for keys and directions given as tuples."""
    keys = list(keys_given) or [DEFAULT_SORT_KEY]
    dirs = list(dirs_given)

    for key in keys:
        if not isinstance(key, str) or key not in IMAGE_COLUMNS:
            raise InvalidSortKey(f"Sort key {key!r} is not an image attribute")
    for direction in dirs:
        if not isinstance(direction, str) or direction not in ("asc", "desc"):
            raise InvalidSortDir(f"Sort direction {direction!r} is not 'asc' or 'desc'")
    default: Direction = DEFAULT_SORT_DIR
    if not dirs:
        dirs = [default] * len(keys)
    elif len(dirs) == 1:
        default = dirs[0]
        dirs = dirs * len(keys)
    elif len(dirs) != len(keys):
        raise InvalidSortDir(
            f"Sort directions {dirs!r} do not match sort keys {keys!r} (one per key, or one)"
        )
    order: list[SortKey] = []
    for key, direction in zip(keys, dirs, strict=True):
        # A column repeated can break no tie its first mention left: the
        # order stays the same without it (and SQLite refuses thousands).
        if all(given.column != key for given in order):
            order.append(SortKey(key, direction))
    for key in TIE_BREAKERS:
        if key not in keys:
            order.append(SortKey(key, default))
    return tuple(order)


def parse_query(
    filters: Mapping[str, Any] | None = None,
    sort_key: str | Sequence[str] | None = None,
    sort_dir: str | Sequence[str] | None = None,
    is_public: bool | None = None,
) -> ImageQuery:
    """Filters and sort options of one ``image_get_all`` call, validated."""
    return parse_filters(filters, is_public, parse_sort(sort_key, sort_dir))
