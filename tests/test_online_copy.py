"""MySQL/MariaDB: a large table is rebuilt without blocking its writers.

Revision 0005 widens every timestamp column, which MySQL and MariaDB do only
by copying the table - and their own copy blocks writes until it ends.  A
large table is copied through a shadow table kept in step by triggers, then
swapped in (:mod:`glancedb.migrations.online_copy`).  These tests shrink
"large" to one row and a chunk to two rows, write to the tables while they
are being copied, and check that every write lands, that constraints keep
their names and hold, and that an interrupted rebuild is cleaned up.
"""

from __future__ import annotations

import datetime
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, event, text
from sqlalchemy import exc as sa_exc

from glancedb import Database, migration
from glancedb.migrations import online, online_copy
from tests.support.glance_fixtures import PristineDatabases

# MySQL and a Galera cluster (writes through node 1, the shared tables on all three).
pytestmark = [pytest.mark.backends("mysql"), pytest.mark.topologies]

BEFORE_MICROSECONDS = "0004_images_name"
MICROSECONDS = "0005_mysql_microseconds"
SECOND = datetime.datetime(2024, 5, 1, 12, 0, 0)
#: Image ids in their primary-key order.
IMAGE_IDS = [f"00000000-0000-0000-0000-{n:012d}" for n in range(1, 8)]


@pytest.fixture
def fresh(pristine: PristineDatabases) -> Iterator[Database]:
    """An empty database at the revision before the timestamps are widened,
    where every non-empty table counts as large and is copied two rows at a time."""
    database = pristine.get("online_copy")
    migration.upgrade(database.engine, BEFORE_MICROSECONDS)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(online_copy, "DIRECT_BELOW_ROWS", 1)
        patch.setattr(online_copy, "CHUNK_ROWS", 2)
        patch.setattr(online, "QUIET_SECONDS", 0.0)
        yield database
    pristine.release(database)


def fill(engine: Engine) -> None:
    """Seven images, the first five with three properties each."""
    with engine.begin() as conn:
        for image_id in IMAGE_IDS:
            conn.execute(
                text(
                    "INSERT INTO images (id, name, status, visibility, created_at, deleted,"
                    " min_disk, min_ram, protected, os_hidden)"
                    " VALUES (:id, :id, 'active', 'public', :at, 0, 0, 0, 0, 0)"
                ),
                {"id": image_id, "at": SECOND},
            )
        for image_id in IMAGE_IDS[:5]:
            for name in ("a", "b", "c"):
                conn.execute(
                    text(
                        "INSERT INTO image_properties (image_id, name, value, created_at, deleted)"
                        " VALUES (:id, :name, 'v', :at, 0)"
                    ),
                    {"id": image_id, "name": name, "at": SECOND},
                )


def rows(conn: Connection, table: str) -> list[tuple[Any, ...]]:
    return [tuple(row) for row in conn.exec_driver_sql(f"SELECT * FROM `{table}` ORDER BY id")]


def foreign_keys(conn: Connection) -> list[tuple[str, ...]]:
    return [
        tuple(row)
        for row in conn.exec_driver_sql(
            "SELECT TABLE_NAME, CONSTRAINT_NAME, REFERENCED_TABLE_NAME"
            " FROM information_schema.REFERENTIAL_CONSTRAINTS"
            " WHERE CONSTRAINT_SCHEMA = DATABASE() ORDER BY 1, 2"
        )
    ]


def definition(conn: Connection, table: str) -> list[str]:
    """``table``'s columns, indexes and constraints as the server shows them,
    in order, timestamps at either precision, without the next id."""
    ddl = conn.exec_driver_sql(f"SHOW CREATE TABLE `{table}`").one()[1]
    return [
        line.strip().rstrip(",").replace("datetime(6)", "datetime")
        for line in ddl.splitlines()[1:-1]
    ]


def leftovers(conn: Connection) -> list[str]:
    tables = conn.exec_driver_sql("SHOW TABLES").scalars().all()
    triggers = conn.exec_driver_sql("SHOW TRIGGERS").scalars().all()
    return [name for name in [*tables, *triggers] if "__glancedb" in name]


