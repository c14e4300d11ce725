"""What glancedb learns about a commit, per backend.

Two facts, both asked of the server in SQL:

* **Before COMMIT**, a PostgreSQL write takes its transaction id, so that a
  COMMIT whose connection is lost can be resolved afterwards on another
  connection (:func:`transaction_id`, :func:`transaction_status`).
* **After COMMIT**, a write with a read replica takes the commit's position
  in the primary's log (PostgreSQL WAL LSN, MariaDB GTID, MySQL GTID set:
  :func:`position_after_commit`), and a read on the replica first waits,
  bounded, until the replica has applied that position
  (:func:`replica_reached`).

:class:`WritePosition` keeps the furthest position a :class:`Database`'s own
writes reached, shared by its threads.
"""

from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass

from sqlalchemy import ColumnElement, Connection, Text, func, text

#: Key, in a pooled connection's ``info``, of the furthest position the
#: replica behind it was seen to have applied.
_REACHED = "glancedb_replica_reached"


class Position(ABC):
    """A point in a primary's commit log."""

    @abstractmethod
    def covers(self, other: Position) -> bool:
        """Whether every commit up to ``other`` is also up to ``self``."""

    @abstractmethod
    def merged(self, other: Position) -> Position:
        """The position covering both ``self`` and ``other``."""


@dataclass(frozen=True)
class WalPosition(Position):
    """A PostgreSQL WAL location (``pg_lsn``) as a number."""

    lsn: int

    @classmethod
    def parse(cls, value: str) -> WalPosition:
        high, _, low = value.partition("/")
        return cls((int(high, 16) << 32) | int(low, 16))

    def __str__(self) -> str:
        return f"{self.lsn >> 32:X}/{self.lsn & 0xFFFFFFFF:X}"

    def covers(self, other: Position) -> bool:
        return isinstance(other, WalPosition) and self.lsn >= other.lsn

    def merged(self, other: Position) -> Position:
        return self if self.covers(other) else other


@dataclass(frozen=True)
class GtidPosition(Position):
    """A MariaDB GTID position: per replication domain, the last ``(server, seq)``."""

    domains: tuple[tuple[int, int, int], ...]  # (domain, server, seq), by domain

    @classmethod
    def parse(cls, value: str) -> GtidPosition | None:
        domains: dict[int, tuple[int, int]] = {}
        for item in value.replace("\n", "").split(","):
            if not item.strip():
                continue
            domain, server, seq = (int(part) for part in item.strip().split("-"))
            if domain not in domains or domains[domain][1] < seq:
                domains[domain] = (server, seq)
        if not domains:
            return None
        return cls(tuple((d, s, n) for d, (s, n) in sorted(domains.items())))

    def __str__(self) -> str:
        return ",".join(f"{d}-{s}-{n}" for d, s, n in self.domains)

    def covers(self, other: Position) -> bool:
        if not isinstance(other, GtidPosition):
            return False
        mine = {d: n for d, _s, n in self.domains}
        return all(mine.get(d, -1) >= n for d, _s, n in other.domains)

    def merged(self, other: Position) -> Position:
        if not isinstance(other, GtidPosition):
            return other
        domains = {d: (s, n) for d, s, n in self.domains}
        for d, s, n in other.domains:
            if d not in domains or domains[d][1] < n:
                domains[d] = (s, n)
        return GtidPosition(tuple((d, s, n) for d, (s, n) in sorted(domains.items())))


@dataclass(frozen=True)
class GtidSetPosition(Position):
    """A MySQL ``gtid_executed`` set, read from one primary (so sets only grow)."""

    value: str
    size: int

    @classmethod
    def parse(cls, value: str) -> GtidSetPosition | None:
        size = 0
        for member in value.replace("\n", "").split(","):
            for interval in member.strip().split(":")[1:]:
                first, _, last = interval.partition("-")
                size += int(last or first) - int(first) + 1
        return cls(value.replace("\n", ""), size) if size else None

    def __str__(self) -> str:
        return self.value

    def covers(self, other: Position) -> bool:
        return isinstance(other, GtidSetPosition) and self.size >= other.size

    def merged(self, other: Position) -> Position:
        return self if self.covers(other) else other


