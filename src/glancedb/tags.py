"""Image tags (SPEC 5)."""

from __future__ import annotations

from glancedb.core import DatabaseCore


class TagsAPI(DatabaseCore):
    """Image tags (SPEC 5)."""
