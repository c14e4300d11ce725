"""Image calls: create, update, destroy, get, restore, visibility (SPEC 2)."""

from __future__ import annotations

from glancedb.core import DatabaseCore


class ImagesAPI(DatabaseCore):
    """Image calls: create, update, destroy, get, restore, visibility (SPEC 2)."""
