"""Row helpers shared by every API area: keys, ids, caller-given times, batches."""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TypeVar

from sqlalchemy import CursorResult

from glancedb.exception import DBError, Invalid
from glancedb.timeutils import to_naive_utc

T = TypeVar("T")

#: Keys per ``IN`` list when reading or writing in bulk: far from every
#: backend's bound-parameter limit, and the statement count stays
#: proportional to the number of pages, not rows.
ID_CHUNK = 1000

_MIN_INT32, _MAX_INT32 = -(2**31), 2**31 - 1


def as_key(value: Any) -> str:
    """An id, name or tag used only to look rows up, as a string.

    Bound as the string column's type, so that a caller passing an int
    finds nothing instead of making PostgreSQL reject the comparison.
    """
    return value if isinstance(value, str) else str(value)


def row_id(value: Any) -> int | None:
    """``value`` as an integer primary key, or None when no row can have it.

    Booleans, non-numbers and numbers outside the 32-bit ``INTEGER`` columns
    are never ids; callers turn None into their own ``NotFound``.
    """
    if isinstance(value, bool):
        return None
    try:
        number = int(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return number if _MIN_INT32 <= number <= _MAX_INT32 else None


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
    if not isinstance(value, datetime.datetime):
        raise Invalid(f"{key} must be a datetime, got {value!r}")
    return to_naive_utc(value)


def creation_times(values: Mapping[str, Any], now: datetime.datetime) -> dict[str, Any]:
    """``created_at`` / ``updated_at`` as given on create, else ``now``."""
    return {key: given_time(values, key) or now for key in ("created_at", "updated_at")}


def chunks(items: Sequence[T], size: int = ID_CHUNK) -> Iterable[Sequence[T]]:
    """Split ``items`` into consecutive slices of at most ``size``."""
    for start in range(0, len(items), size):
        yield items[start : start + size]
