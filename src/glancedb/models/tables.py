"""The models' tables as typed :class:`~sqlalchemy.Table` objects.

API code works with SQLAlchemy Core on these (no ORM session), which keeps
every call to explicit, countable statements.
"""

from __future__ import annotations

from typing import cast

from sqlalchemy import Table

from glancedb.models.cache import CachedImage, NodeReference
from glancedb.models.images import Image, ImageLocation, ImageMember, ImageProperty, ImageTag
from glancedb.models.metadefs import (
    MetadefNamespace,
    MetadefNamespaceResourceType,
    MetadefObject,
    MetadefProperty,
    MetadefResourceType,
    MetadefTag,
)
from glancedb.models.tasks import Task, TaskInfo

images = cast(Table, Image.__table__)
image_properties = cast(Table, ImageProperty.__table__)
image_locations = cast(Table, ImageLocation.__table__)
image_members = cast(Table, ImageMember.__table__)
image_tags = cast(Table, ImageTag.__table__)
tasks = cast(Table, Task.__table__)
task_info = cast(Table, TaskInfo.__table__)
metadef_namespaces = cast(Table, MetadefNamespace.__table__)
metadef_objects = cast(Table, MetadefObject.__table__)
metadef_properties = cast(Table, MetadefProperty.__table__)
metadef_tags = cast(Table, MetadefTag.__table__)
metadef_resource_types = cast(Table, MetadefResourceType.__table__)
metadef_namespace_resource_types = cast(Table, MetadefNamespaceResourceType.__table__)
node_reference = cast(Table, NodeReference.__table__)
cached_images = cast(Table, CachedImage.__table__)

# Children before parents: the order rows can be deleted in without
# violating a foreign key.
DELETE_ORDER: tuple[Table, ...] = (
    image_properties,
    image_locations,
    image_members,
    image_tags,
    images,
    task_info,
    tasks,
    metadef_namespace_resource_types,
    metadef_objects,
    metadef_properties,
    metadef_tags,
    metadef_resource_types,
    metadef_namespaces,
    cached_images,
    node_reference,
)
