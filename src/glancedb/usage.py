"""Usage (quota) queries, each one aggregate statement (SPEC 9)."""

from __future__ import annotations

from glancedb.core import DatabaseCore


class UsageAPI(DatabaseCore):
    """Usage (quota) queries, each one aggregate statement (SPEC 9)."""