def on_chunk(engine: Engine, table: str, number: int, action: Callable[[], None]) -> None:
    """Run ``action`` just before the ``number``-th chunk of ``table`` is copied."""
    seen = [0]
    prefix = f"INSERT IGNORE INTO `{table}{online_copy.SHADOW_SUFFIX}`"

    @event.listens_for(engine, "before_cursor_execute")
    def watch(*args: Any) -> None:
        if args[2].startswith(prefix):
            seen[0] += 1
            if seen[0] == number:
                action()


def on_statement(engine: Engine, start: str, action: Callable[[], None]) -> Callable[..., None]:
    """Run ``action`` before each statement that starts with ``start``; the
    listener is returned, for ``event.remove``."""

    @event.listens_for(engine, "before_cursor_execute")
    def watch(*args: Any) -> None:
        if args[2].startswith(start):
            action()

    return watch


def test_every_write_made_during_the_copy_is_in_the_table_afterwards(fresh: Database) -> None:
    """Writes made while a table is half copied - to rows already copied, to
    rows not yet copied, new rows, deleted rows - are all in the table that
    replaces it, exactly as in the table it replaces."""
    fill(fresh.engine)
    expected: dict[str, list[tuple[Any, ...]]] = {}
    later = SECOND + datetime.timedelta(seconds=1)

    def write_images() -> None:
        with fresh.engine.begin() as conn:
            conn.execute(  # a copied row
                text("UPDATE images SET name = 'renamed', updated_at = :at WHERE id = :id"),
                {"id": IMAGE_IDS[0], "at": later},
            )
            conn.execute(  # a row not copied yet
                text("UPDATE images SET size = 42, updated_at = :at WHERE id = :id"),
                {"id": IMAGE_IDS[5], "at": later},
            )
            conn.execute(text("DELETE FROM images WHERE id = :id"), {"id": IMAGE_IDS[6]})
            conn.execute(
                text(
                    "INSERT INTO images (id, status, visibility, created_at, deleted, min_disk,"
                    " min_ram, protected, os_hidden)"
                    " VALUES ('00000000-0000-0000-0000-000000000000', 'queued', 'private',"
                    " :at, 0, 0, 0, 0, 0)"
                ),
                {"at": later},
            )
            expected["images"] = rows(conn, "images")

    def write_properties() -> None:
        with fresh.engine.begin() as conn:
            ids = conn.exec_driver_sql("SELECT id FROM image_properties ORDER BY id").scalars()
            first, *_, before_last, last = list(ids)
            conn.execute(
                text("UPDATE image_properties SET value = 'copied' WHERE id = :id"), {"id": first}
            )
            conn.execute(
                text("UPDATE image_properties SET value = 'not yet' WHERE id = :id"),
                {"id": before_last},
            )
            conn.execute(text("DELETE FROM image_properties WHERE id = :id"), {"id": last})
            expected["image_properties"] = rows(conn, "image_properties")
            expected["last_id"] = [(last,)]

    on_chunk(fresh.engine, "images", 2, write_images)
    on_chunk(fresh.engine, "image_properties", 3, write_properties)
    with fresh.engine.connect() as conn:
        keys_before = foreign_keys(conn)
        tables_before = {table: definition(conn, table) for table in ("images", "image_properties")}
    lines: list[str] = []
    migration.upgrade(fresh.engine, MICROSECONDS, progress=lines.append)

    assert "copying table images to widen its timestamps (writes go on)" in lines
    assert "copying table image_properties to widen its timestamps (writes go on)" in lines
    assert set(expected) == {"images", "image_properties", "last_id"}, "the writes never ran"
    with fresh.engine.begin() as conn:
        assert rows(conn, "images") == expected["images"]
        assert rows(conn, "image_properties") == expected["image_properties"]
        assert foreign_keys(conn) == keys_before
        assert {table: definition(conn, table) for table in tables_before} == tables_before
        assert leftovers(conn) == []
        kind = conn.exec_driver_sql(
            "SELECT COLUMN_TYPE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE()"
            " AND TABLE_NAME = 'image_properties' AND COLUMN_NAME = 'created_at'"
        ).scalar()
        assert kind == "datetime(6)"
        # A new row's id is past every id the old table handed out, the
        # deleted last one included.
        conn.execute(
            text(
                "INSERT INTO image_properties (image_id, name, value, created_at, deleted)"
                " VALUES (:id, 'new', 'v', :at, 0)"
            ),
            {"id": IMAGE_IDS[1], "at": SECOND},
        )
        new_id = conn.exec_driver_sql("SELECT LAST_INSERT_ID()").scalar()
        assert new_id is not None and new_id > expected["last_id"][0][0]
    migration.upgrade(fresh.engine)
    assert fresh.db_check() == []


