"""Metadata definitions: the six metadef tables' API and the catalogue loader (SPEC 11)."""

from glancedb.metadefs.api import MetadefsAPI

__all__ = ["MetadefsAPI"]
