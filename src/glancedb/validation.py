"""Input validation shared by every API area (SPEC section 12).

Checks happen in Python before anything is written, so that every backend
behaves alike: SQLite enforces neither string lengths nor the 3-byte utf8
limit that Glance's MySQL tables have.
"""

from __future__ import annotations

import datetime
import decimal
import functools
import re
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import String, Table

from glancedb.exception import ImageNotFound, Invalid, InvalidParameterValue
from glancedb.timeutils import to_naive_utc

MIN_INT32, MAX_INT32 = -(2**31), 2**31 - 1
MIN_INT64, MAX_INT64 = -(2**63), 2**63 - 1
MAX_ID_LENGTH = 36
#: Bytes a ``TEXT`` column holds on MySQL (Glance's tables use ``TEXT``).
TEXT_MAX_BYTES = 65535

#: The types of a single value (``None`` aside): what a column, a filter or a
#: lookup takes.  Containers, bytes and arbitrary objects are not among them.
SCALAR_TYPES: tuple[type, ...] = (
    str,
    int,
    float,
    decimal.Decimal,
    datetime.date,
    uuid.UUID,
)

IMAGE_STATUSES = frozenset(
    {
        "queued",
        "saving",
        "active",
        "killed",
        "pending_delete",
        "deleted",
        "deactivated",
        "importing",
        "uploading",
    }
)
MEMBER_STATUSES = frozenset({"pending", "accepted", "rejected"})
LOCATION_DELETE_STATUSES = frozenset({"deleted", "pending_delete"})

_FOUR_BYTE = re.compile("[\U00010000-\U0010ffff]")


def has_four_byte_chars(text: str) -> bool:
    """Whether ``text`` holds a character outside the Basic Multilingual Plane."""
    return _FOUR_BYTE.search(text) is not None


def is_malformed_text(text: str) -> bool:
    """Whether ``text`` holds a NUL or a lone surrogate: text no backend takes.

    PostgreSQL cannot hold NUL in text (psycopg refuses to send it) and no
    UTF-8 codec encodes a lone surrogate, so such a string cannot even be
    compared with a column; SQLite and MySQL follow so that every backend
    gives the same answer.
    """
    if "\x00" in text:
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def text_problem(text: str) -> str | None:
    """Why ``text`` cannot be stored on every backend, or None when it can.

    A NUL, a lone surrogate (see :func:`is_malformed_text`) or a 4-byte UTF-8
    character (Glance's MySQL tables use the 3-byte utf8 charset, so Glance
    rejects them on every backend, and so do we).
    """
    if "\x00" in text:
        return "contains a NUL character, which cannot be stored"
    if text.isascii():
        return None
    if has_four_byte_chars(text):
        return "contains 4-byte UTF-8 characters, which cannot be stored"
    if is_malformed_text(text):
        return "is not valid Unicode text (lone surrogate)"
    return None


def is_storable_text(text: str) -> bool:
    """Whether ``text`` can be stored, hence found, on every backend."""
    return text_problem(text) is None


def reject_unstorable_text(value: Any, what: str = "value") -> None:
    """Raise :class:`Invalid` if a string in ``value`` cannot be stored.

    See :func:`text_problem`.  Mappings (keys and values), lists, tuples and
    sets are walked recursively.
    """
    found = _first_unstorable(value)
    if found is not None:
        path, text, problem = found
        raise Invalid(f"{what}{''.join(path)} {_shown(text)} {problem}")


def _first_unstorable(value: Any) -> tuple[list[str], str, str] | None:
    """The first string in ``value`` that cannot be stored: where it is (the
    words naming it, built only for a value refused), the string, and why."""
    if isinstance(value, str):
        problem = text_problem(value)
        return None if problem is None else ([], value, problem)
    if isinstance(value, Mapping):
        for key, item in value.items():
            found = _first_unstorable(key)
            if found is not None:
                found[0].insert(0, " key")
                return found
            found = _first_unstorable(item)
            if found is not None:
                if isinstance(key, str):
                    found[0].insert(0, f" {_shown(key)}")
                return found
    elif isinstance(value, list | tuple | set | frozenset):
        for item in value:
            found = _first_unstorable(item)
            if found is not None:
                return found
    return None


