"""Glance-compatible module facade: ``glance.db.sqlalchemy.api`` by another import.

Module-level functions with Glance's names delegate to one process-wide
default :class:`~glancedb.database.Database`, created lazily from
``GLANCEDB_DATABASE_URL`` (or the embedded ``./glancedb.sqlite``), or
explicitly with :func:`configure`.
"""

from __future__ import annotations

import functools
import inspect
import threading
from collections.abc import Callable
from typing import Any, Concatenate, ParamSpec, TypeVar

from sqlalchemy import Engine

from glancedb.database import Database
from glancedb.engines import default_url

P = ParamSpec("P")
R = TypeVar("R")

_lock = threading.Lock()
_default: Database | None = None


def configure(url: str | None = None, **options: Any) -> Database:
    """Point the facade at ``url`` (default: :func:`default_url`).

    Keyword options go to :class:`Database` (``read_url`` and engine options).
    A previously configured database is disposed.
    """
    global _default
    database = Database(url or default_url(), **options)
    with _lock:
        previous, _default = _default, database
    if previous is not None:
        previous.dispose()
    return database


def get_database() -> Database:
    """The facade's default database, created on first use."""
    global _default
    with _lock:
        if _default is None:
            _default = Database(default_url())
        return _default


def get_engine() -> Engine:
    """The SQLAlchemy engine of the default database."""
    return get_database().engine


def _delegate(method: Callable[Concatenate[Database, P], R]) -> Callable[P, R]:
    """A module function calling ``method`` on the default database."""

    @functools.wraps(method)
    def call(*args: P.args, **kwargs: P.kwargs) -> R:
        return method(get_database(), *args, **kwargs)

    signature = inspect.signature(method)
    call.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=list(signature.parameters.values())[1:]
    )
    del call.__wrapped__
    return call


# --- schema (issue 2) -----------------------------------------------------------
db_sync = _delegate(Database.db_sync)
db_version = _delegate(Database.db_version)
db_check = _delegate(Database.db_check)
db_revisions = _delegate(Database.db_revisions)
db_upgrade = _delegate(Database.db_upgrade)
db_downgrade = _delegate(Database.db_downgrade)
transaction = _delegate(Database.transaction)
dispose = _delegate(Database.dispose)

# --- images (issue 3) -----------------------------------------------------------
image_create = _delegate(Database.image_create)
image_update = _delegate(Database.image_update)
image_destroy = _delegate(Database.image_destroy)
image_get = _delegate(Database.image_get)
image_restore = _delegate(Database.image_restore)
is_image_visible = _delegate(Database.is_image_visible)
is_image_mutable = _delegate(Database.is_image_mutable)

# --- locations (issue 3) --------------------------------------------------------
image_location_add = _delegate(Database.image_location_add)
image_location_update = _delegate(Database.image_location_update)
image_location_delete = _delegate(Database.image_location_delete)

# --- properties (issue 3) -------------------------------------------------------
image_property_create = _delegate(Database.image_property_create)
image_property_delete = _delegate(Database.image_property_delete)
image_set_property_atomic = _delegate(Database.image_set_property_atomic)
image_delete_property_atomic = _delegate(Database.image_delete_property_atomic)

# --- members (issue 3) ----------------------------------------------------------
image_member_create = _delegate(Database.image_member_create)
image_member_update = _delegate(Database.image_member_update)
image_member_delete = _delegate(Database.image_member_delete)
image_member_find = _delegate(Database.image_member_find)
image_member_count = _delegate(Database.image_member_count)

# --- tags (issue 3) -------------------------------------------------------------
image_tag_create = _delegate(Database.image_tag_create)
image_tag_delete = _delegate(Database.image_tag_delete)
image_tag_get_all = _delegate(Database.image_tag_get_all)
image_tag_set_all = _delegate(Database.image_tag_set_all)

# --- listing (issue 4) ----------------------------------------------------------
image_get_all = _delegate(Database.image_get_all)

# --- tasks (issue 5) ------------------------------------------------------------
task_create = _delegate(Database.task_create)
task_update = _delegate(Database.task_update)
task_get = _delegate(Database.task_get)
task_delete = _delegate(Database.task_delete)
task_get_all = _delegate(Database.task_get_all)
tasks_get_by_image = _delegate(Database.tasks_get_by_image)

