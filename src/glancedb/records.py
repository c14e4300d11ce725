"""Returned records and the JSON columns' encoding.

Glance's driver hands out ORM objects that its callers read both as mappings
and as objects, so every record glancedb returns is a plain ``dict`` that also
allows attribute access.  Records are independent data: no session, no lazy
loading, safe to mutate and to pickle.
"""

from __future__ import annotations

import json
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
    if text == "{}":  # most locations' metadata: skip the decoder
        return {}
    try:
        return json.loads(text)
    except (TypeError, ValueError):
        return text
