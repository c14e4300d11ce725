"""Consistency (SPEC 13, 16): one snapshot per call, read-your-writes, causal reads.

Runs on every backend and on the topologies: ``galera`` (the database under
test writes through node 1 and reads through node 2) and ``pg-standby``
(reads from a streaming hot standby).
"""

from __future__ import annotations

import queue
import random
import subprocess
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, text

from glancedb import Database, RequestContext, exception
from tests.support.backends import (
    count_statements,
    peer_databases,
    topology_urls,
    wait_for_standby,
)
from tests.support.consistency import create_versioned, hammer

pytestmark = pytest.mark.topologies

IMAGES = 6
UPDATES = 25
ROUNDS = 40
SCRIPTS = Path(__file__).resolve().parent.parent / "scripts" / "topology"


def replica_view(db: Database, **options: Any) -> Database:
    """Another database like ``db`` (same primary, same replica if any)."""
    read_url = db.read_engine.url if db.read_engine is not db.engine else None
    return Database(db.engine.url, read_url=read_url, **options)


@pytest.fixture
def ryw_db(db: Database, backend: str) -> Iterator[Database]:
    """``db``'s data behind a read_url: the topology's replica, or the server itself."""
    if db.read_engine is not db.engine:
        yield db
        return
    database = Database(db.engine.url, read_url=db.engine.url)
    yield database
    database.dispose()


# --- one snapshot per call ------------------------------------------------------------


@pytest.mark.slow
def test_concurrent_updates_never_give_torn_reads(db: Database, ctx: RequestContext) -> None:
    image_ids = create_versioned(db, ctx, IMAGES)

    def read(reader: Database, ids: list[str], n: int) -> list[Mapping[str, Any]]:
        if n % 2:
            return [reader.image_get(ctx, random.choice(ids))]
        return reader.image_get_all(ctx, filters={"deleted": False}, return_tag=True)

    # One database for the writers, one for the readers, two threads each
    # (as in one process of an API server); on a topology the readers read
    # from the replica.
    writer, reader = Database(db.engine.url), replica_view(db)
    try:
        tally = hammer([writer] * 2, [reader] * 2, ctx, image_ids, updates=UPDATES, read=read)
    finally:
        writer.dispose()
        reader.dispose()
    assert tally.errors == []
    assert tally.reads > 20
    assert tally.torn == [], f"{len(tally.torn)} torn of {tally.images} images read"


def test_a_read_transaction_sees_one_snapshot(db: Database, ctx: RequestContext) -> None:
    image = db.image_create(ctx, {"status": "active", "owner": ctx.owner, "name": "before"})
    other = Database(db.engine.url)
    try:
        with db.transaction(write=False):
            assert db.image_get(ctx, image["id"])["name"] == "before"
            other.image_update(ctx, image["id"], {"name": "after"})
            # The other database's commit is not part of this snapshot.
            assert db.image_get(ctx, image["id"])["name"] == "before"
            assert [i["name"] for i in db.image_get_all(ctx)] == ["before"]
        # The next call sees it (here the writer is another database: wait
        # for a standby to have it, which this database's own writes never need).
        assert other.image_get(ctx, image["id"])["name"] == "after"
    finally:
        other.dispose()


# --- read-your-writes -------------------------------------------------------------------


def test_each_read_sees_the_callers_own_write(ryw_db: Database, ctx: RequestContext) -> None:
    misses = []
    for n in range(ROUNDS):
        image = ryw_db.image_create(ctx, {"status": "queued", "owner": ctx.owner, "name": f"a{n}"})
        try:
            ryw_db.image_get(ctx, image["id"])
        except exception.ImageNotFound:
            misses.append(f"{n}: not found after create")
            continue
        ryw_db.image_update(ctx, image["id"], {"name": f"b{n}", "properties": {"k": f"v{n}"}})
        got = ryw_db.image_get(ctx, image["id"])
        if (got["name"], got["properties"][0]["value"]) != (f"b{n}", f"v{n}"):
            misses.append(f"{n}: stale after update: {got['name']}")
        ryw_db.image_tag_set_all(ctx, image["id"], ["t"])
        if ryw_db.image_tag_get_all(ctx, image["id"]) != ["t"]:
            misses.append(f"{n}: tag missing")
        ryw_db.image_destroy(ctx, image["id"])
        with pytest.raises(exception.ImageNotFound):
            ryw_db.image_get(ctx, image["id"])
    assert misses == []


