"""image_get_all: Glance's listing semantics in one SQL statement per page (SPEC 3)."""

from __future__ import annotations

from glancedb.core import DatabaseCore


class ListingAPI(DatabaseCore):
    """image_get_all: Glance's listing semantics in one SQL statement per page (SPEC 3)."""
