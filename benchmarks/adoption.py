"""``glancedb db sync`` adopting a Glance database, timed, with a writer running.

    python -m benchmarks.adoption --backend sqlite|postgresql|mysql --images 1000000

Takes the benchmark catalogue of that size (built by ``python -m benchmarks``
if missing) and makes it a database as Glance leaves it: glancedb's
revisions are downgraded to the first one (Glance's 2024.1 schema, which the
schema tests prove identical to Glance's own dumps: every glancedb index and
statistics object dropped), glancedb's version table dropped and Glance's
``alembic_version`` written at ``2024_1_contract01``.  Then ``db sync`` adopts
it - checks it, stamps it, builds every glancedb index - while a writer
thread inserts image properties the way Glance does (one autocommitted
INSERT at a time; a common value and a unique one in turn) and records how
long each takes.  Printed: each build as ``db sync`` reports it, with the
time since the start; the sync's total; the writer's inserts, median and
maximum latency.  The catalogue's marker table is set aside meanwhile (an
unknown table would make the adoption refuse the database) and put back.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, text

from benchmarks.store import MARKER_TABLE, prepare
from glancedb import Database, migration

GLANCE_REVISION = migration.GLANCE_REVISION


@dataclass
class Writer:
    """Inserts properties one autocommitted statement at a time, timing each."""

    engine: Engine
    image_ids: list[str]
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        raw: Any = self.engine.raw_connection()
        backend = self.engine.dialect.name
        try:
            dbapi = raw.driver_connection
            cursor = dbapi.cursor()
            if backend == "sqlite":
                cursor.execute("PRAGMA busy_timeout = 600000")
                mark = "?"
            else:
                mark = "%s"
                if backend == "postgresql":
                    dbapi.autocommit = True
                else:
                    dbapi.autocommit(True)
            sql = (
                "INSERT INTO image_properties (image_id, name, value, created_at, deleted)"
                f" VALUES ({mark}, {mark}, {mark}, {mark}, {mark})"
            )
            i = 0
            while not self.stop.is_set():
                image_id = self.image_ids[i % len(self.image_ids)]
                value = "virtio" if i % 2 else f"unique-{uuid.uuid4()}"
                params = (image_id, f"bench_adopt_{i}", value, "2024-01-01 00:00:00", False)
                started = time.perf_counter()
                try:
                    cursor.execute(sql, params)
                    if backend == "sqlite":
                        dbapi.commit()
                except Exception as exc:  # reported, the run goes on
                    self.errors.append(str(exc).splitlines()[0])
                self.latencies.append(time.perf_counter() - started)
                i += 1
                time.sleep(0.01)
            cursor.close()
        finally:
            raw.close()


def as_glance_database(db: Database) -> tuple[list[Any], str]:
    """Make ``db`` a database as Glance leaves it; returns the marker's rows and DDL."""
    engine = db.engine
    migration.downgrade(engine, migration.FIRST_REVISION)
    with engine.begin() as conn:
        marker = [tuple(row) for row in conn.execute(text(f"SELECT * FROM {MARKER_TABLE}"))]
        conn.execute(text(f"DROP TABLE {MARKER_TABLE}"))
        conn.execute(text(f"DROP TABLE {migration.VERSION_TABLE}"))
        # An earlier adoption left Glance's version table in place, as glancedb does.
        conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
        conn.execute(
            text(
                "CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL,"
                " CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num))"
            )
        )
        conn.execute(text("INSERT INTO alembic_version VALUES (:v)"), {"v": GLANCE_REVISION})
    ddl = (
        f"CREATE TABLE {MARKER_TABLE} (images INTEGER, seed INTEGER, generator INTEGER,"
        " load_seconds FLOAT, analyze_seconds FLOAT, peak_rss_mib FLOAT, built_at VARCHAR(40))"
    )
    return marker, ddl


def restore(db: Database, marker: list[Any], ddl: str) -> None:
    with db.engine.begin() as conn:
        conn.execute(text(ddl))
        for row in marker:
            conn.execute(
                text(f"INSERT INTO {MARKER_TABLE} VALUES (:a, :b, :c, :d, :e, :f, :g)"),
                dict(zip("abcdefg", row, strict=True)),
            )
        conn.execute(text("DELETE FROM image_properties WHERE name LIKE 'bench_adopt_%'"))


def run(backend: str, n: int, sqlite_dir: str | None) -> None:
    db, _info = prepare(backend, n, sqlite_dir=sqlite_dir)
    with db.engine.connect() as conn:
        image_ids = [str(r[0]) for r in conn.execute(text("SELECT id FROM images LIMIT 200"))]
    print(f"== {backend}, {n} images: making it a Glance database ...", flush=True)
    started = time.perf_counter()
    marker, ddl = as_glance_database(db)
    print(f"   done in {time.perf_counter() - started:.1f}s", flush=True)
    db.dispose()
    writer = Writer(Database(db.url).engine, image_ids)
    thread = threading.Thread(target=writer.run, daemon=True)
    thread.start()
    time.sleep(1.0)
    sync_started = time.perf_counter()

    def progress(line: str) -> None:
        print(f"   [{time.perf_counter() - sync_started:7.1f}s] {line}", flush=True)

    try:
        action = migration.sync(db.engine, progress=progress)
    except BaseException:
        writer.stop.set()
        thread.join()
        # Leave the catalogue usable by the next run: at head, marked.
        migration.sync(db.engine)
        restore(db, marker, ddl)
        raise
    sync_seconds = time.perf_counter() - sync_started
    time.sleep(1.0)
    writer.stop.set()
    thread.join()
    latencies = sorted(writer.latencies)
    print(f"   db sync: {action} in {sync_seconds:.1f}s (ANALYZE included)")
    print(
        f"   writer: {len(latencies)} inserts, median {statistics.median(latencies) * 1000:.1f} ms,"
        f" p99 {latencies[int(len(latencies) * 0.99)] * 1000:.1f} ms,"
        f" max {latencies[-1] * 1000:.1f} ms, errors {len(writer.errors)}"
        + (f" (first: {writer.errors[0]})" if writer.errors else "")
    )
    restore(db, marker, ddl)
    db.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "mysql"), action="append")
    parser.add_argument("--images", type=int, default=1_000_000)
    parser.add_argument("--sqlite-dir")
    args = parser.parse_args(argv)
    for backend in args.backend or ["sqlite"]:
        run(backend, args.images, args.sqlite_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
