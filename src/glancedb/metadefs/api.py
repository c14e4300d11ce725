"""The metadef API as one mixin of :class:`glancedb.Database` (SPEC 11)."""

from __future__ import annotations

from glancedb.metadefs.namespaces import MetadefNamespacesAPI
from glancedb.metadefs.objects import MetadefObjectAPI
from glancedb.metadefs.properties import MetadefPropertyAPI
from glancedb.metadefs.resource_types import MetadefResourceTypesAPI
from glancedb.metadefs.tags import MetadefTagAPI


class MetadefsAPI(
    MetadefNamespacesAPI,
    MetadefObjectAPI,
    MetadefPropertyAPI,
    MetadefTagAPI,
    MetadefResourceTypesAPI,
):
    """Namespaces, objects, properties, tags, resource types and associations."""