def _shown(value: Any) -> str:
    """``repr(value)``, cut short: error messages name the value, not megabytes of it."""
    text = repr(value)
    return text if len(text) <= 120 else f"{text[:100]}... ({len(text)} characters)"


def is_scalar(value: Any) -> bool:
    """Whether ``value`` is a single value (see :data:`SCALAR_TYPES`) or None."""
    return value is None or isinstance(value, SCALAR_TYPES)


def check_scalar(what: str, value: Any) -> None:
    """Raise :class:`Invalid` naming ``what`` unless ``value`` is a single value.

    Lists, dicts, sets, bytes and other objects are refused where one value
    belongs, and so are integers beyond 64 bits, which no backend column or
    parameter holds (SQLite's driver raises ``OverflowError``).
    """
    if not is_scalar(value):
        raise Invalid(f"{what} must be a single value, got {type(value).__name__} {_shown(value)}")
    if isinstance(value, int) and not MIN_INT64 <= value <= MAX_INT64:
        raise Invalid(f"{what} {value} does not fit a 64-bit integer")


def check_text(what: str, value: Any) -> str:
    """``value`` if it is a string that can be stored, else :class:`Invalid`."""
    if not isinstance(value, str):
        raise Invalid(f"{what} must be a string, got {type(value).__name__} {_shown(value)}")
    reject_unstorable_text(value, what)
    return value


def lookup_key(value: Any, what: str) -> str | None:
    """``value`` as the text a record is looked up by; None when none can have it.

    Strings are used as they are, numbers (of any size) and UUIDs as their
    text.  A string that cannot be stored (:func:`text_problem`) can never
    match a stored key, so it is not sent to the database at all (MySQL's
    utf8 columns reject the comparison, PostgreSQL the NUL): callers answer
    as for an unknown key.  A non-scalar value is :class:`Invalid` naming
    ``what``.
    """
    if value is None:
        return None
    if not is_scalar(value):
        check_scalar(what, value)
    text = value if isinstance(value, str) else str(value)
    return text if is_storable_text(text) else None


def filter_text(key: str, value: str) -> str | None:
    """A string a listing filter compares with; None when no stored value can equal it.

    A NUL or a lone surrogate is :class:`InvalidParameterValue` (SPEC 12:
    PostgreSQL cannot even receive it); a 4-byte character makes the filter
    match nothing (no backend stores one, and MySQL's utf8 columns would
    reject the comparison).
    """
    if value.isascii() and "\x00" not in value:
        return value  # the common case: nothing outside ASCII, no NUL
    if is_malformed_text(value):
        raise InvalidParameterValue(
            f"Filter {key!r}: {_shown(value)} holds a NUL character or a lone surrogate"
        )
    return None if has_four_byte_chars(value) else value


def check_datetime(what: str, value: Any) -> datetime.datetime:
    """``value`` as a naive UTC datetime; :class:`Invalid` for anything else.

    An aware datetime is converted; one whose conversion leaves the range of
    ``datetime`` (year 1 with a positive offset, for instance) is invalid.
    """
    if not isinstance(value, datetime.datetime):
        raise Invalid(f"{what} must be a datetime, got {type(value).__name__} {_shown(value)}")
    try:
        return to_naive_utc(value)
    except OverflowError:
        raise Invalid(f"{what} {value!r} is out of range in UTC") from None


def is_int32(number: int) -> bool:
    """Whether ``number`` fits a signed 32-bit ``INTEGER`` column."""
    return MIN_INT32 <= number <= MAX_INT32


def check_int32(name: str, value: Any) -> int:
    """Coerce ``value`` to int and check it fits a signed 32-bit column."""
    number = to_int(name, value)
    if not is_int32(number):
        raise Invalid(f"{name} {number} does not fit a 32-bit integer (maximum {MAX_INT32})")
    return number


