"""The metadef API as one mixin of :class:`glancedb.Database` (SPEC 11)."""

from __future__ import annotations

from glancedb.core import DatabaseCore


class MetadefsAPI(DatabaseCore):
    """Namespaces, objects, properties, tags, resource types and associations."""
