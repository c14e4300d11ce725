"""Row helpers shared by every API area: keys, ids, caller-given times, batches, lists."""

from __future__ import annotations

import datetime
import functools
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TypeVar

from sqlalchemy import ARRAY, ColumnElement, CursorResult, all_, any_, bindparam

from glancedb.exception import DBError
from glancedb.validation import check_datetime, check_scalar, is_int32

T = TypeVar("T")

#: Keys per ``IN`` list when reading or writing in bulk: far from every
#: backend's bound-parameter limit, and the statement count stays
#: proportional to the number of pages, not rows.
ID_CHUNK = 1000


def row_id(value: Any, what: str = "id") -> int | None:
    """``value`` as an integer primary key, or None when no row can have it.

    Booleans, non-numbers and numbers outside the 32-bit ``INTEGER`` columns
    (beyond 64 bits included) are never ids; callers turn None into their
    own ``NotFound``.  A list, dict or other non-scalar is :class:`Invalid`
    naming ``what``.
    """
    if value is None or isinstance(value, bool):
        return None
    if not isinstance(value, int):
        check_scalar(what, value)
    try:
        number = int(value)
    except (TypeError, ValueError, OverflowError, ArithmeticError):
        return None
    return number if is_int32(number) else None


def inserted_id(result: CursorResult[Any]) -> int:
    """The primary key of the row a single-row INSERT created."""
    key = result.inserted_primary_key
    if key is None or key[0] is None:
        raise DBError("The database did not report the new row's id")
    return int(key[0])


def given_time(values: Mapping[str, Any], key: str) -> datetime.datetime | None:
    """A timestamp a caller passed on create (SPEC 1.4), as naive UTC; None if absent."""
    value = values.get(key)
    if value is None:
        return None
    return check_datetime(key, value)


def creation_times(values: Mapping[str, Any], now: datetime.datetime) -> dict[str, Any]:
    """``created_at`` / ``updated_at`` as given on create, else ``now``."""
    return {key: given_time(values, key) or now for key in ("created_at", "updated_at")}


def chunks(items: Sequence[T], size: int = ID_CHUNK) -> Iterable[Sequence[T]]:
    """Split ``items`` into consecutive slices of at most ``size``."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def slot_count(count: int) -> int:
    """The parameters a statement binding ``count`` values of an ``IN`` list
    has: the next power of two (one statement text per power, reused)."""
    return 1 << max(count - 1, 0).bit_length()


def slot_parameters(prefix: str, values: Sequence[T]) -> dict[str, T]:
    """``values`` as the :func:`slot_count` parameters ``<prefix>_0``, ``<prefix>_1``, ...

    The free slots repeat the last value, which an ``IN`` list ignores.
    Plain parameters instead of SQLAlchemy's expanding one, which it renders
    anew on every execution: the statement is compiled once per slot count.
    """
    names = _slot_names(prefix, slot_count(len(values)))
    if len(names) == len(values):
        return dict(zip(names, values, strict=True))
    padded = [*values, *[values[-1]] * (len(names) - len(values))]
    return dict(zip(names, padded, strict=True))


@functools.lru_cache(maxsize=256)
def _slot_names(prefix: str, slots: int) -> tuple[str, ...]:
    return tuple(f"{prefix}_{slot}" for slot in range(slots))


def in_list(
    column: ColumnElement[Any],
    dialect: str,
    *,
    values: Iterable[Any] | None = None,
    key: str | None = None,
    negate: bool = False,
) -> ColumnElement[bool]:
    """``column IN`` a caller's list of any length (``NOT IN`` with ``negate``).

    The list is ``values``, or bound later as parameter ``key``.  On
    PostgreSQL it is one array parameter (``= ANY``, ``<> ALL``): psycopg
    sends at most 65,535 parameters, and a list expanded into one parameter
    per item, as SQLAlchemy's ``IN`` does, would be refused.  The others
    take SQLAlchemy's expanding ``IN``.  An empty list matches nothing
    (``NOT IN``: everything) on every backend.
    """
    given: dict[str, Any] = {} if values is None else {"value": list(values)}
    if dialect == "postgresql":
        array = bindparam(key, type_=ARRAY(column.type), **given)
        return column != all_(array) if negate else column == any_(array)
    expanded = bindparam(key, expanding=True, **given)
    return column.not_in(expanded) if negate else column.in_(expanded)
