"""SQLite: each thread keeps its connection between calls.

Checking a connection out of SQLAlchemy's pool and back in, with the
``Connection`` object around it, costs about as much as a small read does on
SQLite (measured: 34 us of a 155 us ``image_member_find``, where the SELECT
itself takes 18 us).  A SQLite connection is a file handle in this process,
cheap to keep and holding no lock while idle, so each thread that calls a
:class:`~glancedb.Database` on a SQLite file keeps one ``Connection`` open
and runs its calls' transactions on it, one after another.

Only where keeping cannot starve anyone: a pool without a limit (glancedb's
default for SQLite files; a pool the caller sized, or no pool, is used as it
is).  A call that finds its thread's connection busy (a second call in the
same thread that did not join the first one's transaction, e.g. from
another asyncio task) takes one from the pool as usual.  A kept connection
goes back to no transaction when its call ends; one whose session was lost,
or that cannot be brought back, is closed; one whose thread ends is closed
with it; :meth:`ThreadConnections.close_all` (``Database.dispose``)
closes the idle ones and makes the busy ones close when their call ends.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import weakref
from typing import Any

from sqlalchemy import Connection, Engine
from sqlalchemy import exc as sa_exc
from sqlalchemy.pool import QueuePool

from glancedb.engines import close_quietly, forget_call_modes

LOG = logging.getLogger("glancedb")


class _Kept:
    """One thread's connection, and whether a call of that thread is using it."""

    __slots__ = ("__weakref__", "busy", "connection", "generation")

    def __init__(self, connection: Connection, generation: int) -> None:
        self.connection = connection
        self.generation = generation
        self.busy = False

    def __del__(self) -> None:
        # The thread ended (its thread-local storage went) or the database
        # was dropped: the connection goes back to the pool, not to the
        # garbage collector's warning.
        if not self.connection.closed:
            close_quietly(self.connection)


class ThreadConnections:
    """The connection each thread keeps to one SQLite engine."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._local = threading.local()
        self._lock = threading.Lock()
        self._generation = 0
        self._all: weakref.WeakSet[_Kept] = weakref.WeakSet()

    @staticmethod
    def suits(engine: Engine) -> bool:
        """Whether ``engine``'s connections may be kept by threads: SQLite with
        a pool that cannot run out (a thread that keeps one never makes
        another wait)."""
        pool: Any = engine.pool
        return (
            engine.dialect.name == "sqlite"
            and isinstance(pool, QueuePool)
            and pool._max_overflow < 0
        )

    def take(self) -> Connection:
        """This thread's connection (opened the first time), else one from the pool."""
        kept: _Kept | None = getattr(self._local, "kept", None)
        with self._lock:
            if kept is not None and not kept.busy:
                if kept.generation == self._generation and not kept.connection.closed:
                    kept.busy = True
                    return kept.connection
                self._local.kept = None
                self._all.discard(kept)
                close_quietly(kept.connection)
                kept = None
            generation = self._generation
        connection = self._engine.connect()
        if kept is not None:
            return connection  # this thread's own is busy: a pooled one for this call
        kept = _Kept(connection, generation)
        kept.busy = True
        self._local.kept = kept
        with self._lock:
            self._all.add(kept)
        return connection

    def give_back(self, connection: Connection) -> bool:
        """The call on ``connection`` ended: False when it is not a kept one.

        A kept connection's transaction is rolled back (a read's ends here,
        as it would in the pool) and the thread keeps it, unless it cannot be
        brought back to no transaction or was disposed of meanwhile: then
        it is closed.
        """
        kept: _Kept | None = getattr(self._local, "kept", None)
        if kept is None or kept.connection is not connection:
            return False
        reusable = _idle(connection)
        with self._lock:
            kept.busy = False
            if reusable and kept.generation == self._generation:
                return True
            self._local.kept = None
            self._all.discard(kept)
        close_quietly(kept.connection)
        return True

    def close_all(self) -> None:
        """Close every idle kept connection; busy ones close when their call ends."""
        with self._lock:
            self._generation += 1
            idle = [kept for kept in self._all if not kept.busy]
            for kept in idle:
                self._all.discard(kept)
        for kept in idle:
            close_quietly(kept.connection)


def _idle(connection: Connection) -> bool:
    """Bring ``connection`` back to no transaction and no pending mode; False if it can't be."""
    if connection.closed or connection.invalidated:
        return False
    try:
        if connection.in_transaction():
            connection.rollback()
        pooled = connection.connection
        forget_call_modes(pooled.info)
        driver: Any = pooled.dbapi_connection
        if driver.in_transaction:  # a read glancedb began itself (engines.begin_read)
            connection.dialect.do_rollback(driver)
    except (sa_exc.SQLAlchemyError, sqlite3.Error):
        LOG.debug("a kept SQLite connection could not end its transaction", exc_info=True)
        return False
    return True
