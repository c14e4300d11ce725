"""The metadef API as one mixin of :class:`glancedb.Database` (SPEC 11)."""

from __future__ import annotations

from glancedb.metadefs.namespaces import MetadefNamespacesAPI
from glancedb.metadefs.objects import MetadefObjectsAPI
from glancedb.metadefs.properties import MetadefPropertiesAPI
from glancedb.metadefs.resource_types import MetadefResourceTypesAPI
from glancedb.metadefs.tags import MetadefTagsAPI


class MetadefsAPI(
    MetadefNamespacesAPI,
    MetadefObjectsAPI,
    MetadefPropertiesAPI,
    MetadefTagsAPI,
    MetadefResourceTypesAPI,
):
    """Namespaces, objects, properties, tags, resource types and associations."""
