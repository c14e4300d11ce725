"""glancedb: the OpenStack Glance image-metadata database as a standalone library.

>>> import glancedb
>>> db = glancedb.Database("sqlite://")
>>> db.db_sync()
>>> ctx = glancedb.RequestContext(project_id="tenant-a")
>>> image = db.image_create(ctx, {"status": "queued", "name": "cirros", "owner": "tenant-a"})
>>> db.image_get(ctx, image["id"]).name
'cirros'
"""

from glancedb import exception
from glancedb.context import RequestContext, get_admin_context
from glancedb.database import Database
from glancedb.records import Record

__version__ = "0.1.0"

__all__ = [
    "Database",
    "Record",
    "RequestContext",
    "__version__",
    "exception",
    "get_admin_context",
]
