"""Table rebuilds that never block writes, on MySQL/MariaDB.

Changing a column's fractional seconds (revision ``0005``) is a table copy
on MySQL and MariaDB, and the server's own copy blocks every write to the
table until it ends: MariaDB 10.11 refuses ``LOCK=NONE`` for it.  At a
million images that held Glance's inserts into ``image_properties`` for over
a minute.  So :func:`alter_table` rebuilds a large table the way online
schema-change tools do:

1. a *shadow* table, ``<table>__glancedb_new``, created ``LIKE`` the table
   (checks, options), altered while it is empty, with its primary key alone;
2. triggers on the table repeat each insert, update and delete on the
   shadow, inside the writer's own transaction;
3. the rows there are when the copy begins are copied in primary-key
   chunks, each a short READ COMMITTED transaction that share-locks the
   rows it copies (first, then copies them) and no gaps: a writer of one of
   them waits for one chunk at most, a writer of new rows not at all, and a
   chunk never copies a row older than one a trigger already wrote;
4. the shadow gets the table's other indexes, built online in one sorted
   pass each (several times faster than filling them row by row), and its
   foreign keys;
5. each foreign key of another table that references the table is
   replaced, in one statement, by one on the shadow (it holds every row by
   then) under a temporary name;
6. one ``RENAME TABLE`` swaps the shadow in, atomically.  The referencing
   keys follow the shadow, and InnoDB renames the shadow's
   ``<shadow>_ibfk_N`` constraints to ``<table>_ibfk_N``;
7. the referencing keys get their names back and the old table is dropped,
   its triggers with it.

Every step that needs the table's metadata lock waits for it at most
:data:`~glancedb.migrations.online.MYSQL_LOCK_WAIT` seconds and is retried,
as index builds are, so writers never queue long behind it.  A rebuild
interrupted anywhere is cleaned up when it runs again.

A table of fewer than :data:`DIRECT_BELOW_ROWS` rows, one whose primary key
is not one column, one with a foreign key not named the way InnoDB names
them, and every table on a server that refuses triggers (they need the
``TRIGGER`` privilege, and ``SUPER`` when binary logging is on) is altered
directly: a copy of a few thousand rows holds writes for well under a second.
"""

from __future__ import annotations

import contextlib
import logging
import re
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, TextClause, bindparam, text
from sqlalchemy import exc as sa_exc

from glancedb.migrations.online import (
    PROGRESS_INTERVAL,
    Progress,
    error_code,
    reported_step,
    run_mysql_ddl,
    say,
)

LOG = logging.getLogger("glancedb")

#: Tables with fewer rows are altered directly (the server's own copy).
DIRECT_BELOW_ROWS = 10_000
#: Rows per copied chunk: a writer of one of them waits for one chunk at most.
CHUNK_ROWS = 2_000
#: Attempts of one chunk that hits a deadlock (Galera: a certification
#: failure) or a row-lock timeout.
CHUNK_ATTEMPTS = 10

SHADOW_SUFFIX = "__glancedb_new"
OLD_SUFFIX = "__glancedb_old"
#: Suffix of a referencing foreign key's temporary name while it points at
#: the shadow.
MOVED_KEY_SUFFIX = "__glancedb"
TRIGGER_EVENTS = ("insert", "update", "delete")

#: Server errors: a privilege missing to create triggers (1142, 1227, and
#: 1419 with binary logging); a deadlock or certification failure (1213); a
#: row-lock wait timeout (1205).
_NO_TRIGGER_PRIVILEGE = frozenset({1142, 1227, 1419})
_CHUNK_RETRYABLE = frozenset({1205, 1213})


@dataclass(frozen=True)
class ForeignKey:
    """One foreign key, as ``information_schema`` describes it."""

    name: str
    table: str
    columns: tuple[str, ...]
    referenced_table: str
    referenced_columns: tuple[str, ...]
    on_delete: str
    on_update: str

    def clause(self, name: str, referenced_table: str) -> str:
        """``ADD CONSTRAINT`` text for this key, named ``name``, on ``referenced_table``."""
        rules = "".join(
            f" ON {event} {rule}"
            for event, rule in (("DELETE", self.on_delete), ("UPDATE", self.on_update))
            if rule != "RESTRICT"
        )
        return (
            f"ADD CONSTRAINT `{name}` FOREIGN KEY ({_names(self.columns)})"
            f" REFERENCES `{referenced_table}` ({_names(self.referenced_columns)}){rules}"
        )


