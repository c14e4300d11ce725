"""Index builds that never block writes, for revisions that run on live databases.

glancedb's additive revisions run on databases a Glance server is using
(``glancedb db sync`` adopting a Glance database, or upgrading one it shares).
A plain ``CREATE INDEX`` blocks every write to the table for as long as the
build takes - minutes on ``image_properties`` at a million images: an outage.
So each revision builds its indexes through :func:`create_index`:

- PostgreSQL: ``CREATE INDEX CONCURRENTLY``, outside any transaction (the
  revision's transaction is committed first; a concurrent build cannot run
  inside one).  A build that fails - or was interrupted in an earlier run -
  leaves an *invalid* index behind, which is dropped (``DROP INDEX
  CONCURRENTLY``) before building again, once;
- MySQL/MariaDB: online DDL, ``ALGORITHM=INPLACE, LOCK=NONE`` (the server
  refuses rather than silently locking the table when it cannot).  Online
  DDL still takes the table's metadata lock exclusively for a moment at its
  start and its end, and while it *waits* for that lock (behind a long open
  transaction) every new writer of the table queues behind it - the classic
  metadata-lock pile-up.  So the build waits at most
  :data:`MYSQL_LOCK_WAIT` seconds (``lock_wait_timeout``) and is retried
  after a pause, reporting what it waits for, instead of stalling writers;
- SQLite: a plain ``CREATE INDEX`` - SQLite has one writer at a time and no
  online DDL; the build holds the write lock for its duration, so it is
  made as short as SQLite allows: the sort of the index entries runs on
  worker threads, in small runs (see :func:`_sqlite_build_settings`).

While a build runs, its progress is reported through the ``progress``
callback that :func:`glancedb.migration.sync` puts into the Alembic
configuration (``glancedb db sync`` prints it): PostgreSQL's
``pg_stat_progress_create_index``, MariaDB's ``PROCESSLIST.PROGRESS``, and
elsewhere the start and the end of each build.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from alembic import op
from sqlalchemy import Connection, Engine, inspect, text
from sqlalchemy import exc as sa_exc

LOG = logging.getLogger("glancedb")

#: How progress reaches the caller: one line of text at a time.
Progress = Callable[[str], None]

#: Seconds between two progress reports of a running build.
PROGRESS_INTERVAL = 5.0
#: A build is announced once it has run this long (seconds): quick ones,
#: on an empty or small database, say nothing.
QUIET_SECONDS = 1.0
#: Attempts of a concurrent build on PostgreSQL (the second after dropping
#: the invalid index the first left behind).
POSTGRESQL_ATTEMPTS = 2
#: MySQL/MariaDB: the longest a build waits for the table's metadata lock
#: (seconds), which is also the longest a writer queues behind it; then the
#: build gives up, pauses :data:`MYSQL_RETRY_PAUSE` seconds and tries again,
#: for at most :data:`MYSQL_RETRY_FOR` seconds in all.
MYSQL_LOCK_WAIT = 1
MYSQL_RETRY_PAUSE = 2.0
MYSQL_RETRY_FOR = 3600.0
#: MySQL's "Lock wait timeout exceeded" error.
_MYSQL_LOCK_WAIT_TIMEOUT = 1205


def progress_callback() -> Progress | None:
    """The progress callback of the running migration, if its caller gave one."""
    config = op.get_context().config
    if config is None:
        return None
    callback = config.attributes.get("progress")
    return callback if callable(callback) else None


def create_index(
    name: str,
    table: str,
    elements: Sequence[str],
    *,
    postgresql_using: str | None = None,
    postgresql_where: str | None = None,
    dialect_elements: Mapping[str, Sequence[str]] | None = None,
) -> None:
    """Build index ``name`` on ``table`` without blocking writes (see the module).

    ``elements``: the index's columns or expressions as SQL text;
    ``dialect_elements`` overrides them per backend (``{"mysql":
    ["name", "value(255)"]}``); ``postgresql_where`` makes it partial there.
    An index of that name that already exists (valid) is kept: a revision
    interrupted after its build re-runs cleanly.
    """
    context = op.get_context()
    dialect = context.dialect.name
    family = "mysql" if dialect in ("mysql", "mariadb") else dialect
    parts = ", ".join((dialect_elements or {}).get(family, elements))
    if family == "postgresql":
        using = f" USING {postgresql_using}" if postgresql_using else ""
        where = f" WHERE {postgresql_where}" if postgresql_where else ""
        ddl = f"CREATE INDEX CONCURRENTLY {name} ON {table}{using} ({parts}){where}"
        if context.as_sql:  # offline SQL for a DBA: the statement, outside a transaction
            with context.autocommit_block():
                op.execute(ddl.replace("CONCURRENTLY", "CONCURRENTLY IF NOT EXISTS", 1))
            return
        with context.autocommit_block():
            _build_postgresql(op.get_bind(), name, table, ddl, progress_callback())
        return
    if family == "mysql":
        ddl = f"CREATE INDEX {name} ON {table} ({parts}) ALGORITHM=INPLACE LOCK=NONE"
    else:
        ddl = f"CREATE INDEX {name} ON {table} ({parts})"
    if context.as_sql:
        op.execute(ddl)
        return
    conn = op.get_bind()
    report = progress_callback()
    if _index_exists(conn, table, name):
        return
    if family == "mysql":
        _build_mysql(conn, name, table, ddl, report)
        return
    with _reporting(conn, name, table, report), _sqlite_build_settings(conn):
        conn.exec_driver_sql(ddl)


def drop_index(name: str, table: str) -> None:
    """Drop index ``name`` of ``table`` (concurrently on PostgreSQL), if it exists."""
    context = op.get_context()
    dialect = context.dialect.name
    if context.as_sql:
        if dialect == "postgresql":
            with context.autocommit_block():
                op.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")
        elif dialect in ("mysql", "mariadb"):
            op.execute(f"DROP INDEX {name} ON {table}")
        else:
            op.execute(f"DROP INDEX IF EXISTS {name}")
        return
    conn = op.get_bind()
    if dialect == "postgresql":
        with op.get_context().autocommit_block():
            op.get_bind().exec_driver_sql(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")
        return
    if not _index_exists(conn, table, name):
        return
    if dialect in ("mysql", "mariadb"):
        conn.exec_driver_sql(f"DROP INDEX {name} ON {table}")
    else:
        conn.exec_driver_sql(f"DROP INDEX {name}")


def replace_indexes(
    table: str,
    built: Mapping[str, Sequence[str]],
    dropped: Iterable[str],
    *,
    dialects: Collection[str] | None = None,
) -> None:
    """Build the indexes ``built`` (name -> columns) on ``table``, then drop
    those named ``dropped``, which they supersede (see :func:`create_index`
    and :func:`drop_index`); only on ``dialects`` when given.

    Built first, so that queries always have one of them to use.
    """
    if dialects is not None and op.get_context().dialect.name not in dialects:
        return
    for name, columns in built.items():
        create_index(name, table, columns)
    for name in dropped:
        drop_index(name, table)


def _index_exists(conn: Connection, table: str, name: str) -> bool:
    if conn.dialect.name == "sqlite":
        # SQLAlchemy does not reflect indexes on expressions on SQLite.
        found = conn.exec_driver_sql(
            "SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = ?", (name,)
        ).first()
        return found is not None
    return any(index["name"] == name for index in inspect(conn).get_indexes(table))


# --- SQLite -------------------------------------------------------------------------

#: SQLite: the most worker threads an index build's sort uses (SQLite's own
#: cap is 8), and the page cache of the build's connection, in KiB.
SQLITE_BUILD_THREADS = 8
SQLITE_BUILD_CACHE_KIB = 2048


@contextmanager
def _sqlite_build_settings(conn: Connection) -> Iterator[None]:
    """Let SQLite build an index faster on ``conn``, then restore its settings.

    The build sorts every entry of the index, and writers wait for all of
    it.  With worker threads (one per core) SQLite sorts runs in parallel,
    and a small page cache makes those runs small and many, so that more
    of the sort runs on them: building the ``(name, value)`` index of 10M
    properties took 5.8-7.1 s this way, 8.5-11.3 s with the connection's
    usual settings (no worker thread, 16 MiB of cache), on 2 cores.
    """
    threads = min(os.cpu_count() or 1, SQLITE_BUILD_THREADS)
    cache = conn.exec_driver_sql("PRAGMA cache_size").scalar_one()
    previous = conn.exec_driver_sql("PRAGMA threads").scalar_one()
    conn.exec_driver_sql(f"PRAGMA threads={threads}")
    conn.exec_driver_sql(f"PRAGMA cache_size=-{SQLITE_BUILD_CACHE_KIB}")
    try:
        yield
    finally:
        conn.exec_driver_sql(f"PRAGMA cache_size={int(cache)}")
        conn.exec_driver_sql(f"PRAGMA threads={int(previous)}")


# --- PostgreSQL ---------------------------------------------------------------------


def _postgresql_index_state(conn: Connection, name: str) -> bool | None:
    """None: no index ``name``; else whether it is valid."""
    row = conn.execute(
        text(
            "SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
            " WHERE c.relname = :name AND pg_catalog.pg_table_is_visible(c.oid)"
        ),
        {"name": name},
    ).first()
    return None if row is None else bool(row[0])


def _build_postgresql(
    conn: Connection, name: str, table: str, ddl: str, report: Progress | None
) -> None:
    """Run a concurrent build (``conn`` in autocommit), dropping and retrying an invalid one."""
    for attempt in range(1, POSTGRESQL_ATTEMPTS + 1):
        state = _postgresql_index_state(conn, name)
        if state is True:
            return
        if state is False:
            # Left by a failed or interrupted concurrent build: unusable, and
            # still maintained by every write.  Drop it and build again.
            say(report, f"dropping the invalid index {name} left by an earlier build")
            conn.exec_driver_sql(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")
        try:
            with _reporting(conn, name, table, report):
                conn.exec_driver_sql(ddl)
            return
        except sa_exc.DBAPIError:
            if attempt == POSTGRESQL_ATTEMPTS:
                if _postgresql_index_state(conn, name) is False:
                    conn.exec_driver_sql(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")
                raise
            LOG.warning("building index %s failed; retrying", name, exc_info=True)
            say(report, f"building {name} failed; dropping it and retrying")


# --- MySQL / MariaDB --------------------------------------------------------------


def _build_mysql(
    conn: Connection, name: str, table: str, ddl: str, report: Progress | None
) -> None:
    """Run an online build that never keeps writers waiting long for the metadata lock."""
    with _reporting(conn, name, table, report):
        run_mysql_ddl(conn, ddl, table, report, waiting=name)


def run_mysql_ddl(
    conn: Connection, ddl: str, table: str, report: Progress | None, *, waiting: str = "DDL"
) -> None:
    """Run ``ddl`` on ``table`` waiting at most :data:`MYSQL_LOCK_WAIT` seconds
    at a time for its metadata lock, so that writers never queue long behind
    it; retried after :data:`MYSQL_RETRY_PAUSE` seconds, reporting what
    ``waiting`` waits for, for at most :data:`MYSQL_RETRY_FOR` seconds."""
    previous = int(conn.exec_driver_sql("SELECT @@SESSION.lock_wait_timeout").scalar_one())
    conn.exec_driver_sql(f"SET SESSION lock_wait_timeout = {MYSQL_LOCK_WAIT}")
    deadline = time.monotonic() + MYSQL_RETRY_FOR
    try:
        while True:
            try:
                conn.exec_driver_sql(ddl)
                return
            except sa_exc.OperationalError as exc:
                if error_code(exc) != _MYSQL_LOCK_WAIT_TIMEOUT or time.monotonic() > deadline:
                    raise
                say(
                    report,
                    f"{table} is in use by an open transaction: {waiting} waits for it,"
                    f" retrying in {MYSQL_RETRY_PAUSE:.0f}s (writers are not held up)",
                )
                time.sleep(MYSQL_RETRY_PAUSE)
    finally:
        conn.exec_driver_sql(f"SET SESSION lock_wait_timeout = {previous}")


def error_code(exc: sa_exc.DBAPIError) -> Any:
    """The driver's error number of ``exc`` (MySQL's 1205, ...), if it has one."""
    return exc.orig.args[0] if exc.orig is not None and exc.orig.args else None


# --- progress -----------------------------------------------------------------------


def say(report: Progress | None, message: str) -> None:
    """Log ``message`` and pass it to ``report``."""
    LOG.info("%s", message)
    if report is not None:
        report(message)


@contextmanager
def _reporting(conn: Connection, name: str, table: str, report: Progress | None) -> Iterator[None]:
    """Report an index build that takes a while (see :func:`reported_step`),
    with its progress where the backend tells."""
    if conn.dialect.name == "sqlite":
        how = "SQLite: writers wait until it is built"
    else:
        how = "writes are not blocked"
    with reported_step(
        report,
        f"building index {name} on {table} ({how})",
        f"built index {name}",
        monitored=None if conn.dialect.name == "sqlite" else conn,
    ):
        yield


@contextmanager
def reported_step(
    report: Progress | None,
    starting: str,
    finished: str,
    *,
    monitored: Connection | None = None,
) -> Iterator[None]:
    """Report a schema step that takes a while: ``starting`` (after
    :data:`QUIET_SECONDS`), the server's progress of ``monitored``'s
    statement (PostgreSQL, MySQL/MariaDB), then ``finished`` with the time
    it took.  Quick steps - an empty or small database - say nothing."""
    started = time.monotonic()
    announced = threading.Event()

    def announce() -> None:
        announced.set()
        say(report, starting)

    timer = threading.Timer(QUIET_SECONDS, announce)
    timer.daemon = True
    timer.start()
    monitor: _Monitor | None = None
    if report is not None and monitored is not None:
        monitor = _Monitor(monitored, report)
        monitor.start()
    try:
        yield
    finally:
        timer.cancel()
        if monitor is not None:
            monitor.stop()
    elapsed = time.monotonic() - started
    if announced.is_set():
        say(report, f"{finished} in {elapsed:.1f}s")
    else:
        LOG.info("%s in %.1fs", finished, elapsed)


class _Monitor:
    """Polls the server's progress view for the building connection, in a thread."""

    def __init__(self, conn: Connection, report: Progress) -> None:
        self._engine: Engine = conn.engine
        self._report = report
        self._stopped = threading.Event()
        if conn.dialect.name == "postgresql":
            self._backend_id = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar()
        else:
            self._backend_id = conn.exec_driver_sql("SELECT CONNECTION_ID()").scalar()
        self._thread = threading.Thread(target=self._run, name="glancedb-index-progress")
        self._thread.daemon = True

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join(timeout=PROGRESS_INTERVAL * 2)

    def _run(self) -> None:
        try:
            with self._engine.connect() as conn:
                conn = conn.execution_options(isolation_level="AUTOCOMMIT")
                last = ""
                while not self._stopped.wait(PROGRESS_INTERVAL):
                    line = _progress_line(conn, self._backend_id)
                    if line and line != last:
                        self._report(f"  {line}")
                        last = line
        except sa_exc.SQLAlchemyError:
            # Progress is a courtesy: the build goes on without it.
            LOG.debug("index build progress unavailable", exc_info=True)


def _progress_line(conn: Connection, backend_id: Any) -> str | None:
    if conn.dialect.name == "postgresql":
        row = conn.execute(
            text(
                "SELECT phase, blocks_done, blocks_total, tuples_done, tuples_total"
                " FROM pg_stat_progress_create_index WHERE pid = :pid"
            ),
            {"pid": backend_id},
        ).first()
        if row is None:
            return None
        phase, blocks_done, blocks_total, tuples_done, tuples_total = row
        if blocks_total:
            return f"{phase}: {100 * blocks_done / blocks_total:.0f}% of the table's blocks"
        if tuples_total:
            return f"{phase}: {100 * tuples_done / tuples_total:.0f}% of the rows"
        return str(phase)
    row = conn.execute(
        text(
            "SELECT STAGE, MAX_STAGE, PROGRESS, STATE FROM information_schema.PROCESSLIST"
            " WHERE ID = :id"
        ),
        {"id": backend_id},
    ).first()
    if row is None:
        return None
    stage, max_stage, percent, state = row
    if max_stage:
        return f"stage {stage} of {max_stage} ({state}): {float(percent or 0):.0f}%"
    return str(state) if state else None
