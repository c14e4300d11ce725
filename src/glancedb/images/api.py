"""The image API as one mixin of :class:`glancedb.Database` (SPEC 1-7)."""

from __future__ import annotations

from glancedb.images.crud import ImageCrudAPI
from glancedb.images.listing import ImageListingAPI
from glancedb.images.locations import ImageLocationsAPI
from glancedb.images.members import ImageMembersAPI
from glancedb.images.properties import ImagePropertiesAPI
from glancedb.images.tags import ImageTagsAPI


class ImagesAPI(
    ImageCrudAPI,
    ImageListingAPI,
    ImageLocationsAPI,
    ImagePropertiesAPI,
    ImageMembersAPI,
    ImageTagsAPI,
):
    """Images, their listing, locations, properties, members and tags."""
