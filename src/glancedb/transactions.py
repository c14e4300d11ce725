"""Transactions and retries: the one mechanism every public call runs through.

:class:`DatabaseCore` owns the engines.  Each public API method runs in one
transaction opened by :meth:`DatabaseCore._writing` or
:meth:`DatabaseCore._reading` and is wrapped in :func:`retrying`, which re-runs
the whole call when the database reports a transient failure (deadlock,
serialization failure, Galera certification failure, dropped connection),
within one budget of attempts and time.  Calls made while a transaction of the
same database is open join it, and only the outermost call retries, so work
spanning several calls (:meth:`DatabaseCore.transaction`) is retried as a
whole.

Consistency (SPEC 13): a read transaction sees one snapshot (PostgreSQL:
REPEATABLE READ, READ ONLY; InnoDB's REPEATABLE READ and SQLite's
transactions give it as they are).  With a read replica, a read first waits,
bounded, for the replica to apply this database's own last write
(:mod:`glancedb.commits`), else reads from the primary.  A COMMIT whose
connection is lost is retried for a read, resolved on PostgreSQL for a write
(by its transaction id), and reported as
:class:`~glancedb.exception.DBCommitUnknown` elsewhere.
"""

from __future__ import annotations

import contextvars
import functools
import logging
import random
import threading
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from types import TracebackType
from typing import Any, ParamSpec, TypeVar

from sqlalchemy import URL, Connection, Engine, RootTransaction
from sqlalchemy import exc as sa_exc

from glancedb import commits
from glancedb.driver_errors import TransientError, translate_error
from glancedb.engines import (
    BUSY_TIMEOUT_INFO,
    CAUSAL_INFO,
    begin_as_writer,
    begin_read,
    close_quietly,
    create_glancedb_engine,
    run_without_begin,
)
from glancedb.exception import (
    DBCommitUnknown,
    DBConnectionError,
    DBDeadlock,
    DBError,
    GlanceDBError,
    Invalid,
)
from glancedb.thread_connections import ThreadConnections

LOG = logging.getLogger("glancedb")

P = ParamSpec("P")
R = TypeVar("R")

#: Attempts of one call on transient failures, and the first back-off in
#: seconds (doubled each time, with jitter).
RETRY_ATTEMPTS = 5
RETRY_FIRST_DELAY = 0.05
#: Seconds one outermost call may spend in all, retries, back-offs and
#: SQLite's busy waiting included, before its transient failure is final.
RETRY_BUDGET = 1.5
#: Default seconds a read waits for the replica to apply this database's last
#: write before it reads from the primary instead.
REPLICA_WAIT = 0.5

# A SQLite busy timeout within this many milliseconds of the one wanted is
# left as it is (so that an attempt with the whole budget costs no PRAGMA).
_BUSY_SLACK_MS = 100


class _OpenTransaction:
    """A call's open transaction (a plain class: one is made per public call)."""

    __slots__ = ("connection", "failure", "write", "xid")

    def __init__(self, connection: Connection, write: bool) -> None:
        self.connection = connection
        self.write = write
        # A transient failure raised inside: the transaction never commits.
        self.failure: TransientError | None = None
        # PostgreSQL: the transaction id, when a write returned it with its rows.
        self.xid: str | None = None


class _Attempt:
    """One attempt of a retrying call (a plain class: one is made per public call)."""

    __slots__ = ("deadline", "failure")

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline
        # A transient failure of a call made inside this attempt.
        self.failure: TransientError | None = None


# The transactions open in this thread or task, by the id of the database
# that opened them: a call joins its own database's transaction, never
# another database's.
_open_transactions: contextvars.ContextVar[dict[int, _OpenTransaction] | None] = (
    contextvars.ContextVar("glancedb_open_transactions", default=None)
)
# The attempt of the retrying call running in this thread or task.
_attempt: contextvars.ContextVar[_Attempt | None] = contextvars.ContextVar(
    "glancedb_attempt", default=None
)


