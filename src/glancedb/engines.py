"""Engine creation: URL normalisation and per-backend connection setup."""

from __future__ import annotations

import importlib.util
import logging
import os
import urllib.parse
from pathlib import Path
from typing import Any

from sqlalchemy import URL, Connection, Engine, create_engine, event, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError
from sqlalchemy.pool import StaticPool

from glancedb.exception import DBConfigurationError
from glancedb.statements import driver_error

LOG = logging.getLogger("glancedb")

#: The environment variable naming the database when no URL is given.
DEFAULT_URL_ENV = "GLANCEDB_DATABASE_URL"
#: The embedded default: a SQLite file in the current directory.
EMBEDDED_URL = "sqlite:///glancedb.sqlite"


def default_url() -> str:
    """The URL used when none is given: ``$GLANCEDB_DATABASE_URL``, else the embedded file."""
    return os.environ.get(DEFAULT_URL_ENV) or EMBEDDED_URL


# Drivers glancedb ships extras for; a URL naming only the backend gets these.
_DEFAULT_DRIVERS = {
    "postgresql": "postgresql+psycopg",
    "postgres": "postgresql+psycopg",
    "mysql": "mysql+pymysql",
    "mariadb": "mariadb+pymysql",
}
_EXTRAS = {"postgresql": "postgresql", "mysql": "mysql", "mariadb": "mysql"}
_SUPPORTED_BACKENDS = ("sqlite", "postgresql", "mysql", "mariadb")

# Drivers named in Glance operators' URLs (oslo.db's documentation and
# defaults), with the module each needs and the driver glancedb installs for
# the same database, used when the named one is absent.
_SUBSTITUTES: dict[str, tuple[str, str]] = {
    "psycopg2": ("psycopg2", "psycopg"),
    "mysqldb": ("MySQLdb", "pymysql"),
    "mysqlconnector": ("mysql.connector", "pymysql"),
}


def _module_available(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def _shown(url: URL) -> str:
    return url.render_as_string(hide_password=True)


def normalize_url(url: str | URL) -> URL:
    """Parse ``url`` and pick the driver glancedb runs it on.

    ``postgresql://`` becomes ``postgresql+psycopg://`` and ``mysql://``
    becomes ``mysql+pymysql://``.  Drivers Glance deployments name
    (``postgresql+psycopg2``, ``mysql+mysqldb``, ``mysql+mysqlconnector``)
    are kept when installed, else replaced by psycopg 3 or PyMySQL (logged
    at debug level).  MySQL URLs get ``charset=utf8mb4`` unless they name a
    charset.

    :raises DBConfigurationError: the URL does not parse, or names a
        database other than SQLite, PostgreSQL and MySQL/MariaDB.
    """
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError) as exc:  # ValueError: a non-numeric port
        raise DBConfigurationError(f"Invalid database URL {str(url)!r}: {exc}") from None
    driver = _DEFAULT_DRIVERS.get(parsed.drivername)
    if driver is not None:
        parsed = parsed.set(drivername=driver)
    backend = parsed.get_backend_name()
    if backend not in _SUPPORTED_BACKENDS:
        raise DBConfigurationError(
            f"Unsupported database {backend!r} in URL {_shown(parsed)!r}: glancedb runs on"
            " SQLite (sqlite://), PostgreSQL (postgresql://) and MySQL/MariaDB (mysql://)"
        )
    substitute = _SUBSTITUTES.get(parsed.get_driver_name())
    if substitute is not None and not _module_available(substitute[0]):
        replacement = parsed.set(drivername=f"{backend}+{substitute[1]}")
        LOG.debug(
            "%s is not installed: using %s for %s",
            parsed.drivername,
            replacement.drivername,
            _shown(replacement),
        )
        parsed = replacement
    if backend in ("mysql", "mariadb") and "charset" not in parsed.query:
        parsed = parsed.update_query_dict({"charset": "utf8mb4"})
    return parsed


def is_memory_sqlite(url: URL) -> bool:
    """Whether ``url`` is an in-memory SQLite database."""
    if url.get_backend_name() != "sqlite":
        return False
    database = url.database or ""
    return database in ("", ":memory:") or (
        _is_uri(url) and (database.startswith("file::memory:") or url.query.get("mode") == "memory")
    )


def _is_uri(url: URL) -> bool:
    return str(url.query.get("uri", "")).lower() in ("true", "1") and (
        url.database or ""
    ).startswith("file:")


