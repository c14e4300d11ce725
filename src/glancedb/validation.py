"""Input validation shared by every API area (SPEC section 12).

Checks happen in Python before anything is written, so that every backend
behaves alike: SQLite enforces neither string lengths nor the 3-byte utf8
limit that Glance's MySQL tables have.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import String, Table

from glancedb.exception import ImageNotFound, Invalid

MAX_INT32 = 2**31 - 1
MAX_ID_LENGTH = 36

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


def reject_unstorable_text(value: Any, what: str = "value") -> None:
    """Raise :class:`Invalid` if a string in ``value`` cannot be stored.

    That is a 4-byte UTF-8 character (Glance's MySQL tables use the 3-byte
    utf8 charset, so Glance rejects them on every backend, and so do we) or a
    lone surrogate (no UTF-8 codec encodes one; the driver would fail with a
    raw ``UnicodeEncodeError``).  Mappings (keys and values), lists, tuples
    and sets are walked recursively.
    """
    if isinstance(value, str):
        if has_four_byte_chars(value):
            raise Invalid(
                f"{what} {value!r} contains 4-byte UTF-8 characters, which cannot be stored"
            )
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise Invalid(f"{what} {value!r} is not valid Unicode text (lone surrogate)") from None
    elif isinstance(value, Mapping):
        for key, item in value.items():
            reject_unstorable_text(key, f"{what} key")
            reject_unstorable_text(item, f"{what} {key!r}" if isinstance(key, str) else what)
    elif isinstance(value, list | tuple | set | frozenset):
        for item in value:
            reject_unstorable_text(item, what)


def check_int32(name: str, value: Any) -> int:
    """Coerce ``value`` to int and check it fits a signed 32-bit column."""
    number = to_int(name, value)
    if number > MAX_INT32:
        raise Invalid(f"{name} {number} is larger than the maximum {MAX_INT32}")
    return number


def to_int(name: str, value: Any) -> int:
    """Coerce ``value`` to int, raising :class:`Invalid` naming ``name``."""
    if isinstance(value, bool):
        return int(value)
    try:
        return int(value)
    except (TypeError, ValueError):
        raise Invalid(f"{name} must be an integer, got {value!r}") from None


def check_lengths(table: Table, values: Mapping[str, Any]) -> None:
    """Raise :class:`Invalid` when a string exceeds its column's length."""
    for key, value in values.items():
        if not isinstance(value, str) or key not in table.c:
            continue
        column_type = table.c[key].type
        length = getattr(column_type, "length", None)
        if isinstance(column_type, String) and length is not None and len(value) > length:
            raise Invalid(f"{table.name}.{key} is limited to {length} characters, got {len(value)}")


def check_image_status(status: Any) -> str:
    """Return ``status`` if it is a valid image status, else raise Invalid."""
    if status not in IMAGE_STATUSES:
        raise Invalid(f"Invalid image status {status!r}")
    return str(status)


def check_member_status(status: Any) -> str:
    """Return ``status`` if it is a valid membership status, else raise Invalid."""
    if status not in MEMBER_STATUSES:
        raise Invalid(f"Invalid membership status {status!r}")
    return str(status)


def check_image_id_length(image_id: Any) -> None:
    """Image ids longer than 36 characters can never exist: ImageNotFound."""
    if image_id is not None and len(str(image_id)) > MAX_ID_LENGTH:
        raise ImageNotFound(f"No image found with ID {image_id}")


def check_max_rows(max_rows: Any) -> int:
    """Validate a purge batch size: -1 (all) or 0..2**31-1."""
    number = to_int("max_rows", max_rows)
    if number > MAX_INT32:
        raise Invalid(f"max_rows {number} is larger than the maximum {MAX_INT32}")
    if number < -1:
        raise Invalid(f"max_rows must be -1 (no limit) or positive, got {number}")
    return number


def unknown_keys(values: Mapping[str, Any], allowed: Iterable[str]) -> list[str]:
    """Keys of ``values`` that are not in ``allowed``, sorted."""
    allowed_set = set(allowed)
    return sorted(k for k in values if k not in allowed_set)
