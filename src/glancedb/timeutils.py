"""Time helpers: glancedb stores naive UTC datetimes, as Glance does."""

from __future__ import annotations

import datetime


def utcnow() -> datetime.datetime:
    """The current time as a naive UTC datetime, microseconds included (SPEC 1.4).

    Microseconds are kept on every backend (MySQL/MariaDB once revision
    ``0005_mysql_microseconds`` has widened the columns), so an update made in
    the same second as a create still moves ``updated_at`` forward and an
    expiry of "now" is in the past a moment later.

    It is the system clock as Python reads it, nothing more: two calls within
    one tick of that clock would get the same time, and a clock set back
    gives earlier times.  glancedb never makes up a later time to force an
    order (``updated_at`` is "now", as in Glance).
    """
    return datetime.datetime.now(datetime.UTC).replace(tzinfo=None)


def to_naive_utc(value: datetime.datetime) -> datetime.datetime:
    """Convert an aware datetime to naive UTC; a naive one is returned as is."""
    if value.tzinfo is not None:
        value = value.astimezone(datetime.UTC).replace(tzinfo=None)
    return value


def from_timestamp(value: float) -> datetime.datetime:
    """The naive UTC datetime of a POSIX timestamp, microseconds included."""
    return datetime.datetime.fromtimestamp(value, datetime.UTC).replace(tzinfo=None)


def to_timestamp(value: datetime.datetime | None) -> float:
    """POSIX timestamp of a naive UTC datetime (0.0 for None)."""
    if value is None:
        return 0.0
    return value.replace(tzinfo=datetime.UTC).timestamp()