def sqlite_file(url: str | URL) -> Path | None:
    """The file a SQLite URL names (a ``file:`` URI's path too); None otherwise."""
    parsed = normalize_url(url)
    if parsed.get_backend_name() != "sqlite" or is_memory_sqlite(parsed):
        return None
    database = parsed.database or ""
    if _is_uri(parsed):
        database = urllib.parse.unquote(database[len("file:") :].partition("?")[0])
        if database.startswith("//"):  # file://host/path: only local files
            database = "/" + database[2:].partition("/")[2]
    return Path(database)


def read_only_url(url: str | URL) -> URL:
    """``url`` opened read-only: a SQLite file becomes a ``mode=ro`` URI.

    Such a connection never creates the file nor writes to it (not even to
    change its journal mode).  A read-only WAL database whose ``-wal`` file
    is absent is opened ``immutable`` when it cannot be opened otherwise
    (the user may not create the ``-shm`` file next to it): see
    :func:`create_glancedb_engine`.  Other URLs are returned normalised.
    """
    parsed = normalize_url(url)
    path = sqlite_file(parsed)
    if path is None:
        return parsed
    query = {k: v for k, v in parsed.query.items() if k not in ("uri", "mode")}
    return parsed.set(
        database="file:" + urllib.parse.quote(str(path.absolute()), safe="/"),
        query={**query, "mode": "ro", "uri": "true"},
    )


def enable_wal(engine: Engine) -> None:
    """Switch a SQLite file to the WAL journal (readers then never block the writer).

    Persistent, so done once, by ``db sync`` when it creates the schema: a
    file Glance made keeps the journal mode it has.  Does nothing on other
    databases and on in-memory SQLite.
    """
    if engine.dialect.name != "sqlite" or is_memory_sqlite(engine.url):
        return
    with engine.connect() as connection:
        # Outside a transaction: SQLite refuses the change inside one.
        connection.connection.dbapi_connection.execute(  # type: ignore[union-attr]
            "PRAGMA journal_mode=WAL"
        )


#: Keys of a pooled connection's ``info``: its SQLite busy timeout in
#: milliseconds, and whether its (MariaDB Galera) reads are causal.
BUSY_TIMEOUT_INFO = "glancedb_busy_timeout_ms"
CAUSAL_INFO = "glancedb_causal_reads"
WRITER_INFO = "glancedb_sqlite_writer"
WRITER_CONNECTION_INFO = "glancedb_sqlite_writer_connection"
NO_BEGIN_INFO = "glancedb_sqlite_no_begin"


def create_glancedb_engine(
    url: str | URL,
    *,
    causal_reads: bool = True,
    busy_timeout: float = 1.5,
    **engine_options: Any,
) -> Engine:
    """Create an engine configured the way glancedb needs it.

    SQLite: foreign keys on, ``BEGIN IMMEDIATE`` for writes (so that
    compare-and-swap updates serialise instead of failing), a busy timeout of
    ``busy_timeout`` seconds, one shared connection for ``sqlite://``; the
    journal mode is left as the file has it (see :func:`enable_wal`).
    MySQL in strict ``TRADITIONAL`` mode.  Dropped pooled connections are
    survived by retrying the call, not by pinging before every call.  On a
    MariaDB Galera node (``wsrep_on``, asked once per connection) every
    connection reads causally (``wsrep_sync_wait=1``) unless ``causal_reads``
    is False.  Connection options the driver rejects (``?charset=bogus``)
    raise :class:`~glancedb.exception.DBConfigurationError` on connect.
    """
    parsed = normalize_url(url)
    backend = parsed.get_backend_name()
    options: dict[str, Any] = {}
    if backend == "sqlite":
        if is_memory_sqlite(parsed):
            options["poolclass"] = StaticPool
        elif not {"poolclass", "pool", "max_overflow"} & engine_options.keys():
            # Each calling thread keeps a connection (glancedb.thread_connections):
            # a pool with a limit would make the thread after the last wait.
            options["max_overflow"] = -1
        options["connect_args"] = {"check_same_thread": False}
    # No pool pre-ping on PostgreSQL and MySQL: it costs a round trip on every
    # call, and a pooled connection the server has dropped already fails on
    # its first statement, before any commit - a transient failure after which
    # the call is retried on a new connection (glancedb.transactions).
    options.update(engine_options)
    _check_query_options(parsed)
    try:
        engine = create_engine(parsed, **options)
    except NoSuchModuleError as exc:
        raise DBConfigurationError(f"Cannot use the URL {_shown(parsed)!r}: {exc}") from None
    except ModuleNotFoundError as exc:
        extra = _EXTRAS.get(backend, backend)
        raise DBConfigurationError(
            f"The database driver {parsed.get_driver_name()!r} is not installed"
            f" ({exc.name}): install glancedb's with pip install 'glancedb[{extra}]'"
            f" and use {backend}:// URLs"
        ) from None
    except (ArgumentError, TypeError, ValueError) as exc:
        raise DBConfigurationError(f"Invalid database options: {exc}") from None
    read_only = backend == "sqlite" and parsed.query.get("mode") == "ro"
    _guard_connect(engine, read_only_sqlite=read_only)
    if backend == "sqlite":
        _setup_sqlite(engine, read_only=read_only, busy_ms=int(busy_timeout * 1000))
    elif backend in ("mysql", "mariadb"):
        _setup_mysql(engine, causal_reads=causal_reads)
    return engine


