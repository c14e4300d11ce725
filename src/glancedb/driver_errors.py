"""Driver errors as glancedb errors: the one translation every call goes through.

:func:`translate_error` maps a SQLAlchemy/DBAPI exception to the
:mod:`glancedb.exception` hierarchy.  Failures worth another attempt of the
whole call come back wrapped in :class:`TransientError`, an internal marker
that :mod:`glancedb.transactions` consumes: callers only ever see its
``final`` error.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import exc as sa_exc

from glancedb.exception import (
    DBConnectionError,
    DBDeadlock,
    DBError,
    Duplicate,
    GlanceDBError,
    Invalid,
)

_PG_DEADLOCK_CODES = {"40001", "40P01"}
_PG_UNIQUE = "23505"
_PG_FOREIGN_KEY = "23503"
_MYSQL_DEADLOCK_CODES = {1205, 1213, 1020}
_MYSQL_DUPLICATE = 1062
_MYSQL_FOREIGN_KEY = {1451, 1452}
_MYSQL_DISCONNECT = {2006, 2013, 2003, 2014, 2045, 2055, 4031}
# A Galera node that is not (yet) synced with the cluster refuses statements
# ("WSREP has not yet prepared node for application use") while it joins.
_GALERA_NOT_READY = 1047


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
    if code == _GALERA_NOT_READY:
        return TransientError(DBConnectionError(f"Database node not ready: {text}"))
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
    # libpq, when the server ends the session while psycopg still has an
    # executemany's pipeline in flight: the session is gone with it.
    "cannot exit pipeline mode",
)


@contextmanager
def translated_errors() -> Iterator[None]:
    """Re-raise SQLAlchemy errors raised in the block as glancedb errors."""
    try:
        yield
    except sa_exc.SQLAlchemyError as exc:
        raise translate_error(exc) from exc


@contextmanager
def duplicate_as(error: type[Duplicate], message: str) -> Iterator[None]:
    """Turn a unique-key violation raised in the block into ``error(message)``.

    Look-ups before an insert catch most duplicates; this covers the
    concurrent writer that inserted the same key in between, and keys that
    only the database can compare (MySQL's case-insensitive collation).
    """
    try:
        yield
    except sa_exc.IntegrityError as exc:
        translated = translate_error(exc)
        if isinstance(translated, Duplicate):
            raise error(message) from exc
        raise translated from exc
