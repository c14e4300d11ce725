"""SQLite: each calling thread keeps its connection (glancedb.thread_connections).

What a user relies on: calls in one thread share one connection and leave it
with no transaction open; any number of threads can call at once; a
thread's connection is closed when the thread ends or the database is
disposed of; a call that cannot join a busy one gets its own connection;
a read of one statement sends no BEGIN.
"""

from __future__ import annotations

import contextvars
import gc
import sqlite3
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.pool import NullPool

from glancedb import Database, RequestContext, exception
from glancedb.thread_connections import ThreadConnections

pytestmark = pytest.mark.backends("sqlite")


class PoolWatch:
    """Counts the pool's checkouts and the connections it has out."""

    def __init__(self, db: Database) -> None:
        self.checkouts = 0
        self.out = 0
        self._engine = db.engine
        event.listen(db.engine, "checkout", self._checkout)
        event.listen(db.engine, "checkin", self._checkin)

    def _checkout(self, *_args: Any) -> None:
        self.checkouts += 1
        self.out += 1

    def _checkin(self, *_args: Any) -> None:
        self.out -= 1

    def stop(self) -> None:
        event.remove(self._engine, "checkout", self._checkout)
        event.remove(self._engine, "checkin", self._checkin)


@pytest.fixture
def own_db(db: Database) -> Iterator[Database]:
    """A second database on the same file, with no connection kept yet."""
    database = Database(db.engine.url)
    yield database
    database.dispose()


@pytest.fixture
def image(db: Database, ctx: RequestContext) -> dict[str, Any]:
    created = db.image_create(ctx, {"status": "active", "owner": ctx.owner, "name": "kept"})
    db.image_member_create(ctx, {"image_id": created["id"], "member": "tenant-b"})
    return dict(created)


def in_thread(function: Any) -> Any:
    results: list[Any] = []
    thread = threading.Thread(target=lambda: results.append(function()))
    thread.start()
    thread.join(60)
    assert not thread.is_alive()
    return results[0] if results else None


def test_the_calls_of_a_thread_share_one_connection_and_leave_no_transaction_open(
    own_db: Database, ctx: RequestContext, image: dict[str, Any]
) -> None:
    watch = PoolWatch(own_db)
    try:
        for _ in range(3):
            assert own_db.image_get(ctx, image["id"])["name"] == "kept"
            assert len(own_db.image_member_find(ctx, image_id=image["id"])) == 1
            assert own_db.image_get_all(ctx)[0]["id"] == image["id"]
            own_db.image_update(ctx, image["id"], {"min_ram": 1})
            with pytest.raises(exception.ImageNotFound):
                own_db.image_get(ctx, "no-such-image")
        assert watch.checkouts == 1
        assert watch.out == 1  # kept between calls
        assert own_db.engine.url.database
        other = sqlite3.connect(own_db.engine.url.database, timeout=0, isolation_level=None)
        try:  # no lock left behind: another writer gets in at once
            other.execute("BEGIN IMMEDIATE")
            other.execute("ROLLBACK")
        finally:
            other.close()
        assert own_db._kept is not None
        kept = own_db._kept._local.kept.connection
        assert not kept.in_transaction()
        assert not kept.connection.driver_connection.in_transaction
    finally:
        watch.stop()


def test_a_thread_that_ends_closes_its_connection(
    own_db: Database, ctx: RequestContext, image: dict[str, Any]
) -> None:
    watch = PoolWatch(own_db)
    try:
        assert in_thread(lambda: own_db.image_get(ctx, image["id"])["id"]) == image["id"]
        gc.collect()
        assert watch.checkouts == 1
        assert watch.out == 0
    finally:
        watch.stop()