def _check_query_options(url: URL) -> None:
    """Reject option values the driver would only trip over on connect."""
    charset = url.query.get("charset")
    if url.get_driver_name() == "pymysql" and isinstance(charset, str):
        try:
            from pymysql.charset import charset_by_name
        except ImportError:  # reported as a missing driver by create_engine
            return
        if charset_by_name(charset) is None:
            raise DBConfigurationError(
                f"Unknown MySQL charset {charset!r} in the URL {_shown(url)!r}"
                " (glancedb uses utf8mb4 when none is given)"
            )


def _guard_connect(engine: Engine, *, read_only_sqlite: bool) -> None:
    """Open connections, reporting a driver's refusal of the URL's options as one error.

    Drivers check their keyword arguments only when connecting, and raise
    plain Python errors (``TypeError``: an unknown option) that SQLAlchemy
    passes through untranslated.  Read-only SQLite files are opened by
    :func:`_connect_read_only`.
    """
    dbapi_error: Any = engine.dialect.loaded_dbapi.Error

    @event.listens_for(engine, "do_connect")
    def _connect(dialect: Any, _record: Any, cargs: Any, cparams: Any) -> Any:
        try:
            if read_only_sqlite:
                return _connect_read_only(dialect, list(cargs), dict(cparams))
            return dialect.connect(*cargs, **cparams)
        except dbapi_error:
            raise
        except (TypeError, ValueError, AttributeError, LookupError) as exc:
            raise DBConfigurationError(
                f"The database driver rejected the options of {_shown(engine.url)!r}: {exc}"
            ) from None


#: The page cache of each SQLite connection, in KiB (SQLite's default: 2 MiB).
#: Measured on the 1M-image catalogue (a 5.1 GB file), a tenant's pages: tag
#: 8.7 -> 6.2 ms, a common property value 6.8 -> 4.8 ms, the first page 2.8
#: -> 2.1 ms with 16 MiB; 32 and 64 MiB gained nothing more.  Memory is taken
#: only as pages are read, up to this much per pooled connection.
SQLITE_CACHE_KIB = 16384


def _setup_sqlite(engine: Engine, *, read_only: bool, busy_ms: int) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, record: Any) -> None:
        # Let SQLAlchemy (below) decide when transactions begin: pysqlite's own
        # implicit BEGIN comes too late for SELECT-then-UPDATE sequences.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={busy_ms}")
        cursor.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
        if not read_only:
            (mode,) = cursor.execute("PRAGMA journal_mode").fetchone()
            if str(mode).lower() == "wal":
                # Durable at each checkpoint, not each commit: WAL's usual trade.
                cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()
        record.info[BUSY_TIMEOUT_INFO] = busy_ms

    def _begin(dbapi_connection: Any) -> None:
        info = dbapi_connection.info
        writer = info.pop(WRITER_INFO, False) or info.get(WRITER_CONNECTION_INFO, False)
        driver = dbapi_connection.dbapi_connection  # the sqlite3 connection
        if info.get(NO_BEGIN_INFO) or driver.in_transaction:
            # A read of one statement, or a read glancedb began itself
            # (begin_read) that a statement of SQLAlchemy's now joins.
            return
        driver.execute("BEGIN IMMEDIATE" if writer else "BEGIN")

    # The dialect's own hook, not a "begin" event: any connection event turns
    # on SQLAlchemy's event dispatch for every statement of the engine, which
    # cost a quarter of a small call's time.  SQLAlchemy still translates a
    # failure here (SQLITE_BUSY) into its own error.
    engine.dialect.do_begin = _begin  # type: ignore[method-assign]

    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_connection: Any, record: Any) -> None:
        if record is not None:
            forget_call_modes(record.info)


def forget_call_modes(info: dict[Any, Any]) -> None:
    """Clear what a call asked of its SQLite connection's next BEGIN
    (:func:`begin_as_writer`, :func:`run_without_begin`), from the
    connection's ``info``: the next call on it starts afresh."""
    info.pop(WRITER_INFO, None)
    info.pop(WRITER_CONNECTION_INFO, None)
    info.pop(NO_BEGIN_INFO, None)


