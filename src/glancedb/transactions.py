"""Transactions, retries and driver-error translation.

:class:`DatabaseCore` owns the engines.  Each public API method runs in one
transaction opened by :meth:`DatabaseCore.writing` or
:meth:`DatabaseCore.reading` and is wrapped in :func:`retrying`, which re-runs
the whole call when the database reports a transient failure (deadlock,
serialization failure, dropped connection) before the commit.
"""

from __future__ import annotations

import contextvars
import functools
import logging
import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, ParamSpec, TypeVar

from sqlalchemy import URL, Connection, Engine
from sqlalchemy import exc as sa_exc

from glancedb.engines import create_glancedb_engine
from glancedb.exception import (
    DBConnectionError,
    DBDeadlock,
    DBError,
    Duplicate,
    GlanceDBError,
    Invalid,
)

LOG = logging.getLogger("glancedb")

P = ParamSpec("P")
R = TypeVar("R")

#: Attempts of one call on transient errors, and the first back-off in seconds
#: (doubled each time, with jitter): about one second in all, at most.
RETRY_ATTEMPTS = 5
RETRY_FIRST_DELAY = 0.05

# Set while a public call runs, so that nested calls neither retry on their
# own nor open a second transaction.
_current_connection: contextvars.ContextVar[Connection | None] = contextvars.ContextVar(
    "glancedb_connection", default=None
)

_PG_DEADLOCK_CODES = {"40001", "40P01"}
_PG_UNIQUE = "23505"
_PG_FOREIGN_KEY = "23503"
_MYSQL_DEADLOCK_CODES = {1205, 1213, 1020}
_MYSQL_DUPLICATE = 1062
_MYSQL_FOREIGN_KEY = {1451, 1452}
_MYSQL_DISCONNECT = {2006, 2013, 2003, 2014, 2045, 2055, 4031}


class TransientError(DBError):
    """Internal marker: a failure worth retrying the whole call for."""

    def __init__(self, final: DBError) -> None:
        super().__init__(final.msg)
        self.final = final


def _error_code(orig: Any) -> Any:
    """MySQL's numeric error code when there is one, else the SQLSTATE."""
    args = getattr(orig, "args", None)
    if args and isinstance(args[0], int):
        return args[0]
    return getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)


def translate_error(error: sa_exc.SQLAlchemyError) -> GlanceDBError:
    """Map a SQLAlchemy/DBAPI error to glancedb's exception hierarchy.

    Transient failures come back wrapped in :class:`TransientError`.
    """
    orig = getattr(error, "orig", None)
    code = _error_code(orig)
    text = str(orig if orig is not None else error).strip()
    lowered = text.lower()
    if isinstance(error, sa_exc.DBAPIError) and error.connection_invalidated:
        return TransientError(DBConnectionError(f"Lost the database connection: {text}"))
    if code in _PG_DEADLOCK_CODES or code in _MYSQL_DEADLOCK_CODES:
        return TransientError(DBDeadlock(f"Deadlock or serialization failure: {text}"))
    if "database is locked" in lowered or "deadlock" in lowered:
        return TransientError(DBDeadlock(f"Deadlock or lock timeout: {text}"))
    if isinstance(error, sa_exc.IntegrityError):
        if code in (_PG_UNIQUE, _MYSQL_DUPLICATE) or "unique constraint" in lowered:
            return Duplicate(f"Duplicate entry: {text}")
        if code == _PG_FOREIGN_KEY or code in _MYSQL_FOREIGN_KEY or "foreign key" in lowered:
            return Invalid(f"Referenced record does not exist or is still referenced: {text}")
        return Invalid(f"Constraint violated: {text}")
    if isinstance(error, sa_exc.DataError):
        return Invalid(f"Invalid value for the database: {text}")
    if code in _MYSQL_DISCONNECT or isinstance(error, sa_exc.InterfaceError):
        return TransientError(DBConnectionError(f"Database connection failed: {text}"))
    if isinstance(error, sa_exc.OperationalError):
        if any(marker in lowered for marker in _PERMANENT_CONNECTION_FAILURES):
            return DBConnectionError(f"Cannot use the database: {text}")
        if any(marker in lowered for marker in _TRANSIENT_CONNECTION_FAILURES):
            return TransientError(DBConnectionError(f"Database connection failed: {text}"))
    return DBError(f"Database error: {text}")