class _Unknown(Position):
    """A write whose position could not be read: reads go to the primary."""

    def covers(self, other: Position) -> bool:
        return False

    def merged(self, other: Position) -> Position:
        return self

    def __str__(self) -> str:
        return "unknown"


#: The position of a write that committed but whose position is unknown.
UNKNOWN = _Unknown()


class WritePosition:
    """The furthest position reached by a Database's own writes (thread-safe).

    A write whose position could not be read makes the position
    :data:`UNKNOWN` (reads go to the primary) until a write that began its
    COMMIT after that one had committed records a position: only such a
    write's position is sure to lie past it.  A write of another thread that
    was already committing may have committed first, so its position does
    not replace the unknown one.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._position: Position | None = None
        self._unknowns = 0  # writes recorded without a position, so far

    @property
    def position(self) -> Position | None:
        """None until the first tracked write."""
        return self._position

    def ticket(self) -> int:
        """Taken just before a COMMIT, and handed back to :meth:`advance` with its position."""
        return self._unknowns

    def advance(self, position: Position, ticket: int) -> None:
        """Record a write that committed at ``position`` (``ticket``: see :meth:`ticket`)."""
        with self._lock:
            current = self._position
            if isinstance(position, _Unknown):
                self._unknowns += 1
                self._position = position
            elif current is None:
                self._position = position
            elif isinstance(current, _Unknown):
                if ticket == self._unknowns:
                    self._position = position
            else:
                self._position = current.merged(position)


# --- PostgreSQL: the transaction id, for a COMMIT whose outcome is unknown ------------


def transaction_id(connection: Connection) -> str | None:
    """The current transaction's id, or None when it has written nothing.

    Asked just before COMMIT; a transaction without an id wrote nothing, so
    its outcome does not matter.
    """
    if _pg_major(connection) >= 13:
        query = "SELECT pg_current_xact_id_if_assigned()::text"
    else:
        query = "SELECT txid_current_if_assigned()::text"
    value = connection.exec_driver_sql(query).scalar()
    return None if value is None else str(value)


def transaction_id_column(connection: Connection) -> ColumnElement[str]:
    """The current transaction's id as a column, for the ``RETURNING`` of its first write.

    A write that returns its rows anyway hands the id over with them, and
    the COMMIT then needs no statement of its own to take it (see
    :func:`transaction_id`): one round trip less per write.  The write
    assigns the id, so it is the one the COMMIT will resolve.
    """
    return _XID8_COLUMN if _pg_major(connection) >= 13 else _TXID_COLUMN


# Built once: statements returning them are cached by these objects.
_XID8_COLUMN: ColumnElement[str] = func.pg_current_xact_id().cast(Text)
_TXID_COLUMN: ColumnElement[str] = func.txid_current().cast(Text)


def transaction_status(connection: Connection, xid: str) -> str | None:
    """``committed``, ``aborted``, ``in progress``, or None (too old to tell)."""
    if _pg_major(connection) >= 13:
        query = text("SELECT pg_xact_status(CAST(:xid AS xid8))")
    else:
        query = text("SELECT txid_status(CAST(:xid AS bigint))")
    value = connection.execute(query, {"xid": xid}).scalar()
    return None if value is None else str(value)


def _pg_major(connection: Connection) -> int:
    version = connection.dialect.server_version_info
    return int(version[0]) if version else 0


# --- positions after COMMIT -----------------------------------------------------------


def position_after_commit(connection: Connection, *, same_session: bool = True) -> Position:
    """The primary's log position covering what this connection just committed.

    PostgreSQL: the WAL insert location, read after COMMIT, lies past the
    commit record whatever ``synchronous_commit`` says.  MariaDB: the
    session's ``@@last_gtid`` (``@@gtid_binlog_pos`` from another session).
    MySQL: ``@@global.gtid_executed``.  Runs outside any transaction.
    :data:`UNKNOWN` when the server keeps no such position.
    """
    backend = connection.dialect.name
    position: Position | None
    if backend == "postgresql":
        connection.execution_options(isolation_level="AUTOCOMMIT")
        value = connection.exec_driver_sql("SELECT pg_current_wal_insert_lsn()::text").scalar()
        connection.rollback()
        position = None if value is None else WalPosition.parse(str(value))
    elif getattr(connection.dialect, "is_mariadb", False):
        query = "SELECT @@last_gtid" if same_session else "SELECT @@gtid_binlog_pos"
        value = connection.exec_driver_sql(query).scalar()
        position = GtidPosition.parse(str(value or ""))
    elif backend == "mysql":
        value = connection.exec_driver_sql("SELECT @@global.gtid_executed").scalar()
        position = GtidSetPosition.parse(str(value or ""))
    else:
        position = None
    return UNKNOWN if position is None else position


# --- replicas -------------------------------------------------------------------------

#: Pauses between two looks at a PostgreSQL standby's replay position.
_FIRST_POLL = 0.001
_LONGEST_POLL = 0.05


def replica_reached(connection: Connection, target: Position, timeout: float) -> bool:
    """Whether the replica behind ``connection`` has applied ``target``, waiting
    up to ``timeout`` seconds for it (0: look once).

    Runs before the read transaction begins, so that the read's snapshot is
    taken after the replica caught up.  PostgreSQL: polls
    ``pg_last_wal_replay_lsn()`` (NULL: not a standby, so it has everything
    it serves).  MariaDB: polls ``@@gtid_current_pos``, which an asynchronous
    replica and a Galera node both advance as they apply.  MySQL:
    ``WAIT_FOR_EXECUTED_GTID_SET()``.
    """
    info = connection.connection.info
    reached = info.get(_REACHED)
    if isinstance(reached, Position) and reached.covers(target):
        return True
    if isinstance(target, (WalPosition, GtidPosition)):
        ok = _poll(connection, target, timeout)
    elif isinstance(target, GtidSetPosition):
        # Neither reads a table, so no InnoDB snapshot is taken here.
        result = connection.execute(
            text("SELECT WAIT_FOR_EXECUTED_GTID_SET(:target, :timeout)"),
            {"target": str(target), "timeout": max(timeout, 0.0)},
        ).scalar()
        connection.commit()
        ok = result == 0
    else:
        ok = False
    if ok:
        info[_REACHED] = target if not isinstance(reached, Position) else reached.merged(target)
    return ok


def _poll(connection: Connection, target: Position, timeout: float) -> bool:
    postgresql = connection.dialect.name == "postgresql"
    if postgresql:
        # Outside any transaction: a REPEATABLE READ snapshot must not start
        # before the standby has caught up.
        connection.execution_options(isolation_level="AUTOCOMMIT")
    deadline = time.monotonic() + timeout
    pause = _FIRST_POLL
    try:
        while not _applied(connection, target):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            time.sleep(min(pause, remaining))
            pause = min(pause * 2, _LONGEST_POLL)
        return True
    finally:
        # PostgreSQL: ends nothing (autocommit).  MariaDB: ends the implicit
        # transaction of the polls, which read no table (no InnoDB snapshot).
        if postgresql:
            connection.rollback()
        else:
            connection.commit()


def _applied(connection: Connection, target: Position) -> bool:
    if isinstance(target, WalPosition):
        value = connection.exec_driver_sql("SELECT pg_last_wal_replay_lsn()::text").scalar()
        return value is None or WalPosition.parse(str(value)).covers(target)
    applied: Position | None = None
    for value in connection.exec_driver_sql("SELECT @@gtid_slave_pos, @@gtid_binlog_pos").one():
        position = GtidPosition.parse(str(value or ""))
        if position is not None:
            applied = position if applied is None else applied.merged(position)
    return applied is not None and applied.covers(target)
