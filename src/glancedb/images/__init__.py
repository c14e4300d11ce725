"""Images and their children: properties, locations, members, tags, listing (SPEC 1-7)."""

from glancedb.images.api import ImagesAPI

__all__ = ["ImagesAPI"]
