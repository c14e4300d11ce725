"""SQLAlchemy models of Glance's 2024.1 schema (all 15 tables)."""

from glancedb.models.base import Base
from glancedb.models.cache import CachedImage, NodeReference
from glancedb.models.images import (
    IMAGE_VISIBILITIES,
    Image,
    ImageLocation,
    ImageMember,
    ImageProperty,
    ImageTag,
)
from glancedb.models.metadefs import (
    MetadefNamespace,
    MetadefNamespaceResourceType,
    MetadefObject,
    MetadefProperty,
    MetadefResourceType,
    MetadefTag,
)
from glancedb.models.tasks import Task, TaskInfo

metadata = Base.metadata

__all__ = [
    "IMAGE_VISIBILITIES",
    "Base",
    "CachedImage",
    "Image",
    "ImageLocation",
    "ImageMember",
    "ImageProperty",
    "ImageTag",
    "MetadefNamespace",
    "MetadefNamespaceResourceType",
    "MetadefObject",
    "MetadefProperty",
    "MetadefResourceType",
    "MetadefTag",
    "NodeReference",
    "Task",
    "TaskInfo",
    "metadata",
]