# --- usage (issue 5) ------------------------------------------------------------
user_get_storage_usage = _delegate(Database.user_get_storage_usage)
user_get_staging_usage = _delegate(Database.user_get_staging_usage)
user_get_image_count = _delegate(Database.user_get_image_count)
user_get_uploading_count = _delegate(Database.user_get_uploading_count)

# --- purge (issue 5) ------------------------------------------------------------
purge_deleted_rows = _delegate(Database.purge_deleted_rows)
purge_deleted_rows_from_images = _delegate(Database.purge_deleted_rows_from_images)

# --- image cache (issue 5) ------------------------------------------------------
node_reference_create = _delegate(Database.node_reference_create)
node_reference_get_by_url = _delegate(Database.node_reference_get_by_url)
node_reference_get_all = _delegate(Database.node_reference_get_all)
insert_cache_details = _delegate(Database.insert_cache_details)
get_hit_count = _delegate(Database.get_hit_count)
update_hit_count = _delegate(Database.update_hit_count)
get_cached_images = _delegate(Database.get_cached_images)
get_cached_nodes = _delegate(Database.get_cached_nodes)
get_least_recently_accessed = _delegate(Database.get_least_recently_accessed)
is_image_cached_for_node = _delegate(Database.is_image_cached_for_node)
delete_cached_image = _delegate(Database.delete_cached_image)
delete_all_cached_images = _delegate(Database.delete_all_cached_images)

# --- metadefs (issue 6) ---------------------------------------------------------
metadef_namespace_get_all = _delegate(Database.metadef_namespace_get_all)
metadef_namespace_get = _delegate(Database.metadef_namespace_get)
metadef_namespace_create = _delegate(Database.metadef_namespace_create)
metadef_namespace_update = _delegate(Database.metadef_namespace_update)
metadef_namespace_delete = _delegate(Database.metadef_namespace_delete)
metadef_object_get_all = _delegate(Database.metadef_object_get_all)
metadef_object_get = _delegate(Database.metadef_object_get)
metadef_object_create = _delegate(Database.metadef_object_create)
metadef_object_update = _delegate(Database.metadef_object_update)
metadef_object_delete = _delegate(Database.metadef_object_delete)
metadef_object_delete_namespace_content = _delegate(
    Database.metadef_object_delete_namespace_content
)
metadef_object_count = _delegate(Database.metadef_object_count)
metadef_property_get_all = _delegate(Database.metadef_property_get_all)
metadef_property_get = _delegate(Database.metadef_property_get)
metadef_property_create = _delegate(Database.metadef_property_create)
metadef_property_update = _delegate(Database.metadef_property_update)
metadef_property_delete = _delegate(Database.metadef_property_delete)
metadef_property_delete_namespace_content = _delegate(
    Database.metadef_property_delete_namespace_content
)
metadef_property_count = _delegate(Database.metadef_property_count)
metadef_tag_get_all = _delegate(Database.metadef_tag_get_all)
metadef_tag_get = _delegate(Database.metadef_tag_get)
metadef_tag_create = _delegate(Database.metadef_tag_create)
metadef_tag_create_tags = _delegate(Database.metadef_tag_create_tags)
metadef_tag_update = _delegate(Database.metadef_tag_update)
metadef_tag_delete = _delegate(Database.metadef_tag_delete)
metadef_tag_delete_namespace_content = _delegate(Database.metadef_tag_delete_namespace_content)
metadef_tag_count = _delegate(Database.metadef_tag_count)
metadef_resource_type_create = _delegate(Database.metadef_resource_type_create)
metadef_resource_type_get = _delegate(Database.metadef_resource_type_get)
metadef_resource_type_get_all = _delegate(Database.metadef_resource_type_get_all)
metadef_resource_type_delete = _delegate(Database.metadef_resource_type_delete)
metadef_resource_type_association_get = _delegate(Database.metadef_resource_type_association_get)
metadef_resource_type_association_create = _delegate(
    Database.metadef_resource_type_association_create
)
metadef_resource_type_association_delete = _delegate(
    Database.metadef_resource_type_association_delete
)
metadef_resource_type_association_get_all_by_namespace = _delegate(
    Database.metadef_resource_type_association_get_all_by_namespace
)