def to_int(name: str, value: Any) -> int:
    """Coerce ``value`` to a 64-bit int, raising :class:`Invalid` naming ``name``.

    Strings and numbers are converted as ``int()`` does; anything else, a
    value ``int()`` refuses (NaN, infinity, a malformed string) or a number
    beyond 64 bits is invalid.
    """
    if not isinstance(value, int | float | decimal.Decimal | str):
        raise Invalid(f"{name} must be an integer, got {type(value).__name__} {_shown(value)}")
    try:
        number = int(value)
    except (TypeError, ValueError, OverflowError, decimal.InvalidOperation):
        raise Invalid(f"{name} must be an integer, got {_shown(value)}") from None
    if not MIN_INT64 <= number <= MAX_INT64:
        raise Invalid(f"{name} {number} does not fit a 64-bit integer")
    return number


@functools.cache
def _string_columns(table: Table) -> dict[str, int | None]:
    """The string columns of ``table`` and their lengths (None: ``TEXT``)."""
    return {
        column.name: getattr(column.type, "length", None)
        for column in table.c
        if isinstance(column.type, String)
    }


def check_lengths(table: Table, values: Mapping[str, Any]) -> None:
    """Raise :class:`Invalid` when a string exceeds its column's length.

    ``VARCHAR(n)`` columns hold ``n`` characters; ``TEXT`` columns (no
    length) :data:`TEXT_MAX_BYTES` bytes of UTF-8, MySQL's limit, checked on
    every backend so that all three accept the same values.
    """
    limits = _string_columns(table)
    for key, value in values.items():
        if not isinstance(value, str) or key not in limits:
            continue
        length = limits[key]
        if length is not None and len(value) > length:
            raise Invalid(f"{table.name}.{key} is limited to {length} characters, got {len(value)}")
        if length is None and len(value) * 3 > TEXT_MAX_BYTES:
            size = len(value.encode("utf-8", "surrogatepass"))
            if size > TEXT_MAX_BYTES:
                raise Invalid(
                    f"{table.name}.{key} is limited to {TEXT_MAX_BYTES} bytes, got {size}"
                )


def check_image_status(status: Any) -> str:
    """Return ``status`` if it is a valid image status, else raise Invalid."""
    if not isinstance(status, str) or status not in IMAGE_STATUSES:
        raise Invalid(f"Invalid image status {_shown(status)}")
    return status


def check_member_status(status: Any) -> str:
    """Return ``status`` if it is a valid membership status, else raise Invalid."""
    if not isinstance(status, str) or status not in MEMBER_STATUSES:
        raise Invalid(f"Invalid membership status {_shown(status)}")
    return status


def image_key(image_id: Any, what: str = "image id") -> str | None:
    """The image id to look an image up by; None when no image can have it.

    Longer than 36 characters raises :class:`ImageNotFound` (SPEC 2.4); a
    non-scalar raises :class:`Invalid`; a string that cannot be stored gives
    None (see :func:`lookup_key`), which each call answers as it answers an
    unknown image.
    """
    key = lookup_key(image_id, what)
    if image_id is not None and len(str(image_id)) > MAX_ID_LENGTH:
        raise ImageNotFound(f"No image found with ID {_shown(image_id)}")
    return key


def require_image_key(image_id: Any, what: str = "image id") -> str:
    """The image id to look an image up by; :class:`ImageNotFound` when none can have it."""
    key = image_key(image_id, what)
    if key is None:
        raise ImageNotFound(f"No image found with ID {_shown(image_id)}")
    return key


def check_max_rows(max_rows: Any) -> int:
    """Validate a purge batch size: -1 (all) or 0..2**31-1."""
    number = to_int("max_rows", max_rows)
    if number > MAX_INT32:
        raise Invalid(f"max_rows {number} is larger than the maximum {MAX_INT32}")
    if number < -1:
        raise Invalid(f"max_rows must be -1 (no limit) or positive, got {number}")
    return number


def check_mapping(what: str, values: Any) -> Mapping[Any, Any]:
    """``values`` if it is a mapping, else :class:`Invalid` naming ``what``."""
    if not isinstance(values, Mapping):
        raise Invalid(f"{what} must be a mapping, got {type(values).__name__} {_shown(values)}")
    return values


def unknown_keys(values: Mapping[Any, Any], allowed: Iterable[str]) -> list[str]:
    """Keys of ``values`` that are not in ``allowed``, as sorted text."""
    allowed_set = set(allowed)
    return sorted(repr(k) if not isinstance(k, str) else k for k in values if k not in allowed_set)
