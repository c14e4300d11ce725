"""Retries of whole calls on transient failures (SPEC 13), never duplicating a write.

The calls here are small functions decorated with :func:`glancedb.transactions.retrying`
that write through ``db.transaction()``, like every public API method.
"""

from __future__ import annotations

import datetime
import sqlite3
import threading
import time
from typing import Any

import pytest
from sqlalchemy import Connection, create_engine, text
from sqlalchemy import exc as sa_exc

from glancedb import Database, RequestContext, exception
from glancedb import transactions as core
from glancedb.engines import begin_as_writer

pytestmark = pytest.mark.topologies


class FakePGError(Exception):
    """Shaped like a psycopg error: the SQLSTATE in ``sqlstate``."""

    def __init__(self, sqlstate: str, message: str) -> None:
        super().__init__(message)
        self.sqlstate = sqlstate


def pg_serialization_failure() -> sa_exc.DBAPIError:
    orig = FakePGError("40001", "could not serialize access due to concurrent update")
    return sa_exc.OperationalError("UPDATE images ...", {}, orig)


def pg_deadlock() -> sa_exc.DBAPIError:
    return sa_exc.OperationalError(
        "UPDATE images ...", {}, FakePGError("40P01", "deadlock detected")
    )


def mysql_deadlock() -> sa_exc.DBAPIError:
    orig = Exception(1213, "Deadlock found when trying to get lock; try restarting transaction")
    return sa_exc.OperationalError("UPDATE images ...", {}, orig)


def mysql_lock_wait_timeout() -> sa_exc.DBAPIError:
    orig = Exception(1205, "Lock wait timeout exceeded; try restarting transaction")
    return sa_exc.OperationalError("UPDATE images ...", {}, orig)


def galera_node_not_ready() -> sa_exc.DBAPIError:
    orig = Exception(1047, "WSREP has not yet prepared node for application use")
    return sa_exc.OperationalError("SELECT images ...", {}, orig)


def node_urls(db: Database) -> list[str]:
    with db.engine.connect() as conn:
        query = text("SELECT node_reference_url FROM node_reference ORDER BY node_reference_url")
        return list(conn.execute(query).scalars())


def insert_node(conn: Connection, url: str) -> None:
    conn.execute(text("INSERT INTO node_reference (node_reference_url) VALUES (:u)"), {"u": url})


@pytest.fixture(autouse=True)
def quick_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(core, "RETRY_FIRST_DELAY", 0.001)


@pytest.mark.parametrize(
    "transient",
    [
        pg_serialization_failure,
        pg_deadlock,
        mysql_deadlock,
        mysql_lock_wait_timeout,
        galera_node_not_ready,
    ],
)
def test_transient_failure_is_retried_and_written_once(db: Database, transient: Any) -> None:
    attempts: list[int] = []

    @core.retrying
    def write(url: str) -> str:
        attempts.append(1)
        with db.transaction() as conn:
            insert_node(conn, url)
            if len(attempts) == 1:
                # The first attempt fails after its write: it must be rolled back.
                raise transient()
        return url

    assert write("http://node-1") == "http://node-1"
    assert len(attempts) == 2
    assert node_urls(db) == ["http://node-1"]


def pg_pipeline_left_busy() -> sa_exc.DBAPIError:
    # What psycopg raises when the server ends the session while an
    # executemany's pipeline is in flight; the driver does not flag it as a
    # disconnect.
    orig = Exception("cannot exit pipeline mode while busy")
    return sa_exc.OperationalError("INSERT INTO image_properties ...", {}, orig)


def test_a_session_lost_unflagged_is_retried_on_a_new_connection(db: Database) -> None:
    sessions: list[object] = []

    @core.retrying
    def write(url: str) -> str:
        with db.transaction() as conn:
            sessions.append(conn.connection.dbapi_connection)
            insert_node(conn, url)
            if len(sessions) == 1:
                raise pg_pipeline_left_busy()
        return url

    assert write("http://node-1") == "http://node-1"
    assert len(sessions) == 2 and sessions[1] is not sessions[0]
    assert node_urls(db) == ["http://node-1"]
    # The lost session was closed, not given back to the pool for a later call.
    with pytest.raises(db.engine.dialect.loaded_dbapi.Error):
        sessions[0].cursor().execute("SELECT 1")  # type: ignore[attr-defined]


def test_persistent_deadlock_gives_up_after_bounded_attempts(db: Database) -> None:
    attempts: list[int] = []

    @core.retrying
    def write() -> None:
        attempts.append(1)
        with db.transaction() as conn:
            insert_node(conn, f"http://node-{len(attempts)}")
            raise mysql_deadlock()

    with pytest.raises(exception.DBDeadlock, match="Deadlock"):
        write()
    assert len(attempts) == core.RETRY_ATTEMPTS
    assert node_urls(db) == []


