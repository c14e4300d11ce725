"""Image-cache records: cache nodes and the images cached on them (SPEC 10b)."""

from __future__ import annotations

from glancedb.core import DatabaseCore


class CacheAPI(DatabaseCore):
    """Image-cache records: cache nodes and the images cached on them (SPEC 10b)."""