def retrying(function: Callable[P, R]) -> Callable[P, R]:
    """Re-run ``function`` on transient database failures.

    Only the outermost call retries: a call made inside an open transaction
    or inside another retrying call is part of the work being retried, and
    its own caller gets the failure as its final class
    (:class:`~glancedb.exception.DBDeadlock`,
    :class:`~glancedb.exception.DBConnectionError`) while the work around it
    is marked for another attempt.  The retries are bounded by
    :data:`RETRY_ATTEMPTS` and by :data:`RETRY_BUDGET` seconds (jittered
    exponential back-off) and logged.  A failure still transient at the end
    is raised as its final class; the internal marker never leaves.
    """

    @functools.wraps(function)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        outer = _attempt.get()
        if outer is not None or _open_transactions.get():
            try:
                return function(*args, **kwargs)
            except TransientError as exc:
                if outer is not None and outer.failure is None:
                    outer.failure = exc
                raise exc.final from exc.__cause__
            except RecursionError:
                raise nested_too_deeply() from None
        deadline = time.monotonic() + RETRY_BUDGET
        delay = RETRY_FIRST_DELAY
        for number in range(1, RETRY_ATTEMPTS + 1):
            attempt = _Attempt(deadline)
            token = _attempt.set(attempt)
            try:
                return function(*args, **kwargs)
            except TransientError as exc:
                failure = exc
            except RecursionError:
                raise nested_too_deeply() from None
            except Exception:
                if attempt.failure is None:
                    raise
                # A call inside failed transiently and the work around it
                # stopped: the attempt as a whole is worth another go.
                failure = attempt.failure
            finally:
                _attempt.reset(token)
            pause = delay * (0.5 + random.random())
            if number == RETRY_ATTEMPTS or time.monotonic() + pause >= deadline:
                raise failure.final from failure.__cause__
            LOG.warning(
                "transient database error (attempt %d of %d), retrying: %s",
                number,
                RETRY_ATTEMPTS,
                failure.msg,
            )
            time.sleep(pause)
            delay *= 2
        raise AssertionError("unreachable")  # pragma: no cover

    return wrapper


def nested_too_deeply() -> Invalid:
    """The error for a value nested deeper than Python's recursion limit (a
    list in a list in a list...): walking, encoding or even showing such a
    value in a message raises ``RecursionError``, which a public call turns
    into this (a transaction it interrupted has already rolled back)."""
    return Invalid("A value given is nested too deeply to be handled")


def _deadline() -> float:
    """When the running call's retry budget ends."""
    attempt = _attempt.get()
    return attempt.deadline if attempt is not None else time.monotonic() + RETRY_BUDGET


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


class _CallTransaction:
    """The transaction of one call: BEGIN, the caller's block, then COMMIT or ROLLBACK.

    A call made while its database has a transaction open in this thread or
    task joins that transaction instead, and a transient failure in it dooms
    the transaction.  The block's SQLAlchemy errors leave translated; a
    transient failure leaves as the internal marker only when a retrying
    call above will consume it.  A plain class, not a generator-based
    context manager: every public call enters one, and contextlib's
    machinery cost a small call a tenth of its time.
    """

    __slots__ = (
        "_database",
        "_deadline",
        "_joined",
        "_one_statement",
        "_state",
        "_token",
        "_transaction",
        "_turn",
        "_write",
    )

    _transaction: RootTransaction | None

    def __init__(self, database: DatabaseCore, write: bool, one_statement: bool) -> None:
        self._database = database
        self._write = write
        self._one_statement = one_statement
        self._joined: _OpenTransaction | None = None

    def __enter__(self) -> Connection:
        database, write = self._database, self._write
        open_transactions = _open_transactions.get() or {}
        outer = open_transactions.get(id(database))
        if outer is not None:
            if write and not outer.write:
                raise DBError(
                    "A write cannot run inside a read-only transaction "
                    "(open it with transaction(write=True))"
                )
            self._joined = outer
            return outer.connection
        self._deadline = deadline = _deadline()
        try:
            turn = database._take_write_turn(deadline) if write else None
            try:
                connection = database._connect(
                    write=write, deadline=deadline, one_statement=self._one_statement
                )
                try:
                    if write or connection.dialect.name != "sqlite":
                        self._transaction = connection.begin()
                    else:
                        # SQLite reads: the driver's BEGIN, or none for one statement.
                        self._transaction = None
                        if not self._one_statement:
                            begin_read(connection)
                except sa_exc.SQLAlchemyError as exc:
                    error = translate_error(exc)
                    if isinstance(error, TransientError):
                        _give_up(connection, error)
                    database._release(connection)
                    raise error from exc
                except BaseException:
                    database._release(connection)
                    raise
            except BaseException:
                if turn is not None:
                    turn.release()
                raise
        except TransientError as exc:
            raise _leaving(exc) from exc.__cause__
        self._turn = turn
        self._state = state = _OpenTransaction(connection, write)
        self._token = _open_transactions.set({**open_transactions, id(database): state})
        return connection

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._joined is not None:
            self._leave_joined(self._joined, exc)
            return
        connection = self._state.connection
        try:
            self._end(exc)
        except TransientError as failure:
            _give_up(connection, failure)
            raise _leaving(failure) from failure.__cause__
        finally:
            _open_transactions.reset(self._token)
            self._database._release(connection)
            if self._turn is not None:
                self._turn.release()

    @staticmethod
    def _leave_joined(outer: _OpenTransaction, exc: BaseException | None) -> None:
        """A joined call ends: its failure, translated, goes on to the code around it."""
        if exc is None:
            return
        error = translate_error(exc) if isinstance(exc, sa_exc.SQLAlchemyError) else exc
        if isinstance(error, TransientError) and outer.failure is None:
            outer.failure = error
        if error is not exc:
            raise error from exc

    def _transaction_id(self, state: _OpenTransaction) -> str | None:
        """PostgreSQL: the write transaction's id, for resolving a lost COMMIT."""
        connection = state.connection
        if connection.dialect.name != "postgresql" or state.xid is not None:
            return state.xid
        try:
            return commits.transaction_id(connection)
        except sa_exc.SQLAlchemyError as exc:
            _rollback(self._transaction)
            raise translate_error(exc) from exc
        except BaseException:
            _rollback(self._transaction)
            raise

    def _end(self, exc: BaseException | None) -> None:
        """COMMIT a write whose block ended normally; else ROLLBACK and raise the failure.

        A read that ended normally is left open: it ends in the ROLLBACK of
        closing its connection (or of giving it back to its thread, SQLite),
        as committing it first would leave the pool a reset of its own to
        send (a round trip on MySQL), for the same end - a read has nothing
        to commit.
        """
        state, transaction = self._state, self._transaction
        connection = state.connection
        if exc is None:
            if state.failure is not None:
                _rollback(transaction)
                raise state.failure
            if state.write:
                assert transaction is not None  # a write always begins one
                xid = self._transaction_id(state)
                self._database._commit(connection, transaction, xid=xid, deadline=self._deadline)
            return
        _rollback(transaction)
        if not isinstance(exc, Exception):
            raise exc
        error = translate_error(exc) if isinstance(exc, sa_exc.SQLAlchemyError) else exc
        if state.failure is not None and error is not state.failure:
            # The code around a failed call went on: the whole transaction
            # failed with it.
            raise state.failure from error
        if error is not exc:
            raise error from exc
        raise exc