def alter_table(
    conn: Connection,
    table: str,
    alterations: str,
    report: Progress | None,
    *,
    why: str,
    done: Callable[[Connection], bool] | None = None,
) -> None:
    """Apply ``alterations`` (``ALTER TABLE`` clauses) to ``table`` without
    blocking its writers (see the module); ``conn`` autocommits.

    ``why`` names the change in progress lines ("to widen its timestamps");
    ``done`` tells whether the table has it already (a revision run again
    after an interruption), which skips the table.
    """
    _clean_up(conn, table)
    if done is not None and done(conn):
        return
    primary_key = _primary_key(conn, table)
    own_keys = _foreign_keys(conn, table=table)
    copyable = (
        len(primary_key) == 1
        and all(key.name.startswith(f"{table}_ibfk_") for key in own_keys)
        and _has_rows(conn, table, DIRECT_BELOW_ROWS)
    )
    if copyable and _copy(conn, table, primary_key[0], own_keys, alterations, report, why):
        return
    with reported_step(
        report,
        f"altering table {table} {why} (writes to it wait until done)",
        f"altered table {table}",
        monitored=conn,
    ):
        # No metadata-lock timeout here: a copy refused the lock at its end
        # would copy the whole table again.
        conn.exec_driver_sql(f"ALTER TABLE `{table}` {alterations}")


def _copy(
    conn: Connection,
    table: str,
    key: str,
    own_keys: Sequence[ForeignKey],
    alterations: str,
    report: Progress | None,
    why: str,
) -> bool:
    """Rebuild ``table`` through a shadow; False when the server refuses triggers
    (nothing is left behind)."""
    shadow = table + SHADOW_SUFFIX
    columns = _columns(conn, table)
    indexes = _secondary_indexes(conn, table)
    conn.exec_driver_sql(f"CREATE TABLE `{shadow}` LIKE `{table}`")
    # The copy fills the primary key alone (step 4 builds the others).
    dropped = "".join(f", DROP INDEX `{name}`" for name, _clause in indexes)
    conn.exec_driver_sql(f"ALTER TABLE `{shadow}` {alterations}{dropped}")
    try:
        for event in TRIGGER_EVENTS:
            run_mysql_ddl(conn, _trigger(table, shadow, key, columns, event), table, report)
    except sa_exc.DBAPIError as exc:
        _clean_up(conn, table)
        if error_code(exc) not in _NO_TRIGGER_PRIVILEGE:
            raise
        say(report, f"cannot create triggers on {table} ({exc.orig}): altering it directly")
        return False
    try:
        with reported_step(
            report,
            f"copying table {table} {why} (writes go on)",
            f"copied table {table}",
        ):
            _copy_rows(conn, table, shadow, key, columns, report)
            _complete_shadow(conn, table, shadow, indexes, own_keys, report)
            _swap(conn, table, shadow, report)
    except BaseException:
        # An interrupt in mid-statement leaves the connection unusable: the
        # next run cleans up instead.
        if not conn.invalidated:
            try:
                _clean_up(conn, table)
            except sa_exc.SQLAlchemyError:
                LOG.warning("cleaning up the rebuild of %s failed", table, exc_info=True)
        raise
    conn.exec_driver_sql(f"DROP TABLE IF EXISTS `{table}{OLD_SUFFIX}`")
    return True