def test_duplicate_is_not_retried(db: Database) -> None:
    attempts: list[int] = []

    @core.retrying
    def write() -> None:
        attempts.append(1)
        with db.transaction() as conn:
            insert_node(conn, "http://dup")

    write()
    with pytest.raises(exception.Duplicate):
        write()
    assert len(attempts) == 2  # one per call: the duplicate was not retried
    assert node_urls(db) == ["http://dup"]


def test_programming_error_is_not_retried(db: Database) -> None:
    attempts: list[int] = []

    @core.retrying
    def write() -> None:
        attempts.append(1)
        with db.transaction() as conn:
            conn.execute(text("UPDATE no_such_table SET x = 1"))

    with pytest.raises(exception.DBError):
        write()
    assert len(attempts) == 1


def test_nested_call_does_not_retry_on_its_own(db: Database) -> None:
    inner_attempts: list[int] = []
    outer_attempts: list[int] = []

    @core.retrying
    def inner() -> None:
        inner_attempts.append(1)
        with db.transaction() as conn:
            insert_node(conn, f"http://inner-{len(outer_attempts)}")
            if len(outer_attempts) == 1:
                raise pg_deadlock()

    @core.retrying
    def outer() -> None:
        outer_attempts.append(1)
        with db.transaction() as conn:
            insert_node(conn, f"http://outer-{len(outer_attempts)}")
            inner()

    outer()
    # The whole outer call was retried once; nothing of the failed attempt stays.
    assert (len(outer_attempts), len(inner_attempts)) == (2, 2)
    assert node_urls(db) == ["http://inner-2", "http://outer-2"]


