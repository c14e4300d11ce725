"""Test databases: where each backend lives and how to reset it.

The server URLs come from ``GLANCEDB_TEST_POSTGRESQL_URL`` and
``GLANCEDB_TEST_MYSQL_URL`` (defaults: the local servers, database
``glancedb_test``).  A backend whose server cannot be reached is skipped
locally; with ``CI=true`` that is a failure instead.

Two more "backends" are topologies (started by ``scripts/topology/*.sh``),
for the tests marked ``topologies`` only: ``galera`` (a 3-node MariaDB
Galera cluster, ``GLANCEDB_TEST_GALERA_URLS``: the database under test
writes through node 1 and reads through node 2) and ``pg-standby`` (a
PostgreSQL primary and its streaming hot standby,
``GLANCEDB_TEST_PG_PRIMARY_URL`` / ``GLANCEDB_TEST_PG_STANDBY_URL``: reads
go to the standby).  The defaults are the scripts' ports.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import URL, create_engine, event, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

from glancedb.database import Database
from glancedb.engines import normalize_url
from glancedb.models.tables import DELETE_ORDER

BACKENDS = ("sqlite", "postgresql", "mysql")
TOPOLOGIES = ("galera", "pg-standby")
#: The server kind behind each topology (for the ``backends`` marker).
TOPOLOGY_BACKEND = {"galera": "mysql", "pg-standby": "postgresql"}

TOPOLOGY_DEFAULTS = {
    "GLANCEDB_TEST_GALERA_URLS": ",".join(
        f"mysql+pymysql://root@127.0.0.1:{port}/glancedb_test" for port in (13306, 13307, 13308)
    ),
    "GLANCEDB_TEST_PG_PRIMARY_URL": "postgresql+psycopg://postgres@127.0.0.1:15432/glancedb_test",
    "GLANCEDB_TEST_PG_STANDBY_URL": "postgresql+psycopg://postgres@127.0.0.1:15433/glancedb_test",
}
_TOPOLOGY_SCRIPTS = {"galera": "galera.sh", "pg-standby": "pg-standby.sh"}

DEFAULT_URLS = {
    "postgresql": "postgresql+psycopg://postgres@127.0.0.1:5432/glancedb_test",
    "mysql": "mysql+pymysql://root@127.0.0.1:3306/glancedb_test",
}


def in_ci() -> bool:
    """Whether the tests run under CI, where every backend must run."""
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def server_url(backend: str, database: str | None = None) -> URL:
    """The URL of ``backend``'s test database (or of another database there)."""
    env = os.environ.get(f"GLANCEDB_TEST_{backend.upper()}_URL")
    url = normalize_url(env or DEFAULT_URLS[backend])
    if database is not None:
        url = url.set(database=database)
    return url


def _admin_engine(url: URL) -> Engine:
    if url.get_backend_name() == "postgresql":
        admin = url.set(database="postgres")
    else:
        admin = url.set(database="")
    return create_engine(admin, isolation_level="AUTOCOMMIT")


def recreate_database(url: URL) -> None:
    """Drop and create the (server) database ``url`` names, empty."""
    engine = _admin_engine(url)
    name = url.database
    try:
        with engine.connect() as conn:
            if url.get_backend_name() == "postgresql":
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                conn.execute(text(f'CREATE DATABASE "{name}"'))
            else:
                conn.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
                conn.execute(text(f"CREATE DATABASE `{name}` CHARACTER SET utf8"))
    finally:
        engine.dispose()


def _env(name: str) -> str:
    return os.environ.get(name) or TOPOLOGY_DEFAULTS[name]


def topology_urls(topology: str) -> list[URL]:
    """The servers of ``topology``: Galera's nodes, or PostgreSQL's primary and standby."""
    if topology == "galera":
        names = _env("GLANCEDB_TEST_GALERA_URLS").split(",")
    else:
        names = [_env("GLANCEDB_TEST_PG_PRIMARY_URL"), _env("GLANCEDB_TEST_PG_STANDBY_URL")]
    return [normalize_url(name.strip()) for name in names]


def base_backend(backend: str) -> str:
    """``backend``, or the server kind behind a topology."""
    return TOPOLOGY_BACKEND.get(backend, backend)


def check_reachable(backend: str) -> str | None:
    """None if ``backend``'s server (every server of a topology) answers, else why not."""
    if backend == "sqlite":
        return None
    if backend in TOPOLOGIES:
        for url in topology_urls(backend):
            engine = create_engine(url)
            try:
                with engine.connect() as conn:
                    conn.execute(text("SELECT 1"))
            except Exception as exc:
                first = str(exc).splitlines()[0]
                script = f"scripts/topology/{_TOPOLOGY_SCRIPTS[backend]} start"
                return (
                    f"topology {backend} not running ({script} starts it): "
                    f"{url.render_as_string(hide_password=True)} unreachable: {first}"
                )
            finally:
                engine.dispose()
        return None
    engine = _admin_engine(server_url(backend))
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:
        return f"{backend} server unreachable at {server_url(backend)!r}: {exc}".splitlines()[0]
    finally:
        engine.dispose()
    return None