def close_quietly(connection: Connection) -> None:
    """Close ``connection``; a failure (its session already gone) is only logged.

    Closing ends a read (or a failed call) with a ROLLBACK; a connection the
    server dropped has nothing left to end, and nothing a call returns
    depends on it.
    """
    try:
        connection.close()
    except SQLAlchemyError:
        LOG.debug("closing a connection failed", exc_info=True)


def begin_read(connection: Connection) -> None:
    """BEGIN a SQLite read transaction under SQLAlchemy's ``connection``.

    SQLAlchemy's own transaction (``connection.begin()`` and its rollback)
    costs a small read a fifth of its time; a read has nothing to commit, so
    its BEGIN goes to the driver through the dialect's hook (the same BEGIN
    as SQLAlchemy's would send), and the transaction ends in the ROLLBACK
    that gives the connection back.  A statement SQLAlchemy executes itself
    joins it.  A failure raises SQLAlchemy's error for it.
    """
    dialect = connection.dialect
    try:
        dialect.do_begin(connection.connection)
    except dialect.loaded_dbapi.Error as error:
        raise driver_error(connection, "BEGIN", (), error) from error


def run_without_begin(connection: Connection) -> None:
    """Let a SQLite read of one statement run without BEGIN.

    A single SELECT is its own snapshot; a transaction around it would only
    add BEGIN and ROLLBACK.  SQLAlchemy may still begin its transaction (a
    statement it executes itself), but no BEGIN reaches SQLite until the
    call's modes are forgotten (:func:`forget_call_modes`).  Nothing on
    other backends.
    """
    if connection.dialect.name == "sqlite":
        connection.connection.info[NO_BEGIN_INFO] = True


def begin_as_writer(connection: Connection, *, every_transaction: bool = False) -> None:
    """Make the transactions ``connection`` begins take SQLite's write lock first.

    ``BEGIN IMMEDIATE``: a transaction that reads and then writes cannot be
    refused the lock half-way (SQLite's deadlock between two readers that
    both want to write; in WAL mode, a read snapshot older than another
    writer's commit fails at once, whatever the busy timeout).  For the next
    transaction it begins, or with ``every_transaction`` for all of them
    (schema changes: one transaction per revision), until it goes back to
    the pool; nothing on other backends.
    """
    if connection.dialect.name == "sqlite":
        key = WRITER_CONNECTION_INFO if every_transaction else WRITER_INFO
        connection.connection.info[key] = True


def _connect_read_only(dialect: Any, cargs: list[Any], cparams: dict[str, Any]) -> Any:
    """Open a ``mode=ro`` SQLite URI, ``immutable`` when that is the only way in.

    A WAL database needs its ``-shm`` file: a user who may not create it next
    to the database (no write access to the directory) cannot read the file
    at all, unless SQLite is told the file cannot change (``immutable=1``).
    That is only true when no ``-wal`` file holds commits not yet written back
    to the database, so it is the fallback when there is none.
    """
    connection = dialect.connect(*cargs, **cparams)
    try:
        connection.execute("SELECT count(*) FROM sqlite_master").fetchall()
        return connection
    except dialect.loaded_dbapi.OperationalError as exc:
        connection.close()
        uri = str(cargs[0]) if cargs else str(cparams.get("database", ""))
        path = urllib.parse.unquote(uri[len("file:") :].partition("?")[0])
        if "readonly" not in str(exc) or os.path.exists(path + "-wal"):
            raise
        LOG.debug("%s: WAL database read-only without its -shm file: opened immutable", path)
        immutable = uri + ("&" if "?" in uri else "?") + "immutable=1"
        if cargs:
            cargs[0] = immutable
        else:
            cparams["database"] = immutable
        return dialect.connect(*cargs, **cparams)


def _setup_mysql(engine: Engine, *, causal_reads: bool) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, record: Any) -> None:
        cursor = dbapi_connection.cursor()
        settings = "sql_mode = 'TRADITIONAL', time_zone = '+00:00'"
        causal = False
        if causal_reads:
            # Absent on servers built without wsrep (MySQL): no row.
            cursor.execute("SHOW VARIABLES LIKE 'wsrep_on'")
            row = cursor.fetchone()
            causal = row is not None and str(row[1]).upper() == "ON"
            if causal:
                # Each read first waits until this node has applied every
                # write the cluster committed before it: read-your-writes
                # across nodes.
                settings += ", wsrep_sync_wait = 1"
        cursor.execute(f"SET SESSION {settings}")
        cursor.close()
        record.info[CAUSAL_INFO] = causal