@pytest.mark.backends("postgresql", "mysql")  # SQLite serialises writers: no deadlock
def test_real_deadlock_is_retried_once(
    db: Database, backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two transactions lock two rows in opposite orders; the server kills one of them.

    The retried call waits first (so PostgreSQL's deadlock check fires in it)
    and holds fewer locks (so InnoDB picks it as the victim).  PostgreSQL
    detects the deadlock only after ``deadlock_timeout`` (1 s), most of the
    time budget on a loaded machine: the budget is widened here, as this
    test is about the retry, not its bound.
    """
    monkeypatch.setattr(core, "RETRY_BUDGET", 10.0)
    with db.engine.begin() as conn:
        insert_node(conn, "http://node")
        node = conn.execute(text("SELECT node_reference_id FROM node_reference")).scalar_one()
        for i in range(5):
            conn.execute(
                text(
                    "INSERT INTO cached_images (image_id, last_accessed, last_modified, size,"
                    " hits, node_reference_id) VALUES (:i, :t, :t, 1, 0, :n)"
                ),
                {"i": f"image-{i}", "t": datetime.datetime(2024, 1, 1), "n": node},
            )
        ids = list(conn.execute(text("SELECT id FROM cached_images ORDER BY id")).scalars())

    # Primary-key lookups: each statement locks exactly one row.
    bump = text("UPDATE cached_images SET hits = hits + :n WHERE id = :id")
    first_locked = threading.Event()
    other_locked = threading.Event()
    attempts: list[int] = []
    other_error: list[BaseException] = []

    @core.retrying
    def victim() -> None:
        attempts.append(1)
        with db.transaction() as conn:
            conn.execute(bump, {"n": 1, "id": ids[0]})
            first_locked.set()
            assert other_locked.wait(10)
            conn.execute(bump, {"n": 1, "id": ids[1]})

    def other() -> None:
        try:
            with db.engine.connect() as conn:
                assert first_locked.wait(10)
                for row_id in ids[1:]:
                    conn.execute(bump, {"n": 10, "id": row_id})
                other_locked.set()
                time.sleep(0.3)  # let the victim block on the second row first
                conn.execute(bump, {"n": 10, "id": ids[0]})
                conn.commit()
        except BaseException as exc:  # reported by the main thread
            other_error.append(exc)

    thread = threading.Thread(target=other)
    thread.start()
    try:
        victim()
    finally:
        other_locked.set()
        thread.join(30)
    assert other_error == []
    assert len(attempts) == 2  # deadlocked once, then succeeded
    # The victim's first attempt left nothing; its retry applied exactly once.
    with db.engine.connect() as conn:
        hits = list(conn.execute(text("SELECT hits FROM cached_images ORDER BY id")).scalars())
    assert hits == [11, 11, 10, 10, 10]


# --- the retry budget ---------------------------------------------------------------------


def test_retries_stop_when_the_time_budget_is_spent(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(core, "RETRY_FIRST_DELAY", 0.2)
    monkeypatch.setattr(core, "RETRY_BUDGET", 0.3)
    attempts: list[int] = []

    @core.retrying
    def write() -> None:
        attempts.append(1)
        with db.transaction() as conn:
            insert_node(conn, f"http://node-{len(attempts)}")
            raise pg_deadlock()

    with pytest.raises(exception.DBDeadlock):
        write()
    # Back-offs of 0.1-0.3 s, then 0.2-0.6 s: the budget allows two attempts at most.
    assert 1 <= len(attempts) <= 2 < core.RETRY_ATTEMPTS
    assert node_urls(db) == []


@pytest.mark.backends("sqlite")
def test_a_writer_behind_a_long_sqlite_lock_gives_up_within_the_budget(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLite's busy waiting counts against the budget: the writer gives up
    while the lock is still held (formerly it waited up to 5 x 10 s)."""
    monkeypatch.setattr(core, "RETRY_BUDGET", 0.5)
    writer = Database(db.engine.url)  # engines made now get the budget as busy timeout
    holding = threading.Event()
    release = threading.Event()

    def hold_the_lock() -> None:
        with db.engine.connect() as conn:
            begin_as_writer(conn)  # BEGIN IMMEDIATE: the write lock
            insert_node(conn, "http://holder")
            holding.set()
            # Held for 5 s at most: a writer that waited more than the budget
            # would get through after it, instead of failing while it is held.
            release.wait(5)
            holding.clear()
            conn.rollback()

    holder = threading.Thread(target=hold_the_lock)
    holder.start()
    try:
        assert holding.wait(10)
        with pytest.raises(exception.DBDeadlock, match="locked"):
            writer.image_create(RequestContext(is_admin=True), {"status": "queued"})
        assert holding.is_set()  # gave up while the lock was still held
        with pytest.raises(exception.DBDeadlock, match="locked"), writer.transaction() as conn:
            insert_node(conn, "http://blocked")
        assert holding.is_set()
    finally:
        release.set()
        holder.join(30)
        writer.dispose()
    assert node_urls(db) == []


@pytest.mark.backends("sqlite")
def test_sqlite_writers_of_one_database_take_turns(db: Database, ctx: RequestContext) -> None:
    """No writer starves behind busy neighbours: SQLite's own busy handler
    only polls, ever more slowly, and a writer that polls while the others
    keep retaking the lock was passed by hundreds of their writes (measured,
    8 threads of 150 writes: 554-1049 of 1200 at worst, against 50-143 with
    the turns)."""
    threads, calls = 8, 150
    committed = 0
    overtaken: list[int] = []
    errors: list[BaseException] = []
    books = threading.Lock()

    def write() -> None:
        nonlocal committed
        for _ in range(calls):
            before = committed
            try:
                db.image_create(ctx, {"status": "queued", "owner": ctx.owner})
            except Exception as exc:  # counted, checked below
                errors.append(exc)
            with books:
                overtaken.append(committed - before)
                committed += 1

    workers = [threading.Thread(target=write) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(120)
    assert errors == []
    assert len(overtaken) == threads * calls
    # How many other writes finished while one call waited: a handful of
    # rounds of the other threads at most, never most of the run.
    assert max(overtaken) <= 300, sorted(overtaken)[-10:]


@pytest.mark.backends("sqlite")
def test_a_sqlite_write_takes_the_write_lock_at_begin_and_a_read_never_does(
    db: Database, ctx: RequestContext
) -> None:
    """A write transaction that only read so far already holds SQLite's
    write lock (no deadlock when it goes on to write), and the pooled
    connection it used does not carry that into a later read."""
    assert db.engine.url.database
    other = sqlite3.connect(db.engine.url.database, timeout=0, isolation_level=None)

    def other_can_write() -> bool:
        try:
            other.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            assert "locked" in str(exc)
            return False
        other.execute("ROLLBACK")
        return True

    try:
        with db.transaction(write=True):
            db.image_get_all(ctx)
            assert not other_can_write()
        assert other_can_write()
        db.image_create(ctx, {"status": "queued", "owner": ctx.owner})
        with db.transaction(write=False):
            db.image_get_all(ctx)
            assert other_can_write()
        db.image_get_all(ctx)
        assert other_can_write()
        with db.transaction():
            assert not other_can_write()
    finally:
        other.close()


@pytest.mark.backends("postgresql", "mysql")
@pytest.mark.parametrize("write", [False, True], ids=["read", "write"])
def test_a_pooled_connection_the_server_dropped_is_replaced(
    db: Database, backend: str, write: bool
) -> None:
    """No pre-ping round trip on every call: a pooled connection the server has
    dropped fails on its first statement, before any commit, and the call is
    retried on a new connection."""
    db.engine.dispose()
    with db.engine.connect() as conn:  # the pool's only connection
        session = conn.exec_driver_sql(
            "SELECT pg_backend_pid()" if db.backend == "postgresql" else "SELECT CONNECTION_ID()"
        ).scalar()
    killer = create_engine(db.engine.url, isolation_level="AUTOCOMMIT")
    try:
        with killer.connect() as conn:
            if db.backend == "postgresql":
                conn.exec_driver_sql(f"SELECT pg_terminate_backend({int(str(session))})")
            else:
                conn.exec_driver_sql(f"KILL {int(str(session))}")
    finally:
        killer.dispose()
    time.sleep(0.2)
    if write:
        db.node_reference_create(None, "http://node-after-drop")
        assert node_urls(db) == ["http://node-after-drop"]
    else:
        assert db.get_cached_nodes(None, "no-such-image") == []
