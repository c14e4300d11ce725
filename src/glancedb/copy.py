"""Copy a whole Glance database to another database, any engine to any engine.

:func:`copy_database` reads every table of the source in one read-only
transaction (one snapshot), parents before children, in batches ordered by
primary key (the shared keyset pager), and writes each batch to the target
in its own transaction: memory stays bounded by one batch whatever the size
of the database.  Every column is copied as the models type it (ids,
timestamps, JSON text, booleans, PostgreSQL's enum), then the target's
sequences (PostgreSQL) and ``AUTO_INCREMENT`` counters (MySQL) are moved past
the copied ids, so that new rows get fresh ones.

The copy is verified: per table, the rows read from the source and the rows
found in the target are counted and hashed the same way (each row's values
normalised, hashed, and the hashes added up, so that the backends' different
orders of text keys do not matter).  A target column that cannot hold what
the source holds (MySQL ``DATETIME`` without fractional seconds) gets the
value truncated, both sides are compared at that precision, and the result
says so.

The target gets glancedb's schema first (:meth:`~glancedb.Database.db_sync`);
a target holding rows is refused unless ``force``, which empties it first.
Glance's own ``alembic_version`` is copied too when the source has one, so a
copy of a database Glance uses can serve Glance.
"""

from __future__ import annotations

import datetime
import decimal
import hashlib
import json
import logging
import os.path
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    Column,
    Connection,
    MetaData,
    String,
    Table,
    delete,
    func,
    insert,
    inspect,
    literal,
    select,
    text,
)

from glancedb.database import Database
from glancedb.driver_errors import translated_errors
from glancedb.engines import sqlite_file
from glancedb.exception import GlanceDBError, Invalid, SchemaError
from glancedb.keyset import OrderKey, paginate
from glancedb.migration import GLANCE_VERSION_TABLE
from glancedb.models.tables import DELETE_ORDER

LOG = logging.getLogger("glancedb.copy")

#: Rows read and written per batch (one target transaction each).
COPY_BATCH_SIZE = 2000

#: Parents before children: the order rows can be inserted in.
COPY_ORDER: tuple[Table, ...] = tuple(reversed(DELETE_ORDER))

#: Glance's version table (copied when the source has it), as Glance creates it.
GLANCE_VERSION = Table(
    GLANCE_VERSION_TABLE,
    MetaData(),
    Column("version_num", String(32), primary_key=True),
)

#: ``progress(table, rows_copied_so_far, rows_in_table)``, after each batch.
CopyProgress = Callable[[str, int, int], None]


@dataclass
class TableCopy:
    """One table's copy: rows read and found, and both sides' checksums."""

    table: str
    source_rows: int = 0
    target_rows: int = 0
    source_checksum: str = ""
    target_checksum: str = ""
    #: Timestamps whose microseconds the target could not keep.
    microseconds_dropped: int = 0

    @property
    def verified(self) -> bool:
        """Whether the target holds exactly the source's rows."""
        return self.source_rows == self.target_rows and self.source_checksum == self.target_checksum


@dataclass
class CopyResult:
    """What :func:`copy_database` did, table by table, and what it noticed."""

    tables: list[TableCopy] = field(default_factory=list)
    #: What preparing the target's schema did (see :meth:`Database.db_sync`).
    target_schema: str = ""
    #: Rows deleted from the target first (``force``).
    emptied: int = 0
    #: Things worth knowing (values the target cannot hold exactly).
    notes: list[str] = field(default_factory=list)

    @property
    def verified(self) -> bool:
        """Whether every table's row count and checksum match."""
        return all(table.verified for table in self.tables)

    @property
    def rows(self) -> int:
        """Rows copied in all."""
        return sum(table.source_rows for table in self.tables)


def _as_database(value: Database | str) -> tuple[Database, bool]:
    if isinstance(value, Database):
        return value, False
    return Database(value), True


