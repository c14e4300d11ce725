"""glancedb's indexes are built without blocking writes (``db sync`` on a live database).

A plain ``CREATE INDEX`` blocks every write to its table for the whole build:
on a Glance database in use, an outage.  PostgreSQL builds concurrently
(outside a transaction, an invalid leftover dropped and rebuilt); MySQL and
MariaDB build online and never keep writers queued behind a metadata-lock
wait.  See :mod:`glancedb.migrations.online`.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, event, text

from glancedb import Database, migration
from glancedb.migrations import online
from tests.support.backends import count_statements
from tests.support.glance_fixtures import PristineDatabases

#: The revision before the last index revision, and the index that revision builds.
BEFORE_NAME_INDEX = "0003_image_properties_value"
NAME_INDEX = "ix_glancedb_images_name"


@pytest.fixture
def fresh(pristine: PristineDatabases) -> Iterator[Database]:
    """An empty database, not synced."""
    database = pristine.get("online_ddl")
    yield database
    pristine.release(database)


def insert_image(conn: Connection) -> None:
    conn.execute(
        text(
            "INSERT INTO images (id, status, visibility, created_at, deleted, min_disk,"
            " min_ram, protected, os_hidden) VALUES (:id, 'active', 'public', :now, :f, 0, 0,"
            " :f, :f)"
        ),
        {"id": str(uuid.uuid4()), "now": "2024-01-01 00:00:00", "f": False},
    )


def test_sync_reports_each_index_build(fresh: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    """Builds that take a while are announced (here: every one), then their end."""
    monkeypatch.setattr(online, "QUIET_SECONDS", 0.0)
    lines: list[str] = []
    fresh.db_sync(progress=lines.append)
    for index, table in (
        ("ix_glancedb_image_members_member_access", "image_members"),
        (NAME_INDEX, "images"),
    ):
        assert any(line.startswith(f"building index {index} on {table}") for line in lines)
        assert any(line.startswith(f"built index {index} in ") for line in lines)


@pytest.mark.backends("mysql")
def test_sync_says_which_tables_it_alters_directly_and_that_writes_wait(
    fresh: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """MySQL/MariaDB widen timestamps only by copying the table; a small
    one is left to the server's copy, which holds writes while it runs -
    briefly, but named.  (Large tables: ``tests/test_online_copy.py``.)"""
    monkeypatch.setattr(online, "QUIET_SECONDS", 0.0)
    lines: list[str] = []
    fresh.db_sync(progress=lines.append)
    for table in ("images", "image_properties", "tasks"):
        assert (
            f"altering table {table} to widen its timestamps (writes to it wait until done)"
            in lines
        )
        assert any(line.startswith(f"altered table {table} in ") for line in lines)


def test_index_builds_use_the_online_form(fresh: Database, backend: str) -> None:
    fresh.db_sync()
    fresh.db_downgrade(BEFORE_NAME_INDEX)
    with count_statements(fresh) as counter:
        fresh.db_upgrade()
    built = [s for s in counter.statements if "CREATE INDEX" in s.upper()]
    online = {
        "postgresql": f"CREATE INDEX CONCURRENTLY {NAME_INDEX} ON images (name)",
        "mysql": f"CREATE INDEX {NAME_INDEX} ON images (name) ALGORITHM=INPLACE LOCK=NONE",
        "sqlite": f"CREATE INDEX {NAME_INDEX} ON images (name)",
    }
    assert built[0] == online[backend]
    # Every later build (the order indexes) in the same form.
    for statement in built:
        if backend == "postgresql":
            assert statement.startswith("CREATE INDEX CONCURRENTLY "), statement
        elif backend == "mysql":
            assert statement.endswith(" ALGORITHM=INPLACE LOCK=NONE"), statement
    assert fresh.db_check() == []


def _postgresql_index_valid(engine: Engine, name: str) -> bool | None:
    with engine.connect() as conn:
        row = conn.execute(
            text(
                "SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
                " WHERE c.relname = :name"
            ),
            {"name": name},
        ).first()
    return None if row is None else bool(row[0])


@pytest.mark.backends("postgresql")
def test_invalid_index_left_by_a_failed_build_is_rebuilt(fresh: Database) -> None:
    """A concurrent build that fails leaves an invalid index of its name behind;
    the next sync drops it and builds the index again."""
    fresh.db_sync()
    fresh.db_downgrade(BEFORE_NAME_INDEX)
    engine = fresh.engine.execution_options(isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        insert_image(conn)
        insert_image(conn)
        # Fails on the duplicate status, leaving an invalid index of that name.
        with pytest.raises(Exception, match="could not create unique index"):
            conn.exec_driver_sql(
                f"CREATE UNIQUE INDEX CONCURRENTLY {NAME_INDEX} ON images (status)"
            )
    assert _postgresql_index_valid(fresh.engine, NAME_INDEX) is False
    lines: list[str] = []
    fresh.db_sync(progress=lines.append)
    assert _postgresql_index_valid(fresh.engine, NAME_INDEX) is True
    assert any("invalid index" in line for line in lines), lines
    assert fresh.db_check() == []


def _build_waiting(engine: Engine, backend: str) -> bool:
    """Whether the index build is waiting for the open transaction."""
    with engine.connect() as conn:
        if backend == "postgresql":
            sql = (
                "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'CREATE INDEX%'"
                " AND wait_event_type = 'Lock'"
            )
        else:
            sql = (
                "SELECT count(*) FROM information_schema.PROCESSLIST"
                " WHERE INFO LIKE 'CREATE INDEX%' AND STATE LIKE '%metadata lock%'"
            )
        return bool(conn.execute(text(sql)).scalar())


@pytest.mark.backends("postgresql", "mysql")
def test_writers_are_not_blocked_while_an_index_builds(fresh: Database, backend: str) -> None:
    """An open transaction holds the table; the build waits for it - and a
    new writer of the table still gets through (a plain CREATE INDEX would
    queue it behind the build: an outage for as long as the build waits and
    runs)."""
    fresh.db_sync()
    fresh.db_downgrade(BEFORE_NAME_INDEX)
    errors: list[BaseException] = []
    lines: list[str] = []

    def build() -> None:
        try:
            fresh.db_upgrade(progress=lines.append)
        except BaseException as exc:  # reported by the test thread
            errors.append(exc)

    with fresh.engine.connect() as holder:
        insert_image(holder)  # uncommitted: the transaction holds the table
        builder = threading.Thread(target=build)
        builder.start()
        deadline = time.monotonic() + 30
        while not _build_waiting(fresh.engine, backend):
            assert time.monotonic() < deadline, "the build never started waiting"
            assert builder.is_alive(), errors
            time.sleep(0.1)
        with fresh.engine.connect() as writer:
            timeout: dict[str, Any] = {
                "postgresql": "SET lock_timeout = '5s'",
                "mysql": "SET SESSION lock_wait_timeout = 5",
            }
            writer.exec_driver_sql(timeout[backend])
            insert_image(writer)  # raises on a lock timeout: blocked behind the build
            writer.commit()
        holder.commit()
    builder.join(timeout=120)
    assert not builder.is_alive() and not errors, errors
    assert fresh.db_check() == []
    if backend == "mysql":
        assert any("waits for it" in line for line in lines), lines


@pytest.mark.backends("postgresql")
def test_hash_index_of_earlier_versions_is_replaced_online(fresh: Database) -> None:
    """A database an earlier glancedb gave the hash index on image_properties.value
    (revision 0003 as it was) gets the B-tree instead, both changes online."""
    fresh.db_sync()
    fresh.db_downgrade("0006_images_sort_order")
    engine = fresh.engine.execution_options(isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.exec_driver_sql("DROP INDEX ix_glancedb_image_properties_name_value")
        conn.exec_driver_sql(
            "CREATE INDEX ix_glancedb_image_properties_value ON image_properties USING hash (value)"
        )
    with count_statements(fresh) as counter:
        fresh.db_upgrade()
    ddl = [
        s
        for s in counter.statements
        if "INDEX" in s.upper() and s.lstrip().startswith(("C", "D")) and "image_properties" in s
    ]
    assert ddl == [
        "CREATE INDEX CONCURRENTLY ix_glancedb_image_properties_name_value ON image_properties"
        " (name, value) WHERE octet_length(value) < 1000",
        "DROP INDEX CONCURRENTLY IF EXISTS ix_glancedb_image_properties_value",
    ]
    assert _postgresql_index_valid(fresh.engine, "ix_glancedb_image_properties_value") is None
    assert fresh.db_check() == []
    fresh.db_downgrade("0006_images_sort_order")  # nothing to undo (but 0009's index)
    assert sorted(fresh.db_check()) == [
        f"database is at revision 0006_images_sort_order, head is {migration.head_revision()}",
        "extra index ix_glancedb_image_members_member_deleted on image_members",
        "index ix_glancedb_image_members_member_access missing on image_members",
    ]


def _traced_statements(database: Database, work: Callable[[], Any]) -> list[tuple[int, str]]:
    """``(connection, SQL)`` of every statement SQLite ran for ``work()``, on
    connections the engine opens from now on."""
    database.dispose()
    statements: list[tuple[int, str]] = []

    def trace(dbapi_connection: Any, _record: Any) -> None:
        key = id(dbapi_connection)
        dbapi_connection.set_trace_callback(lambda sql: statements.append((key, sql)))

    event.listen(database.engine, "connect", trace)
    try:
        work()
    finally:
        event.remove(database.engine, "connect", trace)
    return statements


@pytest.mark.backends("sqlite")
def test_every_writing_transaction_of_a_sync_takes_the_write_lock_at_its_begin(
    fresh: Database,
) -> None:
    """SQLite: a revision reads (does its index exist?) before it writes; in
    a transaction begun without the write lock, a Glance server's commit in
    between makes the write fail at once ("database is locked", whatever the
    busy timeout: measured, one adoption in three at a million images)."""
    fresh.db_sync()
    fresh.db_downgrade(migration.FIRST_REVISION)

    def upgrade_and_sync() -> None:
        fresh.db_upgrade()
        fresh.db_sync()  # at head: its checks and ANALYZE

    statements = [sql for _connection, sql in _traced_statements(fresh, upgrade_and_sync)]
    writing = ("CREATE", "DROP", "INSERT", "UPDATE", "DELETE", "ANALYZE", "ALTER")
    transactions: list[tuple[str, list[str]]] = []
    for sql in statements:
        keyword = sql.lstrip().split(None, 1)[0].upper() if sql.strip() else ""
        if keyword == "BEGIN":
            transactions.append((sql, []))
        elif transactions and keyword not in ("COMMIT", "ROLLBACK"):
            transactions[-1][1].append(sql)
    written = [
        (begin, body)
        for begin, body in transactions
        if any(sql.lstrip().upper().startswith(writing) for sql in body)
    ]
    assert len(written) >= len(migration.history()) - 1
    assert [begin for begin, _ in written] == ["BEGIN IMMEDIATE"] * len(written)


@pytest.mark.backends("sqlite")
def test_sqlite_index_builds_sort_on_worker_threads_then_restore_the_connection(
    fresh: Database,
) -> None:
    """SQLite's builds hold the write lock throughout: each runs with worker
    threads and a small cache (faster), and the pooled connection gets its
    own settings back for the calls that come after."""
    fresh.db_sync()
    fresh.db_downgrade(migration.FIRST_REVISION)
    statements = _traced_statements(fresh, fresh.db_upgrade)
    builds = [i for i, (_key, sql) in enumerate(statements) if sql.startswith("CREATE INDEX")]
    assert len(builds) >= 4
    settings: dict[int, dict[str, str]] = {}
    for position, (key, sql) in enumerate(statements):
        words = sql.replace("=", " ").split()
        if len(words) == 3 and words[0] == "PRAGMA" and words[1] in ("threads", "cache_size"):
            settings.setdefault(key, {})[words[1]] = words[2]
        if position in builds:
            assert int(settings[key]["threads"]) >= 1, sql
            assert settings[key]["cache_size"] == f"-{online.SQLITE_BUILD_CACHE_KIB}", sql
    assert settings and all(
        values == {"threads": "0", "cache_size": "-16384"} for values in settings.values()
    )


@pytest.mark.backends("sqlite")
def test_sqlite_statistics_are_refreshed_one_index_per_transaction(fresh: Database) -> None:
    """ANALYZE holds SQLite's write lock while it reads: a whole-database one
    held writers for 5-11 s at a million images, one index at a time at most
    0.8 s; the statistics are those of a full ANALYZE."""
    fresh.db_sync()
    with fresh.engine.begin() as conn:
        for _ in range(30):
            insert_image(conn)
    statements = _traced_statements(fresh, fresh.db_sync)
    transactions: list[list[str]] = []
    for _key, sql in statements:
        keyword = sql.split(None, 1)[0].upper() if sql.strip() else ""
        if keyword == "BEGIN":
            transactions.append([])
        elif transactions and keyword not in ("COMMIT", "ROLLBACK"):
            transactions[-1].append(sql)
    analyzing = [
        [sql for sql in body if sql.upper().startswith("ANALYZE")] for body in transactions
    ]
    analyzed = [statements[0] for statements in analyzing if statements]
    assert all(len(statements) <= 1 for statements in analyzing)
    with fresh.engine.connect() as conn:
        indexes = conn.exec_driver_sql(
            "SELECT tbl_name, name FROM sqlite_master WHERE type = 'index'"
        ).all()
        tables = conn.exec_driver_sql(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite%'"
        ).scalars()
        indexed = {table for table, _name in indexes}
        expected = {name for _table, name in indexes} | set(tables) - indexed
        assert {sql.split(None, 1)[1].strip('"') for sql in analyzed} == expected
        assert "ix_images_deleted" in expected
        stat = "SELECT tbl, idx, stat FROM sqlite_stat1 ORDER BY tbl, idx"
        after_sync = conn.exec_driver_sql(stat).all()
        conn.exec_driver_sql("DELETE FROM sqlite_stat1")
        conn.exec_driver_sql("PRAGMA analysis_limit=0")
        conn.exec_driver_sql("ANALYZE")
        assert conn.exec_driver_sql(stat).all() == after_sync
        conn.rollback()
