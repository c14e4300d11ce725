"""Glance-compatible module facade: ``glance.db.sqlalchemy.api`` by another import.

Module-level functions with Glance's names delegate to one process-wide
default :class:`~glancedb.database.Database`.  Glance itself selects this
module with ``[DEFAULT] data_api = glancedb.api`` and calls :func:`configure`
with no arguments on every request: the database is then the one named by
oslo.config's ``[database] connection`` (when oslo.config is loaded), else
``$GLANCEDB_DATABASE_URL``, else the embedded ``./glancedb.sqlite``; a
repeated call with the same settings keeps the database and its engine.
"""

from __future__ import annotations

import functools
import inspect
import logging
import sys
import threading
from collections.abc import Callable
from typing import Any, Concatenate, NamedTuple, ParamSpec, TypeVar

from sqlalchemy import URL, Engine

from glancedb.database import Database
from glancedb.engines import DEFAULT_URL_ENV, EMBEDDED_URL, default_url, normalize_url
from glancedb.exception import DBConfigurationError

P = ParamSpec("P")
R = TypeVar("R")

LOG = logging.getLogger("glancedb")

#: The image statuses Glance's driver knows (its module's ``STATUSES``).
STATUSES: tuple[str, ...] = (
    "active",
    "saving",
    "queued",
    "killed",
    "pending_delete",
    "deleted",
    "deactivated",
    "importing",
    "uploading",
)


class _Settings(NamedTuple):
    """What makes two :func:`configure` calls the same: URLs and engine options."""

    url: str
    read_url: str | None
    options: dict[str, Any]


_lock = threading.Lock()
# The default database and the settings it was made from, replaced as one
# reference so that a reader never sees one without the other.
_current: tuple[_Settings, Database] | None = None


def _oslo_database_urls() -> tuple[str | None, str | None]:
    """``[database] connection`` and ``slave_connection`` of oslo.config's global
    ``CONF``, when the program has imported oslo.config (glancedb never does).

    An unregistered group or option, a value that cannot be read, or an
    empty one counts as absent.
    """
    cfg = sys.modules.get("oslo_config.cfg")
    if cfg is None:
        return None, None
    # oslo.config's own errors (no such group or option, a bad value in a
    # config file, a bad substitution) derive from cfg.Error; an absent
    # group or option is also an AttributeError.
    oslo_error = getattr(cfg, "Error", None)
    errors: tuple[type[Exception], ...] = (AttributeError,)
    if isinstance(oslo_error, type) and issubclass(oslo_error, Exception):
        errors = (oslo_error, AttributeError)

    try:
        group = cfg.CONF.database
    except errors:
        return None, None

    def option(name: str) -> str | None:
        try:
            value = getattr(group, name)
        except errors:
            return None
        return value if isinstance(value, str) and value else None

    connection = option("connection")
    if connection is None:
        return None, None
    return connection, option("slave_connection")


def _url_key(url: object) -> str:
    """``url`` normalised as glancedb connects to it."""
    if not isinstance(url, str | URL):
        raise DBConfigurationError(f"Invalid database URL {url!r}: not a string")
    return _normalised(url)


@functools.lru_cache(maxsize=64)
def _normalised(url: str | URL) -> str:
    # Cached: configure() runs on every request of a Glance server.
    return normalize_url(url).render_as_string(hide_password=False)


def _settings(url: str | URL | None, options: dict[str, Any]) -> tuple[_Settings, str]:
    """The effective settings of ``configure(url, **options)``, and where the URL came from."""
    engine_options = dict(options)
    read_url = engine_options.pop("read_url", None)
    if url is not None:
        source = "configure()"
    else:
        connection, slave_connection = _oslo_database_urls()
        if connection is not None:
            url, source = connection, "oslo.config [database] connection"
            if read_url is None:
                read_url = slave_connection
        else:
            url = default_url()
            source = "the embedded default" if url == EMBEDDED_URL else f"${DEFAULT_URL_ENV}"
    settings = _Settings(
        url=_url_key(url),
        read_url=None if read_url is None else _url_key(read_url),
        options=engine_options,
    )
    return settings, source


def configure(url: str | URL | None = None, **options: Any) -> Database:
    """Point the facade at a database and return it.

    Without ``url``: oslo.config's ``[database] connection`` (and
    ``slave_connection`` as the read URL) when the program has loaded
    oslo.config and set it, as Glance does; else ``$GLANCEDB_DATABASE_URL``;
    else the embedded ``./glancedb.sqlite``.  Keyword options go to
    :class:`Database` (``read_url`` and engine options).

    Glance calls this with no arguments on every request: with the same
    settings as the current database it returns that database, engine and
    pool untouched.  Different settings switch to a new database and dispose
    of the previous one.  Thread-safe.
    """
    return _configure(url, options, replace=True)


def get_database() -> Database:
    """The facade's default database; the first use configures it as :func:`configure` does."""
    current = _current
    if current is not None:
        return current[1]
    return _configure(None, {}, replace=False)


def _configure(url: str | URL | None, options: dict[str, Any], *, replace: bool) -> Database:
    """The default database for these settings; ``replace=False`` keeps any current one."""
    global _current
    settings, source = _settings(url, options)
    current = _current
    if current is not None and (current[0] == settings or not replace):
        return current[1]
    with _lock:
        current = _current
        if current is not None and (current[0] == settings or not replace):
            return current[1]
        database = Database(settings.url, read_url=settings.read_url, **settings.options)
        _current = (settings, database)
    LOG.info("glancedb.api uses %r (from %s)", database, source)
    if current is not None:
        current[1].dispose()
    return database


def get_engine() -> Engine:
    """The SQLAlchemy engine of the default database."""
    return get_database().engine


def clear_db_env() -> None:
    """Forget the default database (its connections are closed).

    The next call configures it again, as :func:`configure` would.
    """
    global _current
    with _lock:
        current, _current = _current, None
    if current is not None:
        current[1].dispose()


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