class DatabaseCore:
    """Owns the engines and hands out one transaction per public call."""

    def __init__(
        self,
        url: str | URL,
        *,
        read_url: str | URL | None = None,
        causal_reads: bool = True,
        replica_wait: float = REPLICA_WAIT,
        **engine_options: Any,
    ) -> None:
        options = {"causal_reads": causal_reads, "busy_timeout": RETRY_BUDGET, **engine_options}
        self.engine: Engine = create_glancedb_engine(url, **options)
        self.read_engine: Engine = (
            create_glancedb_engine(read_url, **options) if read_url is not None else self.engine
        )
        #: Seconds a read waits for the replica to apply this database's last write.
        self.replica_wait = replica_wait
        # Where this database's own last write committed (with a replica only).
        self._written = commits.WritePosition()
        # True once a replica connection showed that reads there are causal
        # (Galera): no positions to track then.
        self._replica_causal = False
        # True after the replica missed a wait: the next reads look once and
        # go to the primary at once if it is still behind.
        self._replica_lagging = False
        # SQLite writers of this database queue here (see _write_turn).
        self._sqlite_writers = threading.Lock()
        # SQLite files: the connection each calling thread keeps.
        self._kept = (
            ThreadConnections(self.engine) if ThreadConnections.suits(self.engine) else None
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
        """Close every pooled connection of the engines (and those threads keep)."""
        if self._kept is not None:
            self._kept.close_all()
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
        :class:`~glancedb.exception.DBConnectionError`.  A call inside that
        fails transiently raises that final error to the code around it, and
        the transaction then never commits.

        :param write: False for read-only work, which sees one snapshot and
            runs on the read replica when there is one; a write call inside
            it is an error.
        """
        return Transaction(self, write=write)

    def _writing(self) -> AbstractContextManager[Connection]:
        """A read-write transaction, committed when the block ends normally."""
        return self._transaction(write=True)

    def _reading(self, *, one_statement: bool = False) -> AbstractContextManager[Connection]:
        """A read-only transaction on one snapshot, on the read replica when one is set.

        ``one_statement``: the block sends a single statement, which is a
        snapshot by itself; on PostgreSQL it then runs without a transaction
        (autocommit), saving the round trips of BEGIN and COMMIT.
        """
        return self._transaction(write=False, one_statement=one_statement)

    def _transaction(
        self, *, write: bool, one_statement: bool = False
    ) -> AbstractContextManager[Connection]:
        return _CallTransaction(self, write, one_statement)

    # --- connections ------------------------------------------------------------------

    def _keep_transaction_id(self, returned: Sequence[Any]) -> list[Any]:
        """A row a write returned with the transaction id as its last column
        (:func:`glancedb.commits.transaction_id_column`), without it; the id
        is kept for the open transaction's COMMIT."""
        *row, xid = returned
        state = (_open_transactions.get() or {}).get(id(self))
        if state is not None:
            state.xid = xid
        return row

    def _take_write_turn(self, deadline: float) -> threading.Lock | None:
        """On SQLite, this database's writers take turns (within the budget).

        SQLite admits one writer at a time and its busy handler only polls,
        ever more slowly, so a writer can starve behind a busy neighbour;
        queueing on a lock hands the turn over on release instead.  Returns
        the lock to release, None when there is no turn to take.
        """
        if self.engine.dialect.name != "sqlite":
            return None
        if not self._sqlite_writers.acquire(timeout=max(deadline - time.monotonic(), 0.0)):
            raise TransientError(
                DBDeadlock("Timed out waiting for this database's other SQLite writers")
            )
        return self._sqlite_writers

    def _connect(self, *, write: bool, deadline: float, one_statement: bool = False) -> Connection:
        """A connection for one transaction, set up for it.

        Writes go to the primary.  Reads go to the replica when there is one
        and it has applied this database's last write (waiting for it up to
        :attr:`replica_wait`), else to the primary; on PostgreSQL they run at
        REPEATABLE READ, READ ONLY, or in autocommit for ``one_statement``.
        """
        if write or self.read_engine is self.engine:
            connection = self._primary_connection()
        else:
            connection = self._replica_connection()
        backend = connection.dialect.name
        if write:
            begin_as_writer(connection)
        elif one_statement and backend == "sqlite":
            run_without_begin(connection)
        elif backend == "postgresql" and one_statement:
            connection.execution_options(isolation_level="AUTOCOMMIT")
        elif backend == "postgresql":
            # One snapshot for every statement of the call; psycopg sends the
            # mode with its BEGIN, so it costs no round trip.
            connection.execution_options(
                isolation_level="REPEATABLE READ", postgresql_readonly=True
            )
        if backend == "sqlite":
            _budget_busy_timeout(connection, deadline)
        return connection

    def _primary_connection(self) -> Connection:
        """A connection to the primary: on a SQLite file, the one this thread keeps."""
        if self._kept is None:
            return _connect(self.engine)
        try:
            return self._kept.take()
        except sa_exc.SQLAlchemyError as exc:
            raise translate_error(exc) from exc

    def _release(self, connection: Connection) -> None:
        """A call is done with ``connection``: its thread keeps it, or it is closed."""
        if self._kept is None or not self._kept.give_back(connection):
            close_quietly(connection)

    def _replica_connection(self) -> Connection:
        """A replica connection that has this database's last write, else a primary one."""
        try:
            connection = _connect(self.read_engine)
        except TransientError as exc:
            LOG.warning("read replica unreachable, reading from the primary: %s", exc.msg)
            return _connect(self.engine)
        if connection.connection.info.get(CAUSAL_INFO):
            self._replica_causal = True
            return connection
        target = self._written.position
        if target is None:
            return connection
        if target is commits.UNKNOWN:
            connection.close()
            return _connect(self.engine)
        wait = 0.0 if self._replica_lagging else self.replica_wait
        try:
            reached = commits.replica_reached(connection, target, wait)
        except sa_exc.SQLAlchemyError as exc:
            connection.close()
            error = translate_error(exc)
            if isinstance(error, TransientError):
                raise error from exc
            # A server that cannot tell its position: read where the write is.
            LOG.warning(
                "cannot tell the read replica's position, reading from the primary: %s", error.msg
            )
            return _connect(self.engine)
        except BaseException:
            connection.close()
            raise
        if reached:
            self._replica_lagging = False
            return connection
        if not self._replica_lagging:
            LOG.info(
                "read replica has not applied %s after %.2f s: reading from the primary",
                target,
                wait,
            )
        self._replica_lagging = True
        connection.close()
        return _connect(self.engine)

    # --- commit -----------------------------------------------------------------------

    def _commit(
        self,
        connection: Connection,
        transaction: RootTransaction,
        *,
        xid: str | None,
        deadline: float,
    ) -> None:
        """A write's COMMIT, resolving a lost connection; then note its position."""
        ticket = self._written.ticket()
        try:
            transaction.commit()
        except sa_exc.SQLAlchemyError as exc:
            error = translate_error(exc)
            lost = isinstance(error, TransientError) and isinstance(error.final, DBConnectionError)
            if not lost:
                # A failure that rolled back (deadlock, certification
                # failure): another attempt is safe.
                raise error from exc
            outcome = self._commit_outcome(connection, xid, deadline)
            if outcome == "aborted":
                LOG.info("connection lost during COMMIT, which had not committed: %s", error.msg)
                raise error from exc
            if outcome != "committed":
                raise DBCommitUnknown(
                    f"The connection was lost during COMMIT; the write may have committed: "
                    f"{error.msg}"
                ) from exc
            LOG.warning("connection lost during COMMIT, which had committed: %s", error.msg)
            self._note_write(None, ticket)
            return
        self._note_write(connection, ticket)

    def _commit_outcome(self, connection: Connection, xid: str | None, deadline: float) -> str:
        """``committed``, ``aborted`` or ``unknown``: what became of a lost COMMIT.

        Only PostgreSQL can tell, by the transaction id taken before COMMIT
        (none: the transaction wrote nothing, as good as aborted), asked on a
        new connection until the budget ends.
        """
        if connection.dialect.name != "postgresql":
            return "unknown"
        if xid is None:
            return "aborted"
        pause = 0.01
        while True:
            status: str | None = "unreachable"
            try:
                with self.engine.connect() as probe:
                    status = commits.transaction_status(probe, xid)
                    probe.commit()
            except sa_exc.SQLAlchemyError:
                LOG.debug("asking the status of transaction %s failed", xid, exc_info=True)
            if status in ("committed", "aborted"):
                return status
            if status is None or time.monotonic() + pause >= deadline:
                # Too old to tell, or still in progress / unreachable at the end.
                return "unknown"
            time.sleep(pause)
            pause = min(pause * 2, 0.2)

    def _note_write(self, connection: Connection | None, ticket: int) -> None:
        """Remember where a write committed, when a replica needs to know.

        ``connection`` is the one that committed (None: another one is asked);
        ``ticket`` was taken before its COMMIT (:meth:`WritePosition.ticket`).
        """
        if (
            self.read_engine is self.engine
            or self._replica_causal
            or self.engine.dialect.name == "sqlite"  # no replication: nothing to wait for
        ):
            return
        try:
            if connection is not None:
                position = commits.position_after_commit(connection)
            else:
                with self.engine.connect() as other:
                    position = commits.position_after_commit(other, same_session=False)
        except (sa_exc.SQLAlchemyError, ValueError):
            LOG.debug("reading the commit position failed", exc_info=True)
            position = commits.UNKNOWN
        self._written.advance(position, ticket)


def _connect(engine: Engine) -> Connection:
    """``engine.connect()``, a failure translated."""
    try:
        return engine.connect()
    except sa_exc.SQLAlchemyError as exc:
        raise translate_error(exc) from exc


def _rollback(transaction: RootTransaction | None) -> None:
    # None: a SQLite read, ended when its connection is given back.
    if transaction is not None and transaction.is_active:
        try:
            transaction.rollback()
        except sa_exc.SQLAlchemyError:
            LOG.debug("rollback failed", exc_info=True)


def _give_up(connection: Connection, failure: TransientError) -> None:
    """Never pool a connection whose session a call lost.

    Not every lost session is one the driver recognises as such (libpq's
    pipeline left busy), so the pool cannot be left to notice.
    """
    if isinstance(failure.final, DBConnectionError):
        connection.invalidate()


def _budget_busy_timeout(connection: Connection, deadline: float) -> None:
    """Let SQLite wait for a lock no longer than the call's remaining budget."""
    info = connection.connection.info
    wanted = max(int((deadline - time.monotonic()) * 1000), 1)
    current = info.get(BUSY_TIMEOUT_INFO)
    if current is None or abs(current - wanted) > _BUSY_SLACK_MS:
        # On the driver connection: a statement through SQLAlchemy would
        # begin the transaction before its BEGIN (IMMEDIATE).
        driver_connection: Any = connection.connection.driver_connection
        driver_connection.execute(f"PRAGMA busy_timeout={wanted}")
        info[BUSY_TIMEOUT_INFO] = wanted


def _leaving(error: GlanceDBError) -> GlanceDBError:
    """``error`` as it leaves the outermost transaction.

    A transient failure stays the internal marker only when a retrying call
    above will consume it; otherwise the caller gets its final error.
    """
    if isinstance(error, TransientError) and _attempt.get() is None:
        return error.final
    return error
