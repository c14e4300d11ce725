"""Returned records and the JSON columns' encoding.

Glance's driver hands out ORM objects that its callers read both as mappings
and as objects, so every record glancedb returns is a plain ``dict`` that also
allows attribute access.  Records are independent data: no session, no lazy
loading, safe to mutate and to pickle.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any


class Record(dict[str, Any]):
    """A dict whose keys can also be read and written as attributes."""

    __slots__ = ()

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    def __setattr__(self, name: str, value: Any) -> None:
        self[name] = value

    def __delattr__(self, name: str) -> None:
        try:
            del self[name]
        except KeyError:
            raise AttributeError(name) from None

    def __reduce__(self) -> tuple[Any, ...]:
        return (Record, (dict(self),))

    def to_dict(self) -> dict[str, Any]:
        """A plain-dict copy (nested records included)."""
        return _plain(self)  # type: ignore[no-any-return]


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def record_from_row(row: Mapping[str, Any], columns: Iterable[str] | None = None) -> Record:
    """Build a :class:`Record` from a result row mapping (optionally a subset)."""
    if columns is None:
        return Record(row)
    return Record((c, row[c]) for c in columns)


def dump_json(value: Any) -> str | None:
    """Encode a JSON column value; None stays NULL."""
    if value is None:
        return None
    return json.dumps(value)


def load_json(text: str | None) -> Any:
    """Decode a JSON column value.

    Text that is not valid JSON (written by other tools, or by Glance, which
    stores some strings as they are) comes back unchanged.
    """
    if text is None:
        return None
    try:
        return json.loads(text)
    except (TypeError, ValueError):
        return text