def make_database(backend: str, tmp_dir: str, name: str = "glancedb_test") -> Database:
    """A :class:`Database` on a fresh, empty database of ``backend`` (schema not synced).

    Topologies: Galera writes through node 1 and reads through node 2;
    pg-standby writes to the primary and reads from the standby.
    """
    if backend in TOPOLOGIES:
        urls = topology_urls(backend)
        recreate_database(urls[0])
        if backend == "pg-standby":
            wait_for_standby(urls[0], urls[1])
        return Database(urls[0], read_url=urls[1])
    if backend == "sqlite":
        path = os.path.join(tmp_dir, f"{name}.sqlite")
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(path + suffix):
                os.remove(path + suffix)
        return Database(f"sqlite:///{path}")
    url = server_url(backend)
    if name != "glancedb_test":
        url = url.set(database=f"{url.database}_{name}")
    recreate_database(url)
    return Database(url)


def wait_for_standby(primary: URL, standby: URL, timeout: float = 30.0) -> None:
    """Return once ``standby`` has replayed everything ``primary`` wrote so far."""
    engine = create_engine(primary, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        lsn = conn.execute(text("SELECT pg_current_wal_insert_lsn()")).scalar()
    engine.dispose()
    replica = create_engine(standby.set(database="postgres"), isolation_level="AUTOCOMMIT")
    deadline = time.monotonic() + timeout
    try:
        with replica.connect() as conn:
            query = text("SELECT pg_last_wal_replay_lsn() >= CAST(:lsn AS pg_lsn)")
            while not conn.execute(query, {"lsn": lsn}).scalar():
                if time.monotonic() > deadline:
                    raise TimeoutError(f"standby {standby} did not replay {lsn}")
                time.sleep(0.01)
    finally:
        replica.dispose()


def peer_databases(backend: str, db: Database, count: int, **options: Any) -> list[Database]:
    """``count`` more databases on ``db``'s data, as separate processes would open them.

    On Galera they are spread over the nodes, one node each in turn (as
    behind a load balancer); on pg-standby they read from the standby.
    """
    if backend == "galera":
        urls = topology_urls("galera")
        return [Database(urls[n % len(urls)], **options) for n in range(count)]
    read_url = db.read_engine.url if db.read_engine is not db.engine else None
    return [Database(db.engine.url, read_url=read_url, **options) for _ in range(count)]


def clear_tables(db: Database) -> None:
    """Delete every row of every glancedb table (children first).

    A fault test may have killed pooled connections, which glancedb does not
    ping before use (its calls retry instead): a lost connection here is
    retried once on fresh ones.
    """
    try:
        _delete_all(db)
    except DBAPIError as error:
        if not error.connection_invalidated:
            raise
        db.engine.dispose()
        _delete_all(db)


def _delete_all(db: Database) -> None:
    with db.engine.begin() as conn:
        for table in DELETE_ORDER:
            conn.execute(table.delete())


def commit_statements(db: Database) -> int:
    """Statements a write call adds for its COMMIT: PostgreSQL takes the
    transaction id first (to resolve a COMMIT whose connection is lost)."""
    return 1 if db.backend == "postgresql" else 0


def forget_removed_listeners(engine: Engine) -> None:
    """Clear SQLAlchemy's event flag of ``engine`` when no listener is left.

    Removing a listener leaves the flag set, and an engine with it set runs
    every statement through SQLAlchemy's ``execute`` (glancedb.statements):
    a test that once counted statements would leave the session's database
    off the path every other call takes.
    """
    dispatch = engine.dispatch
    engine._has_events = any(getattr(dispatch, name) for name in dispatch._event_names)


class StatementCounter:
    """Counts the SQL statements an engine executes while active."""

    def __init__(self) -> None:
        self.statements: list[str] = []

    @property
    def count(self) -> int:
        return len(self.statements)

    def _on_execute(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        self.statements.append(statement)


@contextmanager
def count_statements(db: Database) -> Iterator[StatementCounter]:
    """Count the statements ``db`` executes in the block (BEGIN excluded)."""
    counter = StatementCounter()
    event.listen(db.engine, "before_cursor_execute", counter._on_execute)
    try:
        yield counter
    finally:
        event.remove(db.engine, "before_cursor_execute", counter._on_execute)
    counter.statements = [
        s for s in counter.statements if not s.strip().upper().startswith("BEGIN")
    ]