def copy_database(
    source: Database | str,
    target: Database | str,
    *,
    force: bool = False,
    batch_size: int = COPY_BATCH_SIZE,
    progress: CopyProgress | None = None,
) -> CopyResult:
    """Copy every row of the glancedb/Glance database ``source`` into ``target``.

    :param source: the database to read (a :class:`Database` or a URL); it
        must have glancedb's schema (at any known revision) or be a Glance
        2024.1 database.  Nothing is written to it.
    :param target: the database to fill (a :class:`Database` or a URL); its
        schema is brought to head with ``db_sync()``.
    :param force: empty a target that holds rows first (otherwise refused).
    :param batch_size: rows per batch (and per target transaction).
    :param progress: called after each batch with the table's name, its rows
        copied so far and its row count.
    :returns: the per-table counts and checksums; check
        :attr:`CopyResult.verified`.
    :raises Invalid: same database, bad batch size, or a target holding rows
        without ``force``.
    :raises SchemaError: a source without glancedb's (or Glance's) schema.
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise Invalid(f"batch_size must be a positive integer, got {batch_size!r}")
    source_db, close_source = _as_database(source)
    target_db, close_target = _as_database(target)
    try:
        if _same_database(source_db, target_db):
            raise Invalid("The source and target are the same database")
        _check_source(source_db)
        result = CopyResult()
        result.target_schema = target_db.db_sync()
        # A read transaction is one snapshot on every backend (PostgreSQL's
        # runs at REPEATABLE READ): every table is read as of one moment.
        with source_db.transaction(write=False) as source_conn:
            tables = [*COPY_ORDER]
            if _has_table(source_conn, GLANCE_VERSION_TABLE):
                tables.append(GLANCE_VERSION)
                _create_glance_version(target_db)
            result.emptied = _prepare_target(target_db, tables, force)
            truncated = _second_precision_columns(target_db, tables)
            for table in tables:
                copied = _copy_table(source_conn, target_db, table, truncated, batch_size, progress)
                result.tables.append(copied)
        dropped = sum(copied.microseconds_dropped for copied in result.tables)
        if dropped:
            result.notes.append(
                f"{dropped} timestamps lost their microseconds: the target's DATETIME columns"
                " keep whole seconds (both sides were compared without them)"
            )
        _reset_counters(target_db, tables)
        for copied in result.tables:
            table = next(t for t in tables if t.name == copied.table)
            copied.target_rows, copied.target_checksum = _target_checksum(
                target_db, table, truncated, batch_size
            )
        LOG.info("copied %d rows in %d tables", result.rows, len(result.tables))
        return result
    finally:
        if close_source:
            source_db.dispose()
        if close_target:
            target_db.dispose()


# --- checks and preparation --------------------------------------------------------------


def _same_database(source: Database, target: Database) -> bool:
    def key(database: Database) -> str:
        path = sqlite_file(database.url)
        if path is not None:
            return f"sqlite:{os.path.realpath(path)}"
        url = database.url.set(query={}, drivername=database.url.get_backend_name())
        return url.render_as_string(hide_password=True)

    return key(source) == key(target)


def _check_source(source: Database) -> None:
    revisions = source.db_revisions()
    if revisions.current is None and revisions.glance is None:
        raise SchemaError(
            "The source has neither glancedb's schema nor Glance's: nothing to copy"
            " ('glancedb db check' on it says what it holds)"
        )


def _has_table(connection: Connection, name: str) -> bool:
    return bool(inspect(connection).has_table(name))


def _create_glance_version(target: Database) -> None:
    with target.transaction() as conn:
        GLANCE_VERSION.create(conn, checkfirst=True)


def _prepare_target(target: Database, tables: Sequence[Table], force: bool) -> int:
    """Refuse a target holding rows, or (``force``) empty it; return rows deleted."""
    with target.transaction() as conn:
        occupied = [
            table.name
            for table in tables
            if conn.execute(select(literal(1)).select_from(table).limit(1)).first() is not None
        ]
        if not occupied:
            return 0
        if not force:
            raise Invalid(
                "The target database already holds rows (in "
                + ", ".join(occupied)
                + "): copy into an empty database, or pass force (--force) to empty it first"
            )
        deleted = 0
        # Children first, so that no foreign key is violated on the way.
        for table in reversed(tables):
            deleted += conn.execute(delete(table)).rowcount or 0
    LOG.info("emptied the target: %d rows deleted", deleted)
    return deleted


def _second_precision_columns(target: Database, tables: Sequence[Table]) -> set[str]:
    """``table.column`` names of datetime columns the target stores without fractions."""
    if target.backend not in ("mysql", "mariadb"):
        return set()
    found: set[str] = set()
    with translated_errors(), target.engine.connect() as conn:
        inspector = inspect(conn)
        for table in tables:
            for column in inspector.get_columns(table.name):
                if "DATETIME" in str(column["type"]).upper() and not getattr(
                    column["type"], "fsp", None
                ):
                    found.add(f"{table.name}.{column['name']}")
    return found


# --- copying -------------------------------------------------------------------------------


def _batches(
    connection: Connection, table: Table, batch_size: int
) -> Iterator[list[dict[str, Any]]]:
    """The rows of ``table`` in primary-key order, one batch per query (keyset)."""
    keys = [OrderKey(column, "asc") for column in table.primary_key.columns]
    marker: dict[str, Any] | None = None
    while True:
        query = paginate(select(table), keys, marker, batch_size)
        rows = [dict(row._mapping) for row in connection.execute(query)]
        if not rows:
            return
        yield rows
        if len(rows) < batch_size:
            return
        marker = {key.column.name: rows[-1][key.column.name] for key in keys}


def _truncate(table: Table, rows: list[dict[str, Any]], truncated: set[str]) -> int:
    """Drop the microseconds the target cannot keep; return how many values had some."""
    names = [c.name for c in table.columns if f"{table.name}.{c.name}" in truncated]
    changed = 0
    for row in rows:
        for name in names:
            value = row[name]
            if isinstance(value, datetime.datetime) and value.microsecond:
                row[name] = value.replace(microsecond=0)
                changed += 1
    return changed


def _copy_table(
    source: Connection,
    target: Database,
    table: Table,
    truncated: set[str],
    batch_size: int,
    progress: CopyProgress | None,
) -> TableCopy:
    copied = TableCopy(table=table.name)
    total = source.execute(select(func.count()).select_from(table)).scalar_one()
    checksum = _Checksum()

    @target.transaction()
    def write(rows: list[dict[str, Any]]) -> None:
        with target.transaction() as conn:
            conn.execute(insert(table), rows)

    for rows in _batches(source, table, batch_size):
        copied.microseconds_dropped += _truncate(table, rows, truncated)
        try:
            write(rows)
        except GlanceDBError as exc:
            raise type(exc)(f"Copying table {table.name}: {exc.msg}") from exc
        for row in rows:
            checksum.add(table, row)
        copied.source_rows += len(rows)
        if progress is not None:
            progress(table.name, copied.source_rows, total)
    if progress is not None and copied.source_rows == 0:
        progress(table.name, 0, total)
    copied.source_checksum = checksum.hexdigest()
    return copied


def _reset_counters(target: Database, tables: Sequence[Table]) -> None:
    """Move the target's id generators past the copied ids."""
    backend = target.backend
    if backend == "sqlite":
        return  # SQLite continues after the largest rowid by itself
    with target.transaction() as conn:
        for table in tables:
            column = table.autoincrement_column
            if column is None:
                continue
            top = conn.execute(select(func.max(column))).scalar_one() or 0
            if backend == "postgresql":
                conn.execute(
                    text("SELECT setval(pg_get_serial_sequence(:table, :column), :next, false)"),
                    {"table": table.name, "column": column.name, "next": top + 1},
                )
            else:
                conn.exec_driver_sql(f"ALTER TABLE {table.name} AUTO_INCREMENT = {top + 1}")


