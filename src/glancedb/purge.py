"""Purging soft-deleted rows in bounded batches (SPEC 10)."""

from __future__ import annotations

from glancedb.core import DatabaseCore


class PurgeAPI(DatabaseCore):
    """Purging soft-deleted rows in bounded batches (SPEC 10)."""
