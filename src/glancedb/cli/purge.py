"""glancedb purge commands."""

from __future__ import annotations
