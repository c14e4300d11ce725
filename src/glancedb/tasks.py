"""Tasks and their info (SPEC 8)."""

from __future__ import annotations

from glancedb.core import DatabaseCore


class TasksAPI(DatabaseCore):
    """Tasks and their info (SPEC 8)."""