def test_a_read_in_another_thread_sees_a_write_that_returned(
    ryw_db: Database, ctx: RequestContext
) -> None:
    """Writes of one thread, reads of another: the position is the database's."""
    written: queue.Queue[str | None] = queue.Queue()
    misses: list[str] = []

    def writer() -> None:
        for n in range(ROUNDS // 2):
            values = {"status": "queued", "owner": ctx.owner, "name": f"w{n}"}
            written.put(ryw_db.image_create(ctx, values)["id"])
        written.put(None)

    thread = threading.Thread(target=writer)
    thread.start()
    while (image_id := written.get(timeout=60)) is not None:
        try:
            ryw_db.image_get(ctx, image_id)
        except exception.ImageNotFound:
            misses.append(image_id)
    thread.join()
    assert misses == []


def test_no_position_is_tracked_without_a_read_url(db: Database, ctx: RequestContext) -> None:
    plain = Database(db.engine.url)
    try:
        with count_statements(plain) as counter:
            image = plain.image_create(ctx, {"status": "queued", "owner": ctx.owner})
            plain.image_get(ctx, image["id"])
        tracking = ("wal_insert_lsn", "wal_replay_lsn", "last_gtid", "gtid_executed", "gtid_wait")
        assert not [s for s in counter.statements if any(word in s for word in tracking)]
    finally:
        plain.dispose()


def test_a_replica_is_asked_once_per_write(ryw_db: Database, ctx: RequestContext) -> None:
    """The first read after a write asks the replica for its position (until it
    has the write); the reads after it know, and ask nothing."""
    image = ryw_db.image_create(ctx, {"status": "queued", "owner": ctx.owner})
    asked: list[int] = []

    def look(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if any(word in statement for word in ("replay_lsn", "gtid_slave_pos", "GTID_SET")):
            asked[-1] += 1

    event.listen(ryw_db.read_engine, "before_cursor_execute", look)
    try:
        for _ in range(3):
            asked.append(0)
            ryw_db.image_get(ctx, image["id"])
    finally:
        event.remove(ryw_db.read_engine, "before_cursor_execute", look)
    if ryw_db.backend == "postgresql":
        assert asked[0] >= 1 and asked[1:] == [0, 0]
    else:
        # Galera reads are causal by themselves; SQLite has no replication;
        # a MariaDB without binary log has no position (reads after a write
        # go to the primary).
        assert asked == [0, 0, 0]


@pytest.mark.backends("pg-standby")
def test_a_lagging_standby_is_waited_for_then_skipped(
    backend: str, db: Database, ctx: RequestContext
) -> None:
    lagging = Database(db.engine.url, read_url=db.read_engine.url, replica_wait=0.2)
    on_primary: list[str] = []

    def primary_read(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if "FROM images" in statement and not statement.startswith("INSERT"):
            on_primary.append(statement)

    _standby_delay("1500ms")
    try:
        event.listen(lagging.engine, "before_cursor_execute", primary_read)
        for n in range(4):
            image = lagging.image_create(ctx, {"status": "queued", "owner": ctx.owner})
            on_primary.clear()
            assert lagging.image_get(ctx, image["id"])["id"] == image["id"], n
            assert on_primary, "the read did not fall back to the primary"
    finally:
        _standby_delay("0")
    try:
        wait_for_standby(*topology_urls(backend))
        on_primary.clear()
        assert lagging.image_get(ctx, image["id"])["id"] == image["id"]
        assert on_primary == []  # caught up: back on the standby
    finally:
        event.remove(lagging.engine, "before_cursor_execute", primary_read)
        lagging.dispose()


def _standby_delay(value: str) -> None:
    subprocess.run([str(SCRIPTS / "pg-standby.sh"), "delay", value], check=True, timeout=60)


# --- Galera: causal reads ---------------------------------------------------------------


@pytest.mark.backends("mysql")
def test_causal_reads_are_set_on_galera_nodes_only(backend: str, db: Database) -> None:
    expected = 1 if backend == "galera" else 0
    for engine in (db.engine, db.read_engine):
        with engine.connect() as conn:
            assert conn.execute(text("SELECT @@wsrep_sync_wait")).scalar() == expected
    if backend == "galera":
        off = Database(db.engine.url, causal_reads=False)
        try:
            with off.engine.connect() as conn:
                assert conn.execute(text("SELECT @@wsrep_sync_wait")).scalar() == 0
        finally:
            off.dispose()


@pytest.mark.backends("mysql")
def test_an_image_created_on_one_node_is_seen_by_the_next(
    backend: str, db: Database, ctx: RequestContext
) -> None:
    """One database per node, as behind a load balancer (one node when not Galera)."""
    nodes = peer_databases(backend, db, 3)
    misses = []
    try:
        for n in range(ROUNDS * 2):
            writer, reader = nodes[n % 3], nodes[(n + 1) % 3]
            image = writer.image_create(ctx, {"status": "queued", "owner": ctx.owner})
            try:
                reader.image_get(ctx, image["id"])
            except exception.ImageNotFound:
                misses.append(n)
    finally:
        for node in nodes:
            node.dispose()
    assert misses == []


@pytest.mark.backends("galera")
def test_without_causal_reads_the_read_node_waits_for_the_write_gtid(
    db: Database, ctx: RequestContext
) -> None:
    """causal_reads=False: the database still reads its own writes on the read
    node (by the write's GTID), and does so there, not on the write node."""
    plain = Database(db.engine.url, read_url=db.read_engine.url, causal_reads=False)
    on_write_node: list[str] = []

    def write_node_read(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.startswith("SELECT images."):
            on_write_node.append(statement)

    event.listen(plain.engine, "before_cursor_execute", write_node_read)
    try:
        for n in range(20):
            image = plain.image_create(ctx, {"status": "queued", "owner": ctx.owner})
            on_write_node.clear()
            assert plain.image_get(ctx, image["id"])["id"] == image["id"], n
            assert on_write_node == []
    finally:
        event.remove(plain.engine, "before_cursor_execute", write_node_read)
        plain.dispose()
