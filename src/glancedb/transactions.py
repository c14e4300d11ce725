"""Transactions and retries: the one mechanism every public call runs through.

:class:`DatabaseCore` owns the engines.  Each public API method runs in one
transaction opened by :meth:`DatabaseCore._writing` or
:meth:`DatabaseCore._reading` and is wrapped in :func:`retrying`, which re-runs
the whole call when the database reports a transient failure (deadlock,
serialization failure, dropped connection) before the commit.  Calls made
while a transaction of the same database is open join it, and only the
outermost call retries, so work spanning several calls
(:meth:`DatabaseCore.transaction`) is retried as a whole.
"""

from __future__ import annotations

import contextvars
import functools
import logging
import random
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from types import TracebackType
from typing import Any, ParamSpec, TypeVar

from sqlalchemy import URL, Connection, Engine
from sqlalchemy import exc as sa_exc

from glancedb.driver_errors import TransientError, translate_error, translated_errors
from glancedb.engines import create_glancedb_engine
from glancedb.exception import DBConnectionError, DBError, GlanceDBError

LOG = logging.getLogger("glancedb")

P = ParamSpec("P")
R = TypeVar("R")

#: Attempts of one call on transient errors, and the first back-off in seconds
#: (doubled each time, with jitter): about one second in all, at most.
RETRY_ATTEMPTS = 5
RETRY_FIRST_DELAY = 0.05


@dataclass(frozen=True)
class _OpenTransaction:
    connection: Connection
    write: bool


# The transactions open in this thread or task, by the id of the database
# that opened them: a call joins its own database's transaction, never
# another database's.
_open_transactions: contextvars.ContextVar[dict[int, _OpenTransaction] | None] = (
    contextvars.ContextVar("glancedb_open_transactions", default=None)
)
# Set while a retrying call runs: a transient failure then travels up to it
# as the internal marker; without one it leaves as its final error.
_retrier_active: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "glancedb_retrier_active", default=False
)


def retrying(function: Callable[P, R]) -> Callable[P, R]:
    """Re-run ``function`` on transient database failures.

    Only the outermost call retries (a call made inside an open transaction
    is part of the work being retried); the retries are bounded
    (:data:`RETRY_ATTEMPTS`, jittered exponential back-off) and logged.  A
    failure that is still transient after the last attempt is raised as its
    final class (:class:`~glancedb.exception.DBDeadlock` or
    :class:`~glancedb.exception.DBConnectionError`); the internal marker
    never leaves this wrapper.
    """

    @functools.wraps(function)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        if _open_transactions.get() or _retrier_active.get():
            return function(*args, **kwargs)
        token = _retrier_active.set(True)
        try:
            delay = RETRY_FIRST_DELAY
            for attempt in range(1, RETRY_ATTEMPTS + 1):
                try:
                    return function(*args, **kwargs)
                except TransientError as exc:
                    if attempt == RETRY_ATTEMPTS:
                        raise exc.final from exc.__cause__
                    LOG.warning(
                        "transient database error (attempt %d of %d), retrying: %s",
                        attempt,
                        RETRY_ATTEMPTS,
                        exc.msg,
                    )
                    time.sleep(delay * (0.5 + random.random()))
                    delay *= 2
            raise AssertionError("unreachable")  # pragma: no cover
        finally:
            _retrier_active.reset(token)

    return wrapper


class Transaction:
    """One transaction spanning several calls: a context manager and a decorator.

    Returned by :meth:`DatabaseCore.transaction`.  As a decorator, the
    function runs in one transaction and is retried as a whole on transient
    failures.  As a ``with`` block it cannot be re-run, so a transient failure
    is raised as its final error (:class:`~glancedb.exception.DBDeadlock` or
    :class:`~glancedb.exception.DBConnectionError`); the block's work is
    rolled back either way.
    """

    def __init__(self, database: DatabaseCore, *, write: bool) -> None:
        self._database = database
        self._write = write
        self._blocks: list[AbstractContextManager[Connection]] = []

    def __enter__(self) -> Connection:
        block = self._database._transaction(write=self._write)
        connection = block.__enter__()
        self._blocks.append(block)
        return connection

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> bool | None:
        return self._blocks.pop().__exit__(exc_type, exc, traceback)

    def __call__(self, function: Callable[P, R]) -> Callable[P, R]:
        database, write = self._database, self._write

        @retrying
        @functools.wraps(function)
        def in_transaction(*args: P.args, **kwargs: P.kwargs) -> R:
            with database._transaction(write=write):
                return function(*args, **kwargs)

        return in_transaction


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

    def transaction(self, *, write: bool = True) -> Transaction:
        """One transaction for work spanning several calls of this database.

        Every call made inside joins it, so the work commits or rolls back as
        a whole::

            @db.transaction()
            def create_tagged(values, tags):
                image = db.image_create(ctx, values)
                db.image_tag_set_all(ctx, image["id"], tags)
                return image

        As a decorator the function is retried as a whole on transient
        failures (deadlocks, serialization failures, a connection lost before
        the commit).  ``with db.transaction():`` works too, but a block cannot
        be re-run: a transient failure there is raised as
        :class:`~glancedb.exception.DBDeadlock` or
        :class:`~glancedb.exception.DBConnectionError`.

        :param write: False for read-only work, which runs on the read
            replica when there is one; a write call inside it is an error.
        """
        return Transaction(self, write=write)

    @contextmanager
    def _writing(self) -> Iterator[Connection]:
        """A read-write transaction, committed when the block ends normally."""
        with self._transaction(write=True) as conn:
            yield conn

    @contextmanager
    def _reading(self) -> Iterator[Connection]:
        """A read-only transaction, on the read replica when one is set."""
        with self._transaction(write=False) as conn:
            yield conn

    @contextmanager
    def _transaction(self, *, write: bool) -> Iterator[Connection]:
        open_transactions = _open_transactions.get() or {}
        outer = open_transactions.get(id(self))
        if outer is not None:
            if write and not outer.write:
                raise DBError(
                    "A write cannot run inside a read-only transaction "
                    "(open it with transaction(write=True))"
                )
            # A nested call joins the caller's transaction.
            yield outer.connection
            return
        engine = self.engine if write else self.read_engine
        try:
            connection = engine.connect()
        except sa_exc.SQLAlchemyError as exc:
            raise _leaving(translate_error(exc)) from exc
        token = _open_transactions.set(
            {**open_transactions, id(self): _OpenTransaction(connection, write)}
        )
        try:
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
                    if isinstance(error, TransientError) and isinstance(
                        error.final, DBConnectionError
                    ):
                        # The commit may or may not have happened: never retry it.
                        raise error.final from exc
                    raise error from exc
            finally:
                _open_transactions.reset(token)
                connection.close()
        except TransientError as exc:
            raise _leaving(exc) from exc.__cause__


def _leaving(error: GlanceDBError) -> GlanceDBError:
    """``error`` as it leaves the outermost transaction.

    A transient failure stays the internal marker only when a retrying call
    above will consume it; otherwise the caller gets its final error.
    """
    if isinstance(error, TransientError) and not _retrier_active.get():
        return error.final
    return error