def test_foreign_keys_still_hold_after_the_swap(fresh: Database) -> None:
    """The swapped-in tables reference, and are referenced, as before."""
    fill(fresh.engine)
    fresh.db_sync()
    with fresh.engine.connect() as conn:
        with pytest.raises(sa_exc.IntegrityError):
            conn.execute(
                text(
                    "INSERT INTO image_properties (image_id, name, value, created_at, deleted)"
                    " VALUES ('no-such-image', 'a', 'v', :at, 0)"
                ),
                {"at": SECOND},
            )
        conn.rollback()
        with pytest.raises(sa_exc.IntegrityError):  # it has properties
            conn.execute(text("DELETE FROM images WHERE id = :id"), {"id": IMAGE_IDS[0]})


class Interrupted(BaseException):
    """Stands for the process being killed."""


def test_a_rebuild_that_fails_leaves_the_table_as_it_was(fresh: Database) -> None:
    """A failure just before the swap - other tables' keys already pointing
    at the shadow - drops the shadow and its triggers and gives those keys
    back, under their own names; the next run succeeds."""
    fill(fresh.engine)
    with fresh.engine.connect() as conn:
        keys_before = foreign_keys(conn)
        images_before = rows(conn, "images")

    def fail() -> None:
        raise RuntimeError("the server went away")

    listener = on_statement(fresh.engine, "RENAME TABLE `images`", fail)
    with pytest.raises(RuntimeError):
        migration.upgrade(fresh.engine, MICROSECONDS)
    with fresh.engine.connect() as conn:
        assert leftovers(conn) == []
        assert foreign_keys(conn) == keys_before
        assert rows(conn, "images") == images_before
    event.remove(fresh.engine, "before_cursor_execute", listener)
    fresh.db_sync()
    assert fresh.db_check() == []


def test_a_rebuild_killed_midway_is_cleaned_up_by_the_next_run(fresh: Database) -> None:
    """Interrupted in mid-statement (the connection is lost, no clean-up can
    run) with the shadow, its triggers and the moved keys in place: the
    interrupt reaches the caller, and the next run removes them and rebuilds."""
    fill(fresh.engine)
    with fresh.engine.connect() as conn:
        keys_before = foreign_keys(conn)
        images_before = rows(conn, "images")

    def die() -> None:
        raise Interrupted

    listener = on_statement(fresh.engine, "RENAME TABLE `images`", die)
    with pytest.raises(Interrupted):
        migration.upgrade(fresh.engine, MICROSECONDS)
    with fresh.engine.connect() as conn:
        assert "images__glancedb_new" in leftovers(conn)
        assert any(key[1].endswith("__glancedb") for key in foreign_keys(conn))
    event.remove(fresh.engine, "before_cursor_execute", listener)
    fresh.db_sync()
    with fresh.engine.connect() as conn:
        assert leftovers(conn) == []
        assert foreign_keys(conn) == keys_before
        assert rows(conn, "images") == images_before
    assert fresh.db_check() == []