def _copy_rows(
    conn: Connection,
    table: str,
    shadow: str,
    key: str,
    columns: Sequence[str],
    report: Progress | None,
) -> None:
    estimate = _estimated_rows(conn, table)
    names = _names(columns)
    # READ COMMITTED: a chunk locks the rows it copies and no gaps, so a
    # writer inserting beside them neither waits for it nor deadlocks with
    # it (a deadlock's victim would be the writer, the smaller transaction).
    # Statement-based binary logging refuses INSERT ... SELECT at that level.
    statement_logged = conn.exec_driver_sql(
        "SELECT @@GLOBAL.log_bin AND @@SESSION.binlog_format = 'STATEMENT'"
    ).scalar()
    isolation = "" if statement_logged else "SET TRANSACTION ISOLATION LEVEL READ COMMITTED"
    # Up to the last row there is now: every row written later is in the
    # shadow already (the triggers exist), so the copy is a fixed amount of
    # work, not a chase after rows that writers keep inserting.
    end = conn.exec_driver_sql(f"SELECT MAX(`{key}`) FROM `{table}`").scalar()
    if end is None:
        return
    copied = 0
    last: Any = None
    reported = time.monotonic()
    while True:
        bounds = [] if last is None else [f"`{key}` > :last"]
        upper = conn.execute(
            text(
                f"SELECT `{key}` FROM `{table}` WHERE {' AND '.join([*bounds, f'`{key}` <= :end'])}"
                f" ORDER BY `{key}` LIMIT 1 OFFSET {CHUNK_ROWS - 1}"
            ),
            {"last": last, "end": end},
        ).scalar()
        if upper is None:
            upper = end
        where = " AND ".join([*bounds, f"`{key}` <= :upper"])
        params = {"last": last, "upper": upper}
        _copy_chunk(
            conn,
            # The rows' locks first, then the copy: an INSERT ... SELECT
            # holds the shadow's AUTO-INC lock until it ends (a "bulk
            # insert" to InnoDB), and a writer's trigger needs that lock.
            # Had the copy waited for a writer's row meanwhile (one in the
            # range, or the one just past it, which the scan also locks),
            # each would wait for the other: measured, a writer's insert
            # refused as a deadlock at a million images.
            text(
                f"SELECT COUNT(*) FROM `{table}` FORCE INDEX (PRIMARY) WHERE {where}"
                " LOCK IN SHARE MODE"
            ),
            text(
                f"INSERT IGNORE INTO `{shadow}` ({names}) SELECT {names} FROM `{table}`"
                f" WHERE {where} LOCK IN SHARE MODE"
            ),
            params,
            isolation,
        )
        if upper == end:
            return
        last = upper
        copied += CHUNK_ROWS
        if report is not None and time.monotonic() - reported >= PROGRESS_INTERVAL:
            share = min(99, 100 * copied // estimate) if estimate else 0
            report(f"  {table}: {copied:,} rows copied (about {share}%)")
            reported = time.monotonic()


def _copy_chunk(
    conn: Connection,
    lock_rows: TextClause,
    copy_rows: TextClause,
    params: dict[str, Any],
    isolation: str,
) -> None:
    """One chunk in one transaction: ``lock_rows``, then ``copy_rows``
    (retried when a writer's lock outlasts the wait, or on a deadlock)."""
    for attempt in range(1, CHUNK_ATTEMPTS + 1):
        try:
            if isolation:
                conn.exec_driver_sql(isolation)  # the next transaction: the chunk's
            conn.exec_driver_sql("START TRANSACTION")
            conn.execute(lock_rows, params)
            conn.execute(copy_rows, params)
            conn.exec_driver_sql("COMMIT")
            return
        except sa_exc.DBAPIError as exc:
            if not conn.invalidated:
                with contextlib.suppress(sa_exc.DBAPIError):
                    conn.exec_driver_sql("ROLLBACK")
            retry = isinstance(exc, sa_exc.OperationalError) and attempt < CHUNK_ATTEMPTS
            if not retry or error_code(exc) not in _CHUNK_RETRYABLE:
                raise
            time.sleep(0.1 * attempt)


def _complete_shadow(
    conn: Connection,
    table: str,
    shadow: str,
    indexes: Sequence[tuple[str, str]],
    own_keys: Sequence[ForeignKey],
    report: Progress | None,
) -> None:
    """Give the filled shadow ``table``'s indexes and foreign keys, online."""
    if indexes:
        with reported_step(
            report,
            f"  {table}: building the indexes of the copy",
            f"  {table}: built the indexes of the copy",
            monitored=conn,
        ):
            _alter_online(
                conn, shadow, ", ".join(clause for _name, clause in indexes), table, report
            )
    if own_keys:
        # Named <shadow>_ibfk_N, which the swap renames to <table>_ibfk_N.
        clauses = ", ".join(
            fk.clause(shadow + fk.name[len(table) :], fk.referenced_table) for fk in own_keys
        )
        with _without_key_checks(conn):
            _alter_online(conn, shadow, clauses, table, report)


def _swap(conn: Connection, table: str, shadow: str, report: Progress | None) -> None:
    """Point the referencing keys at the shadow, then swap it in (steps 5 to 7)."""
    referencing = _foreign_keys(conn, referenced_table=table)
    with _without_key_checks(conn):
        for fk in referencing:
            moved = fk.name + MOVED_KEY_SUFFIX
            clauses = f"{fk.clause(moved, shadow)}, DROP FOREIGN KEY `{fk.name}`"
            _alter_online(conn, fk.table, clauses, fk.table, report)
    auto_increment = conn.execute(
        text(
            "SELECT AUTO_INCREMENT FROM information_schema.TABLES"
            " WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = :table"
        ),
        {"table": table},
    ).scalar()
    if auto_increment is not None:
        # Ids the old table handed out and lost (a rollback, a hard delete)
        # are not handed out again.
        conn.exec_driver_sql(f"ALTER TABLE `{shadow}` AUTO_INCREMENT = {int(auto_increment)}")
    run_mysql_ddl(
        conn,
        f"RENAME TABLE `{table}` TO `{table}{OLD_SUFFIX}`, `{shadow}` TO `{table}`",
        table,
        report,
    )
    _restore_referencing_keys(conn, table, report)


def _clean_up(conn: Connection, table: str) -> None:
    """Undo what an interrupted or failed rebuild of ``table`` left: its
    triggers, the referencing keys' temporary names, the shadow, the old table."""
    # Only those that exist: without the privilege to create triggers
    # (binary logging on), even DROP TRIGGER IF EXISTS is refused.
    names = [_trigger_name(table, event) for event in TRIGGER_EVENTS]
    existing = (
        conn.execute(
            text(
                "SELECT TRIGGER_NAME FROM information_schema.TRIGGERS"
                " WHERE TRIGGER_SCHEMA = DATABASE() AND TRIGGER_NAME IN :names"
            ).bindparams(bindparam("names", expanding=True)),
            {"names": names},
        )
        .scalars()
        .all()
    )
    for name in existing:
        conn.exec_driver_sql(f"DROP TRIGGER `{name}`")
    _restore_referencing_keys(conn, table, None)
    conn.exec_driver_sql(f"DROP TABLE IF EXISTS `{table}{SHADOW_SUFFIX}`")
    conn.exec_driver_sql(f"DROP TABLE IF EXISTS `{table}{OLD_SUFFIX}`")


def _restore_referencing_keys(conn: Connection, table: str, report: Progress | None) -> None:
    """Every key moved to a temporary name (pointing at the shadow, or at
    ``table`` since the swap) gets its own name back, on ``table``."""
    moved = [
        fk
        for referenced in (table, table + SHADOW_SUFFIX)
        for fk in _foreign_keys(conn, referenced_table=referenced)
        if fk.name.endswith(MOVED_KEY_SUFFIX)
    ]
    if not moved:
        return
    present = {
        other.name
        for owner in {fk.table for fk in moved}
        for other in _foreign_keys(conn, table=owner)
    }
    with _without_key_checks(conn):
        for fk in moved:
            original = fk.name[: -len(MOVED_KEY_SUFFIX)]
            restore = "" if original in present else f"{fk.clause(original, table)}, "
            _alter_online(
                conn, fk.table, f"{restore}DROP FOREIGN KEY `{fk.name}`", fk.table, report
            )


def _alter_online(
    conn: Connection, target: str, clauses: str, table: str, report: Progress | None
) -> None:
    """``ALTER TABLE target clauses`` in place, writes going on (the server
    refuses rather than copy); ``table`` is the table being rebuilt."""
    run_mysql_ddl(
        conn, f"ALTER TABLE `{target}` {clauses}, ALGORITHM=INPLACE, LOCK=NONE", table, report
    )


@contextmanager
def _without_key_checks(conn: Connection) -> Iterator[None]:
    # Adding a foreign key in place (no copy, writes go on) requires the
    # checks off; every key added here holds for every row already.
    conn.exec_driver_sql("SET SESSION foreign_key_checks = 0")
    try:
        yield
    finally:
        conn.exec_driver_sql("SET SESSION foreign_key_checks = 1")


def _trigger_name(table: str, event: str) -> str:
    return f"{table}__glancedb_{event}"


def _trigger(table: str, shadow: str, key: str, columns: Sequence[str], event: str) -> str:
    head = (
        f"CREATE TRIGGER `{_trigger_name(table, event)}` AFTER {event.upper()} ON `{table}`"
        " FOR EACH ROW "
    )
    if event == "delete":
        return head + f"DELETE IGNORE FROM `{shadow}` WHERE `{key}` <=> OLD.`{key}`"
    # An upsert, not REPLACE: REPLACE deletes first, which a row referenced
    # by another table's foreign key refuses.
    upsert = (
        f"INSERT INTO `{shadow}` ({_names(columns)})"
        f" VALUES ({', '.join(f'NEW.`{column}`' for column in columns)})"
        " ON DUPLICATE KEY UPDATE "
        + ", ".join(f"`{column}` = VALUES(`{column}`)" for column in columns)
    )
    if event == "insert":
        return head + upsert
    return (
        head + f"BEGIN DELETE IGNORE FROM `{shadow}` WHERE `{key}` <=> OLD.`{key}`"
        f" AND NOT (OLD.`{key}` <=> NEW.`{key}`); {upsert}; END"
    )


def _names(columns: Sequence[str]) -> str:
    return ", ".join(f"`{column}`" for column in columns)


def _columns(conn: Connection, table: str) -> list[str]:
    return _column_names(conn, "COLUMNS", table)


def _primary_key(conn: Connection, table: str) -> list[str]:
    return _column_names(conn, "KEY_COLUMN_USAGE", table, " AND CONSTRAINT_NAME = 'PRIMARY'")


def _column_names(conn: Connection, view: str, table: str, condition: str = "") -> list[str]:
    """Column names of ``table`` in ``information_schema.<view>``, in order."""
    return list(
        conn.execute(
            text(
                f"SELECT COLUMN_NAME FROM information_schema.{view}"
                f" WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = :table{condition}"
                " ORDER BY ORDINAL_POSITION"
            ),
            {"table": table},
        ).scalars()
    )


_INDEX_LINE = re.compile(r"^\s*((?:UNIQUE |FULLTEXT |SPATIAL )?KEY `((?:[^`]|``)+)` .+?),?$")


def _secondary_indexes(conn: Connection, table: str) -> list[tuple[str, str]]:
    """(name, ``ADD ...`` clause) of every index of ``table`` but its primary
    key, exactly as the server shows them (prefix lengths included)."""
    ddl = conn.exec_driver_sql(f"SHOW CREATE TABLE `{table}`").one()[1]
    found = []
    for line in str(ddl).splitlines():
        match = _INDEX_LINE.match(line)
        if match is not None:
            found.append((match.group(2).replace("``", "`"), f"ADD {match.group(1)}"))
    return found


def _has_rows(conn: Connection, table: str, count: int) -> bool:
    """Whether ``table`` holds at least ``count`` rows (reads at most that many)."""
    if count <= 0:
        return True
    found = conn.exec_driver_sql(f"SELECT 1 FROM `{table}` LIMIT 1 OFFSET {count - 1}").first()
    return found is not None


def _estimated_rows(conn: Connection, table: str) -> int:
    rows = conn.execute(
        text(
            "SELECT TABLE_ROWS FROM information_schema.TABLES"
            " WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = :table"
        ),
        {"table": table},
    ).scalar()
    return int(rows or 0)


def _foreign_keys(
    conn: Connection, *, table: str | None = None, referenced_table: str | None = None
) -> list[ForeignKey]:
    """The foreign keys of ``table``, or those referencing ``referenced_table``."""
    column, value = (
        ("TABLE_NAME", table)
        if table is not None
        else (
            "REFERENCED_TABLE_NAME",
            referenced_table,
        )
    )
    rows = conn.execute(
        text(
            "SELECT r.CONSTRAINT_NAME, r.TABLE_NAME, r.REFERENCED_TABLE_NAME,"
            " r.DELETE_RULE, r.UPDATE_RULE, k.COLUMN_NAME, k.REFERENCED_COLUMN_NAME"
            " FROM information_schema.REFERENTIAL_CONSTRAINTS r"
            " JOIN information_schema.KEY_COLUMN_USAGE k"
            " ON k.CONSTRAINT_SCHEMA = r.CONSTRAINT_SCHEMA"
            " AND k.CONSTRAINT_NAME = r.CONSTRAINT_NAME AND k.TABLE_NAME = r.TABLE_NAME"
            f" WHERE r.CONSTRAINT_SCHEMA = DATABASE() AND r.{column} = :value"
            " ORDER BY r.TABLE_NAME, r.CONSTRAINT_NAME, k.ORDINAL_POSITION"
        ),
        {"value": value},
    ).all()
    keys: dict[tuple[str, str], list[Any]] = {}
    for name, owner, referenced, on_delete, on_update, own, their in rows:
        entry = keys.setdefault((owner, name), [referenced, on_delete, on_update, [], []])
        entry[3].append(own)
        entry[4].append(their)
    return [
        ForeignKey(name, owner, tuple(own), referenced, tuple(their), on_delete, on_update)
        for (owner, name), (referenced, on_delete, on_update, own, their) in keys.items()
    ]
