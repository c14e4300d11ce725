"""Image locations: add, update, delete (SPEC 4)."""

from __future__ import annotations

from glancedb.core import DatabaseCore


class LocationsAPI(DatabaseCore):
    """Image locations: add, update, delete (SPEC 4)."""
