"""Keyset pagination, shared by images, tasks and metadefs.

A listing is ordered by a list of columns, each ascending or descending,
ending with tie-breakers that make the order total; a page starts strictly
after its marker row in that order.  NULLs in a nullable sort column count
as the column type's "empty" value (``''``, ``0``, ``False``,
:data:`EMPTY_TIME`) in the ``ORDER BY`` and in the marker comparison alike,
so every backend orders NULLs the same way and a NULL marker value neither
loops nor skips a page.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import (
    BindParameter,
    Boolean,
    Column,
    ColumnElement,
    DateTime,
    Enum,
    Integer,
    Select,
    String,
    and_,
    bindparam,
    cast,
    false,
    func,
    literal,
    literal_column,
    or_,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import Cast

from glancedb.exception import Invalid, InvalidSortDir

Direction = Literal["asc", "desc"]
DIRECTIONS: tuple[Direction, ...] = ("asc", "desc")

#: What a NULL in a nullable sort column counts as, by column type.
EMPTY_STRING = ""
EMPTY_NUMBER = 0
EMPTY_TIME = datetime.datetime(1900, 1, 1)

#: The largest page size every backend's ``LIMIT`` takes (a signed 64-bit integer).
MAX_LIMIT = 2**63 - 1


@dataclass(frozen=True)
class OrderKey:
    """One ``ORDER BY`` term of a keyset order: a column and a direction."""

    column: Column[Any]
    direction: Direction


def empty_value(column: Column[Any]) -> Any:
    """The value a NULL of ``column`` sorts as."""
    column_type = column.type
    if isinstance(column_type, Boolean):
        return False
    if isinstance(column_type, Integer):
        return EMPTY_NUMBER
    if isinstance(column_type, DateTime):
        return EMPTY_TIME
    return EMPTY_STRING


class _TimeLiteral(Cast[Any]):
    """A timestamp value in a ``COALESCE``, cast to its type on MySQL only.

    MySQL and MariaDB take a bound datetime for a string (the driver quotes
    it), and ``COALESCE(timestamp, string)`` is a string; compared as text,
    ``2030-01-01 00:00:00.000000`` (a DATETIME(6) column) is not
    ``2030-01-01 00:00:00`` (a marker value, which the driver writes without
    its zero fraction).  The cast keeps the comparison temporal.  SQLite
    stores times as text, where a cast would make them numbers, and
    PostgreSQL binds typed values: there the value stays as it is.
    """

    inherit_cache = True


@compiles(_TimeLiteral)
def _time_literal(element: _TimeLiteral, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.clause, **kw)


@compiles(_TimeLiteral, "mysql", "mariadb")
def _time_literal_cast(element: _TimeLiteral, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(cast(element.clause, element.type), **kw)


def sort_expression(column: Column[Any]) -> ColumnElement[Any]:
    """The SQL expression ``column`` sorts by.

    NOT NULL columns are used as they are (so that their indexes can serve
    the order); nullable ones are ``COALESCE``d to their empty value; enums
    are compared as text, so that every backend orders them alphabetically
    (PostgreSQL's native enums order by declaration).

    The empty value is written into the SQL text, not bound: an index on the
    expression (``COALESCE(name, '')``) serves the order only when the query
    spells the same expression, and a bound parameter is not the same
    expression to SQLite's planner.
    """
    if isinstance(column.type, Enum):
        return cast(column, String(column.type.length))
    if not column.nullable:
        return column
    if isinstance(column.type, Boolean):
        return func.coalesce(column, false())
    empty = empty_value(column)
    if isinstance(empty, str):
        return func.coalesce(column, literal_column("''", column.type))
    if isinstance(empty, int):
        return func.coalesce(column, literal_column(str(empty), column.type))
    return func.coalesce(column, _TimeLiteral(literal(empty, column.type), column.type))


def sort_value(column: Column[Any], value: Any) -> Any:
    """A marker's ``column`` value as :func:`sort_expression` sees it."""
    if isinstance(value, BindParameter):
        return value
    if value is None:
        return empty_value(column)
    if isinstance(column.type, Enum):
        return str(value)
    return value


def order_terms(keys: Sequence[OrderKey]) -> list[ColumnElement[Any]]:
    """``ORDER BY`` terms for ``keys``."""
    terms: list[ColumnElement[Any]] = []
    for key in keys:
        expression = sort_expression(key.column)
        terms.append(expression.desc() if key.direction == "desc" else expression.asc())
    return terms


def after_marker(keys: Sequence[OrderKey], marker: Mapping[Any, Any]) -> ColumnElement[bool]:
    """Rows strictly after ``marker`` (a row's values by column name) in ``keys``' order.

    The values may be bound parameters (see :func:`marker_parameters`), so
    that one statement serves every marker.

    The lexicographic comparison is nested from the last key out:
    ``k1 > m1 OR (k1 = m1 AND (k2 > m2 OR ...))``.  A redundant bound
    ``k1 >= m1`` in front lets an index on the first key start at the marker
    instead of filtering from the first row.
    """
    if not keys:
        raise ValueError("a keyset order needs at least one key")
    terms = [
        (
            sort_expression(key.column),
            key.direction,
            _comparable(sort_value(key.column, marker[key.column.name])),
        )
        for key in keys
    ]
    expression, direction, value = terms[-1]
    condition: ColumnElement[bool] = (
        expression < value if direction == "desc" else expression > value
    )
    for expression, direction, value in reversed(terms[:-1]):
        beyond = expression < value if direction == "desc" else expression > value
        condition = or_(beyond, and_(expression == value, condition))
    first_expression, first_direction, first_value = terms[0]
    bound = (
        first_expression <= first_value
        if first_direction == "desc"
        else first_expression >= first_value
    )
    return and_(bound, condition)


def _comparable(value: Any) -> Any:
    """``value`` as the right side of ``<`` / ``>``: a boolean bound as a parameter.

    SQLAlchemy turns a Python boolean into the constant ``true`` / ``false``,
    which it compares with ``=`` and ``!=`` only.
    """
    return literal(value, Boolean()) if isinstance(value, bool) else value


def marker_parameters(keys: Sequence[OrderKey], prefix: str = "marker_") -> dict[str, Any]:
    """Bound parameters standing for a marker's values, by column name.

    Passed to :func:`after_marker` they make a statement that fits every
    marker; :func:`marker_values` gives the values to bind.
    """
    return {
        key.column.name: bindparam(f"{prefix}{key.column.name}", type_=_bound_type(key.column))
        for key in keys
    }


def marker_values(
    keys: Sequence[OrderKey], marker: Mapping[Any, Any], prefix: str = "marker_"
) -> dict[str, Any]:
    """The values of :func:`marker_parameters` for ``marker`` (a row by column name)."""
    return {
        f"{prefix}{key.column.name}": sort_value(key.column, marker[key.column.name])
        for key in keys
    }


def _bound_type(column: Column[Any]) -> Any:
    if isinstance(column.type, Enum):
        return String(column.type.length)
    return column.type


def paginate(
    query: Select[Any],
    keys: Sequence[OrderKey],
    marker: Mapping[Any, Any] | None,
    limit: int | None,
) -> Select[Any]:
    """``query`` in ``keys``' order, after ``marker`` (if any), at most ``limit`` rows."""
    if marker is not None:
        query = query.where(after_marker(keys, marker))
    query = query.order_by(*order_terms(keys))
    if limit is not None:
        query = query.limit(limit)
    return query


def with_tie_breakers(
    columns: Sequence[Column[Any]], tie_breakers: Sequence[Column[Any]]
) -> list[Column[Any]]:
    """``columns`` followed by the ``tie_breakers`` they do not already hold."""
    result = list(columns)
    names = {column.name for column in result}
    result.extend(column for column in tie_breakers if column.name not in names)
    return result


def check_direction(sort_dir: Any) -> Direction:
    """``sort_dir`` if it is ``asc`` or ``desc``, else :class:`InvalidSortDir`."""
    if sort_dir == "asc":
        return "asc"
    if sort_dir == "desc":
        return "desc"
    raise InvalidSortDir(f"Sort direction {sort_dir!r} is invalid: use 'asc' or 'desc'")


def check_limit(limit: Any) -> int | None:
    """A page size: None (no limit) or a non-negative integer, else :class:`Invalid`."""
    if limit is None:
        return None
    if isinstance(limit, bool) or not isinstance(limit, int | str):
        raise Invalid(f"limit must be an integer, got {limit!r}")
    try:
        number = int(limit)
    except ValueError:
        raise Invalid(f"limit must be an integer, got {limit!r}") from None
    if number < 0:
        raise Invalid(f"limit must not be negative, got {number}")
    if number > MAX_LIMIT:
        raise Invalid(f"limit {number} does not fit a 64-bit integer")
    return number
