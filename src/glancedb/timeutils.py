"""Time helpers: glancedb stores naive UTC datetimes, as Glance does."""

from __future__ import annotations

import datetime


def utcnow() -> datetime.datetime:
    """The current time as a naive UTC datetime without microseconds.

    Microseconds are dropped because MySQL's DATETIME (as Glance creates it)
    has none; values then compare equally on every backend.
    """
    return datetime.datetime.now(datetime.UTC).replace(tzinfo=None, microsecond=0)


def to_naive_utc(value: datetime.datetime) -> datetime.datetime:
    """Convert an aware datetime to naive UTC; a naive one is returned as is."""
    if value.tzinfo is not None:
        value = value.astimezone(datetime.UTC).replace(tzinfo=None)
    return value


def to_timestamp(value: datetime.datetime | None) -> float:
    """POSIX timestamp of a naive UTC datetime (0.0 for None)."""
    if value is None:
        return 0.0
    return value.replace(tzinfo=datetime.UTC).timestamp()