def test_without_the_trigger_privilege_tables_are_altered_directly(fresh: Database) -> None:
    """A database user who may not create triggers gets the server's own
    copy, said so, and the same result."""
    fill(fresh.engine)
    database = fresh.engine.url.database
    user = "glancedb_no_triggers"
    with fresh.engine.begin() as conn:
        conn.execute(text(f"DROP USER IF EXISTS '{user}'@'%'"))
        conn.execute(text(f"CREATE USER '{user}'@'%'"))
        conn.execute(
            text(
                "GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, DROP, ALTER, INDEX, REFERENCES"
                f" ON `{database}`.* TO '{user}'@'%'"
            )
        )
    limited = Database(fresh.engine.url.set(username=user, password=None))
    try:
        lines: list[str] = []
        migration.upgrade(limited.engine, MICROSECONDS, progress=lines.append)
        assert any(line.startswith("cannot create triggers on images") for line in lines)
        assert "altering table images to widen its timestamps (writes to it wait until done)" in (
            lines
        )
        with limited.engine.connect() as conn:
            assert leftovers(conn) == []
    finally:
        limited.dispose()
        with fresh.engine.begin() as conn:
            conn.execute(text(f"DROP USER IF EXISTS '{user}'@'%'"))
    fresh.db_sync()
    assert fresh.db_check() == []


def test_writers_going_on_through_the_copy_all_land(fresh: Database, backend: str) -> None:
    """A writer inserting and updating properties without pause while the
    tables are copied (real concurrency: triggers, chunk locks, the swap)
    never fails, and every one of its writes is in the new table.

    On Galera the writer writes through another node than the copy's (the
    triggers fire there, the chunks and the swap replicate to it); a
    writer's transaction that updates a row a chunk copied meanwhile fails
    certification (1213), as any two concurrent writes of one row can
    there: the writer retries it, as applications on Galera must
    (glancedb's own calls do)."""
    fill(fresh.engine)
    with fresh.engine.begin() as conn:
        for n in range(300):
            conn.execute(
                text(
                    "INSERT INTO image_properties (image_id, name, value, created_at, deleted)"
                    " VALUES (:id, :name, 'v', :at, 0)"
                ),
                {"id": IMAGE_IDS[n % 7], "name": f"bulk-{n}", "at": SECOND},
            )
    writer_engine = fresh.read_engine if backend == "galera" else fresh.engine
    assert (writer_engine.url.port != fresh.engine.url.port) == (backend == "galera")
    written: dict[str, str] = {}
    errors: list[BaseException] = []
    stop = threading.Event()

    def write_one(conn: Connection, n: int) -> None:
        name = f"live-{n}"
        conn.execute(
            text(
                "INSERT INTO image_properties (image_id, name, value, created_at,"
                " deleted) VALUES (:id, :name, 'first', :at, 0)"
            ),
            {"id": IMAGE_IDS[n % 7], "name": name, "at": SECOND},
        )
        conn.execute(
            text(
                "UPDATE image_properties SET value = :value WHERE image_id = :id AND name = :name"
            ),
            {"id": IMAGE_IDS[n % 300 % 7], "name": f"bulk-{n % 300}", "value": name},
        )
        conn.commit()
        written[name] = f"bulk-{n % 300}"

    def write() -> None:
        n = 0
        try:
            with writer_engine.connect() as conn:
                conn.exec_driver_sql("SET SESSION lock_wait_timeout = 10")
                while not stop.is_set():
                    try:
                        write_one(conn, n)
                    except sa_exc.OperationalError as exc:
                        conn.rollback()
                        if backend != "galera" or online.error_code(exc) != 1213:
                            raise
                        continue  # certification failed: the transaction again
                    n += 1
        except BaseException as exc:  # reported by the test thread
            errors.append(exc)

    writer = threading.Thread(target=write)
    writer.start()
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(online_copy, "CHUNK_ROWS", 10)
            migration.upgrade(fresh.engine, MICROSECONDS)
    finally:
        stop.set()
        writer.join(timeout=60)
    assert not errors, errors
    assert len(written) > 10
    with fresh.engine.connect() as conn:
        values = dict(
            (row[0], row[1])
            for row in conn.exec_driver_sql("SELECT name, value FROM image_properties")
        )
    for name in written:
        assert values[name] == "first"
    last_update: dict[str, str] = {}
    for name, updated in written.items():  # in write order
        last_update[updated] = name
    for updated, name in last_update.items():
        assert values[updated] == name