# Failures that another attempt will not mend.
_PERMANENT_CONNECTION_FAILURES = (
    "does not exist",
    "unknown database",
    "access denied",
    "password authentication failed",
    "unable to open database",
    "name or service not known",
)
_TRANSIENT_CONNECTION_FAILURES = (
    "connection refused",
    "could not connect",
    "can't connect",
    "connection failed",
    "server closed the connection",
    "lost connection",
    "gone away",
    "timeout expired",
    "connection timed out",
    "terminating connection",
)


@contextmanager
def translated_errors() -> Iterator[None]:
    """Re-raise SQLAlchemy errors raised in the block as glancedb errors."""
    try:
        yield
    except sa_exc.SQLAlchemyError as exc:
        raise translate_error(exc) from exc


def retrying(method: Callable[P, R]) -> Callable[P, R]:
    """Re-run a public call on transient database failures.

    Only the outermost call retries; the retries are bounded
    (:data:`RETRY_ATTEMPTS`, jittered exponential back-off) and logged.  A
    failure that is still transient after the last attempt is raised as its
    final class (:class:`DBDeadlock` or :class:`DBConnectionError`).
    """

    @functools.wraps(method)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        if _current_connection.get() is not None:
            return method(*args, **kwargs)
        delay = RETRY_FIRST_DELAY
        for attempt in range(1, RETRY_ATTEMPTS + 1):
            try:
                return method(*args, **kwargs)
            except TransientError as exc:
                if attempt == RETRY_ATTEMPTS:
                    raise exc.final from exc.__cause__
                LOG.warning(
                    "%s: transient database error (attempt %d of %d), retrying: %s",
                    method.__name__,
                    attempt,
                    RETRY_ATTEMPTS,
                    exc.msg,
                )
                time.sleep(delay * (0.5 + random.random()))
                delay *= 2
        raise AssertionError("unreachable")  # pragma: no cover

    return wrapper


class DatabaseCore:
    """Owns the engines and hands out one transaction per public call."""

    def __init__(
        self,
        url: str | URL,
        *,
        read_url: str | URL | None = None,
        **engine_options: Any,
    ) -> None:
        self.engine: Engine = create_glancedb_engine(url, **engine_options)
        self.read_engine: Engine = (
            create_glancedb_engine(read_url, **engine_options)
            if read_url is not None
            else self.engine
        )

    @property
    def backend(self) -> str:
        """The backend's name: ``sqlite``, ``postgresql``, ``mysql`` or ``mariadb``."""
        return self.engine.dialect.name

    @property
    def url(self) -> URL:
        """The URL of the read-write engine."""
        return self.engine.url

    def dispose(self) -> None:
        """Close every pooled connection of the engines."""
        self.engine.dispose()
        if self.read_engine is not self.engine:
            self.read_engine.dispose()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.engine.url.render_as_string(hide_password=True)!r})"

    @contextmanager
    def writing(self) -> Iterator[Connection]:
        """A read-write transaction, committed when the block ends normally."""
        with self._transaction(self.engine, write=True) as conn:
            yield conn

    @contextmanager
    def reading(self) -> Iterator[Connection]:
        """A read-only transaction, on the read replica when one is set."""
        with self._transaction(self.read_engine, write=False) as conn:
            yield conn

    @contextmanager
    def _transaction(self, engine: Engine, *, write: bool) -> Iterator[Connection]:
        outer = _current_connection.get()
        if outer is not None:
            # A nested call joins the caller's transaction.
            yield outer
            return
        try:
            connection = engine.connect()
        except sa_exc.SQLAlchemyError as exc:
            raise translate_error(exc) from exc
        token = _current_connection.set(connection)
        try:
            if write:
                connection = connection.execution_options(glancedb_write=True)
            with translated_errors():
                transaction = connection.begin()
            try:
                with translated_errors():
                    yield connection
            except BaseException:
                if transaction.is_active:
                    try:
                        transaction.rollback()
                    except sa_exc.SQLAlchemyError:
                        LOG.debug("rollback failed", exc_info=True)
                raise
            try:
                transaction.commit()
            except sa_exc.SQLAlchemyError as exc:
                error = translate_error(exc)
                if isinstance(error, TransientError) and isinstance(error.final, DBConnectionError):
                    # The commit may or may not have happened: never retry it.
                    raise error.final from exc
                raise error from exc
        finally:
            _current_connection.reset(token)
            connection.close()
