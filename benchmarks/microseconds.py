"""Time of revision 0005_mysql_microseconds on a MySQL/MariaDB catalogue.

    python -m benchmarks.microseconds --images 100000 [--url mysql+pymysql://...]

Builds a catalogue of ``--images`` images (~10 properties, 2 locations and 3
tags each, see :mod:`benchmarks.catalogue`) in a database at revision
``0004_images_name`` (Glance's DATETIME columns), then times the upgrade to
``0005_mysql_microseconds`` (every timestamp column to DATETIME(6)), each
table's rebuild on its own (the server's copy for a small table, glancedb's
online copy for a large one: :mod:`glancedb.migrations.online_copy`), and the
downgrade back.
``--direct`` also times the revision with every table left to the server's
own copy (which blocks writes), ``--per-column`` the same widening done one
``ALTER TABLE`` per column (Alembic's ``alter_column``), for comparison.  The database
(default ``glancedb_bench_microseconds`` on the server of
``GLANCEDB_BENCH_MYSQL_URL``, else the local default server) is dropped and
created again: point ``--url`` at a database of your own.
"""

from __future__ import annotations

import argparse
import importlib
import os
import re
import sys
import time
from functools import partial
from typing import Any

from sqlalchemy import URL, create_engine, func, select, text
from sqlalchemy.engine import make_url

from benchmarks.catalogue import build_catalogue
from glancedb import Database, migration
from glancedb.migrations import online, online_copy
from glancedb.models import tables as t

BEFORE = "0004_images_name"
REVISION = "0005_mysql_microseconds"
DEFAULT_URL = "mysql+pymysql://root@127.0.0.1:3306/glancedb_bench_microseconds"


def recreate(url: URL) -> None:
    """Drop and create the (MySQL) database ``url`` names."""
    engine = create_engine(url.set(database=""), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS `{url.database}`"))
            conn.execute(text(f"CREATE DATABASE `{url.database}` CHARACTER SET utf8"))
    finally:
        engine.dispose()


class TableTimes:
    """How long each table's rebuild took, as the revision reports it."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def __call__(self, line: str) -> None:
        self.lines.append(line)

    def tables(self) -> list[tuple[str, str, float]]:
        """(table, "copied online" or "altered directly", seconds) in order."""
        found = []
        for line in self.lines:
            match = re.match(r"(copied|altered) table (\S+) in ([0-9.]+)s$", line)
            if match:
                how = "copied online" if match.group(1) == "copied" else "altered directly"
                found.append((match.group(2), how, float(match.group(3))))
        return found


def _direct(run: Any, engine: Any, target: str, progress: Any) -> None:
    """``run`` with no table copied online (the server's own, write-blocking copy)."""
    saved = online_copy.DIRECT_BELOW_ROWS
    online_copy.DIRECT_BELOW_ROWS = sys.maxsize
    try:
        run(engine, target, progress=progress)
    finally:
        online_copy.DIRECT_BELOW_ROWS = saved


_direct_upgrade = partial(_direct, migration.upgrade)
_direct_downgrade = partial(_direct, migration.downgrade)


def row_counts(db: Database) -> dict[str, int]:
    with db.engine.connect() as conn:
        return {
            table.name: int(conn.execute(select(func.count()).select_from(table)).scalar_one())
            for table in t.DELETE_ORDER
        }


def timed(label: str, action: Any) -> float:
    started = time.perf_counter()
    action()
    elapsed = time.perf_counter() - started
    print(f"{label}: {elapsed:.1f} s", flush=True)
    return elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--images", type=int, default=100_000)
    parser.add_argument("--url", help="a MySQL/MariaDB database of your own (dropped first)")
    parser.add_argument(
        "--per-column", action="store_true", help="also time one ALTER TABLE per column"
    )
    parser.add_argument(
        "--direct",
        action="store_true",
        help="also time the revision with every table altered by the server's own copy",
    )
    args = parser.parse_args(argv)
    url = make_url(args.url or os.environ.get("GLANCEDB_BENCH_MYSQL_URL") or DEFAULT_URL)
    if url.get_backend_name() not in ("mysql", "mariadb"):
        parser.error("the revision changes MySQL/MariaDB only: give a mysql:// URL")
    recreate(url)
    db = Database(url)
    with db.engine.connect() as conn:
        version = conn.execute(text("SELECT VERSION()")).scalar_one()
    print(f"server {version}, {args.images} images", flush=True)
    migration.upgrade(db.engine, BEFORE)
    timed("catalogue built", lambda: build_catalogue(db.engine, args.images))
    counts = row_counts(db)
    print(", ".join(f"{name} {count}" for name, count in counts.items() if count))
    # Every rebuild reports its end, however quick.
    online.QUIET_SECONDS = 0.0
    steps = [
        (f"upgrade {BEFORE} -> {REVISION}", migration.upgrade, REVISION),
        (f"downgrade {REVISION} -> {BEFORE}", migration.downgrade, BEFORE),
    ]
    if args.direct:
        steps.append(("upgrade again, every table altered directly", _direct_upgrade, REVISION))
        steps.append(("downgrade again, every table altered directly", _direct_downgrade, BEFORE))
    for label, run, target in steps:
        tables = TableTimes()
        timed(label, partial(run, db.engine, target, progress=tables))
        for table, how, seconds in tables.tables():
            print(f"  {table:<34} {how:<16} {seconds:6.1f} s ({counts[table]} rows)")
    if args.per_column:
        columns = importlib.import_module(f"glancedb.migrations.versions.{REVISION}")
        per_column = [
            f"ALTER TABLE `{table}` MODIFY `{name}` DATETIME(6) {'NULL' if null else 'NOT NULL'}"
            for table, specs in columns.TIMESTAMP_COLUMNS.items()
            for name, null in specs
        ]

        def widen_per_column() -> None:
            with db.engine.connect() as conn:
                for statement in per_column:
                    conn.exec_driver_sql(statement)

        timed(f"the same, one ALTER TABLE per column ({len(per_column)})", widen_per_column)
    db.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
