"""glancedb metadefs commands."""

from __future__ import annotations
