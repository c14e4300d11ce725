"""Image properties, including the atomic ones (SPEC 6)."""

from __future__ import annotations

from glancedb.core import DatabaseCore


class PropertiesAPI(DatabaseCore):
    """Image properties, including the atomic ones (SPEC 6)."""
