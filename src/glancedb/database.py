"""The :class:`Database`: every API area composed over one set of engines."""

from __future__ import annotations

from glancedb.cache import CacheAPI
from glancedb.images import ImagesAPI
from glancedb.metadefs import MetadefsAPI
from glancedb.purge import PurgeAPI
from glancedb.schema import SchemaAPI
from glancedb.tasks import TasksAPI
from glancedb.usage import UsageAPI


class Database(
    ImagesAPI,
    TasksAPI,
    UsageAPI,
    PurgeAPI,
    CacheAPI,
    MetadefsAPI,
    SchemaAPI,
):
    """A glancedb database: ``Database(url, *, read_url=None, causal_reads=True,
    replica_wait=0.5, **engine_options)``.

    Every function of Glance's SQL driver is a method (with Glance's name,
    parameters and defaults); each call runs in one transaction, sees one
    snapshot, and is retried on deadlocks, serialization failures and
    dropped connections, within about a second and a half.
    ``read_url`` names an optional read replica used by read-only calls; a
    read right after this database's own write waits up to ``replica_wait``
    seconds for the replica to have it, else reads from the primary.
    ``causal_reads=False`` turns off causal reads on MariaDB Galera nodes.
    Extra keyword arguments go to :func:`sqlalchemy.create_engine`.
    Work spanning several calls runs in one :meth:`transaction`.
    See docs/topologies.md for what is guaranteed where.
    """
