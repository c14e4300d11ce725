"""glancedb images commands."""

from __future__ import annotations