def test_more_threads_than_the_pool_holds_all_get_through(
    own_db: Database, ctx: RequestContext, image: dict[str, Any]
) -> None:
    """Every thread keeps a connection: a pool with a limit would have made the
    16th thread wait (30 s) for one that is never given back."""
    threads = 24
    started = threading.Barrier(threads, timeout=30)
    done = threading.Barrier(threads, timeout=30)
    failures: list[BaseException] = []

    def call() -> None:
        try:
            started.wait()
            own_db.image_member_find(ctx, image_id=image["id"])
            done.wait()  # every thread keeps its connection at once
            own_db.image_get(ctx, image["id"])
        except BaseException as exc:
            failures.append(exc)

    workers = [threading.Thread(target=call) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    assert failures == []


def test_dispose_closes_the_kept_connections_and_calls_go_on(
    own_db: Database, ctx: RequestContext, image: dict[str, Any]
) -> None:
    watch = PoolWatch(own_db)
    try:
        own_db.image_get(ctx, image["id"])
        ready, finish = threading.Event(), threading.Event()

        def other_thread() -> None:
            own_db.image_get(ctx, image["id"])
            ready.set()
            finish.wait(30)

        worker = threading.Thread(target=other_thread)
        worker.start()
        assert ready.wait(30)
        assert watch.out == 2
        own_db.dispose()
        assert watch.out == 0  # the other thread's too, while it lives
        finish.set()
        worker.join(30)
        assert own_db.image_get(ctx, image["id"])["id"] == image["id"]
        assert watch.checkouts == 3
    finally:
        watch.stop()


def test_a_call_that_cannot_join_the_busy_connection_gets_its_own(
    own_db: Database, ctx: RequestContext, image: dict[str, Any]
) -> None:
    """Another context in the same thread (an asyncio task, say) while this
    thread's connection is in a transaction block: the call neither joins
    the block nor runs on its connection."""
    watch = PoolWatch(own_db)
    try:
        with own_db.transaction() as conn:
            own_db.image_update(ctx, image["id"], {"name": "renamed in the block"})
            elsewhere = contextvars.Context().run(own_db.image_get, ctx, image["id"])
            assert elsewhere["name"] == "kept"  # not the block's uncommitted write
            assert conn.in_transaction()
        assert watch.checkouts == 2
        assert own_db.image_get(ctx, image["id"])["name"] == "renamed in the block"
        assert watch.out == 1  # the other call's connection went back to the pool
    finally:
        watch.stop()


def test_a_read_of_one_statement_sends_no_begin(
    own_db: Database, ctx: RequestContext, image: dict[str, Any]
) -> None:
    """Through SQLAlchemy's execute (an engine with listeners) as on the direct path."""
    begins: list[str] = []
    own_db.engine.dialect.do_begin = _spy(own_db.engine.dialect.do_begin, begins)  # type: ignore[method-assign]
    own_db.image_member_find(ctx, image_id=image["id"])
    own_db.image_tag_get_all(ctx, image["id"])
    assert begins == []
    statements: list[str] = []

    def record(_conn: Any, cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    event.listen(own_db.engine, "before_cursor_execute", record)
    try:
        own_db.image_member_find(ctx, image_id=image["id"])
        assert len(statements) == 1
        assert begins == []  # SQLAlchemy began its transaction: nothing reached SQLite
        own_db.image_get(ctx, image["id"])  # two statements: one snapshot
        assert len(begins) == 1
    finally:
        event.remove(own_db.engine, "before_cursor_execute", record)


def _spy(do_begin: Any, begins: list[str]) -> Any:
    def spying(dbapi_connection: Any) -> None:
        before = dbapi_connection.driver_connection.in_transaction
        do_begin(dbapi_connection)
        if dbapi_connection.driver_connection.in_transaction and not before:
            begins.append("BEGIN")

    return spying


def test_connections_are_kept_only_where_the_pool_cannot_run_out(db: Database) -> None:
    assert ThreadConnections.suits(db.engine)
    for options in ({"poolclass": NullPool}, {"pool_size": 2, "max_overflow": 0}):
        sized = Database(db.engine.url, **options)
        try:
            assert sized._kept is None
        finally:
            sized.dispose()
    memory = Database("sqlite://")
    try:
        assert memory._kept is None
    finally:
        memory.dispose()