@pytest.mark.parametrize("held", ["a new row", "an updated row"])
def test_a_writer_holding_a_row_the_copy_needs_is_waited_for_not_deadlocked(
    fresh: Database, held: str
) -> None:
    """A writer's open transaction holds a row of the table being copied -
    one it inserted after the copy began, or one it updated in the chunk
    being copied - and then writes again, which fires a trigger, which needs
    the shadow's AUTO-INC lock.  An ``INSERT ... SELECT`` holds that lock
    until it ends, so a chunk that waited for the writer's row while
    copying would wait for a writer that waits for it: a deadlock, whose
    victim was the writer (measured once at a million images).  A chunk
    locks its rows (and the scan the row just past them) before it copies
    them, so it waits for the writer without holding that lock."""
    fill(fresh.engine)
    errors: list[BaseException] = []
    holding = threading.Event()
    writer_conn = fresh.engine.connect()

    def insert(name: str) -> None:
        writer_conn.execute(
            text(
                "INSERT INTO image_properties (image_id, name, value, created_at, deleted)"
                " VALUES (:id, :name, 'held', :at, 0)"
            ),
            {"id": IMAGE_IDS[6], "name": name, "at": SECOND},
        )

    def hold_a_row() -> None:
        if holding.is_set():
            return
        holding.set()
        if held == "a new row":
            insert("first")
        else:
            writer_conn.execute(
                text(
                    "UPDATE image_properties SET value = 'held'"
                    " WHERE image_id = :id AND name = 'b'"  # in the middle of the chunk
                ),
                {"id": IMAGE_IDS[2]},
            )
        second_write.start()

    def write_again() -> None:
        try:
            time.sleep(1.0)  # the copy has reached the held row by now
            insert("second")
            writer_conn.commit()
        except BaseException as exc:  # reported by the test thread
            errors.append(exc)

    second_write = threading.Thread(target=write_again)

    # Once the triggers exist, as the copy of image_properties starts.
    watch = on_statement(fresh.engine, "SELECT `id` FROM `image_properties`", hold_a_row)
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(online_copy, "CHUNK_ROWS", 100)  # one chunk: all the rows
            migration.upgrade(fresh.engine, MICROSECONDS)
    finally:
        event.remove(fresh.engine, "before_cursor_execute", watch)
        if second_write.is_alive():
            second_write.join(timeout=60)
        writer_conn.close()
    assert holding.is_set()
    assert not errors, errors
    with fresh.engine.connect() as conn:
        held_rows = (
            conn.exec_driver_sql(
                "SELECT name FROM image_properties WHERE value = 'held' ORDER BY id"
            )
            .scalars()
            .all()
        )
        assert leftovers(conn) == []
    expected = ["first", "second"] if held == "a new row" else ["b", "second"]
    assert held_rows == expected


def test_the_downgrade_narrows_large_tables_online_too(fresh: Database) -> None:
    """Back to Glance's DATETIME columns the same way, progress reported."""
    fill(fresh.engine)
    with fresh.engine.connect() as conn:
        before = {table: (definition(conn, table), rows(conn, table)) for table in ("images",)}
    migration.upgrade(fresh.engine, MICROSECONDS)
    lines: list[str] = []
    fresh.db_downgrade(BEFORE_MICROSECONDS, progress=lines.append)
    assert "copying table images to narrow its timestamps (writes go on)" in lines
    with fresh.engine.connect() as conn:
        assert {table: (definition(conn, table), rows(conn, table)) for table in before} == before
        assert "datetime(6)" not in conn.exec_driver_sql("SHOW CREATE TABLE images").one()[1]
        assert leftovers(conn) == []
