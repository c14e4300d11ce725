"""Image members: sharing an image with other projects (SPEC 7)."""

from __future__ import annotations

from glancedb.core import DatabaseCore


class MembersAPI(DatabaseCore):
    """Image members: sharing an image with other projects (SPEC 7)."""
