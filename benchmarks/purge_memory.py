"""Memory and transaction size of purging 200k soft-deleted property rows.

Usage::

    python benchmarks/purge_memory.py URL [URL ...] [--rows N] [--batch-size B]

Each URL names a scratch database (PostgreSQL and MySQL databases are
dropped and re-created; give names you own).  For each, twice: a child
process fills it with N soft-deleted ``image_properties`` rows (100 per
image), then a fresh child process purges them with
``purge_deleted_rows(ctx, 0, -1)``.  The first purge reports the process's
peak RSS before and after (``ru_maxrss``), the largest number of rows
deleted in one transaction, the number of transactions and the elapsed time;
the second runs under tracemalloc and reports the peak of Python allocations
(tracemalloc's own bookkeeping would distort the RSS figures of the first).
"""

from __future__ import annotations

import argparse
import datetime
import gc
import json
import os
import resource
import subprocess
import sys
import time
import tracemalloc
import uuid
from typing import Any

from sqlalchemy import URL, create_engine, event, text

from glancedb import Database, RequestContext
from glancedb.engines import normalize_url
from glancedb.models import tables as t
from glancedb.purge import PURGE_BATCH_SIZE

PER_IMAGE = 100
CHUNK = 10_000


def recreate(url: URL) -> None:
    """Drop and re-create a server database; remove a SQLite file."""
    backend = url.get_backend_name()
    if backend == "sqlite":
        for suffix in ("", "-wal", "-shm"):
            path = f"{url.database}{suffix}"
            if url.database and os.path.exists(path):
                os.remove(path)
        return
    admin = url.set(database="postgres" if backend == "postgresql" else "")
    engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        if backend == "postgresql":
            conn.execute(text(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{url.database}"'))
        else:
            conn.execute(text(f"DROP DATABASE IF EXISTS `{url.database}`"))
            conn.execute(text(f"CREATE DATABASE `{url.database}` CHARACTER SET utf8"))
    engine.dispose()


def populate(url: str, rows: int) -> None:
    """Create the schema and ``rows`` soft-deleted properties, in chunks."""
    parsed = normalize_url(url)
    recreate(parsed)
    db = Database(parsed)
    db.db_sync()
    deleted_at = datetime.datetime(2020, 1, 1)
    images = rows // PER_IMAGE
    image_ids = [str(uuid.uuid4()) for _ in range(images)]
    with db.engine.begin() as conn:
        conn.execute(
            t.images.insert(),
            [
                {
                    "id": image_id,
                    "status": "deleted",
                    "visibility": "shared",
                    "min_disk": 0,
                    "min_ram": 0,
                    "protected": False,
                    "os_hidden": False,
                    "created_at": deleted_at,
                    "updated_at": deleted_at,
                    "deleted": True,
                    "deleted_at": deleted_at,
                }
                for image_id in image_ids
            ],
        )
    batch: list[dict[str, Any]] = []
    for image_id in image_ids:
        for n in range(PER_IMAGE):
            batch.append(
                {
                    "image_id": image_id,
                    "name": f"property_{n}",
                    "value": "x" * 40,
                    "created_at": deleted_at,
                    "updated_at": deleted_at,
                    "deleted": True,
                    "deleted_at": deleted_at + datetime.timedelta(seconds=n),
                }
            )
            if len(batch) == CHUNK:
                with db.engine.begin() as conn:
                    conn.execute(t.image_properties.insert(), batch)
                batch = []
    if batch:
        with db.engine.begin() as conn:
            conn.execute(t.image_properties.insert(), batch)
    if db.backend == "sqlite":
        with db.engine.begin() as conn:
            conn.execute(text("ANALYZE"))
    db.dispose()


def max_rss_mib() -> float:
    # ru_maxrss is in KiB on Linux.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(url: str, batch_size: int, traced: bool) -> dict[str, Any]:
    db = Database(url)
    transactions: list[int] = []
    current = [0]

    def on_begin(_conn: Any) -> None:
        current[0] = 0

    def after_execute(
        _conn: Any, cursor: Any, statement: str, _params: Any, _context: Any, _many: bool
    ) -> None:
        if statement.lstrip().upper().startswith("DELETE"):
            current[0] += max(cursor.rowcount, 0)

    def on_commit(_conn: Any) -> None:
        if current[0]:
            transactions.append(current[0])

    event.listen(db.engine, "begin", on_begin)
    event.listen(db.engine, "after_cursor_execute", after_execute)
    event.listen(db.engine, "commit", on_commit)
    # Warm up: connect and compile outside the measured call.
    db.purge_deleted_rows(RequestContext(is_admin=True), 36500, -1)
    gc.collect()
    rss_before = max_rss_mib()
    if traced:
        tracemalloc.start()
    started = time.perf_counter()
    result = db.purge_deleted_rows(RequestContext(is_admin=True), 0, -1, batch_size=batch_size)
    elapsed = time.perf_counter() - started
    db.dispose()
    if traced:
        _, traced_peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        return {"tracemalloc_peak_mib": round(traced_peak / 2**20, 2)}
    return {
        "backend": db.backend,
        "deleted": result["image_properties"],
        "rss_before_mib": round(rss_before, 1),
        "rss_after_mib": round(max_rss_mib(), 1),
        "max_rows_per_transaction": max(transactions, default=0),
        "transactions": len(transactions),
        "seconds": round(elapsed, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("urls", nargs="+")
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--batch-size", type=int, default=PURGE_BATCH_SIZE)
    parser.add_argument("--step", choices=["populate", "measure", "trace"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.step == "populate":
        populate(args.urls[0], args.rows)
        return
    if args.step is not None:
        print(json.dumps(measure(args.urls[0], args.batch_size, traced=args.step == "trace")))
        return
    for url in args.urls:
        figures: dict[str, Any] = {}
        for step in ("measure", "trace"):
            # Each step in a fresh process: peak RSS is per process.
            common = [sys.executable, __file__, url, "--rows", str(args.rows)]
            subprocess.run([*common, "--step", "populate"], check=True)
            out = subprocess.run(
                [*common, "--batch-size", str(args.batch_size), "--step", step],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            figures.update(json.loads(out.strip().splitlines()[-1]))
        print(" ".join(f"{key}={value}" for key, value in figures.items()), flush=True)


if __name__ == "__main__":
    main()