# --- verification --------------------------------------------------------------------------


class _Checksum:
    """An order-independent digest of rows: the sum of each row's SHA-256."""

    _MODULUS = 2**256

    def __init__(self) -> None:
        self.total = 0

    def add(self, table: Table, row: Mapping[str, Any]) -> None:
        values = [_normalised(row[column.name]) for column in table.columns]
        encoded = json.dumps(values, ensure_ascii=False, separators=(",", ":"))
        digest = hashlib.sha256(encoded.encode("utf-8", "surrogatepass")).digest()
        self.total = (self.total + int.from_bytes(digest, "big")) % self._MODULUS

    def hexdigest(self) -> str:
        return f"{self.total:064x}"


def _normalised(value: Any) -> Any:
    """A value in a form every backend's driver gives back alike."""
    if value is None:
        return None
    if isinstance(value, bool):
        return ["b", value]
    if isinstance(value, int):
        return ["i", str(value)]
    if isinstance(value, decimal.Decimal):
        return ["i", str(int(value))] if value == value.to_integral_value() else ["f", str(value)]
    if isinstance(value, float):
        return ["f", repr(value)]
    if isinstance(value, datetime.datetime):
        return ["t", value.replace(tzinfo=None).isoformat(timespec="microseconds")]
    if isinstance(value, bytes):
        return ["x", value.hex()]
    return ["s", str(value)]


def _target_checksum(
    target: Database, table: Table, truncated: set[str], batch_size: int
) -> tuple[int, str]:
    checksum = _Checksum()
    count = 0
    with target.transaction(write=False) as conn:
        for rows in _batches(conn, table, batch_size):
            _truncate(table, rows, truncated)
            for row in rows:
                checksum.add(table, row)
            count += len(rows)
    return count, checksum.hexdigest()


def describe_failures(result: CopyResult) -> str:
    """One line naming every table whose copy does not match the source."""
    return "; ".join(
        f"{t.table}: {t.source_rows} rows read, {t.target_rows} found"
        + ("" if t.source_rows != t.target_rows else ", checksums differ")
        for t in result.tables
        if not t.verified
    )


__all__ = [
    "COPY_BATCH_SIZE",
    "CopyProgress",
    "CopyResult",
    "TableCopy",
    "copy_database",
    "describe_failures",
]
