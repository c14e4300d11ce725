"""What consistency costs, and what it buys: latency and read-after-write misses.

    python -m benchmarks.consistency plain --backend sqlite|postgresql|mysql [--runs 300]
    python -m benchmarks.consistency causal --url NODE_URL [--runs 300]
    python -m benchmarks.consistency read-your-writes --url PRIMARY --read-url REPLICA [--calls 200]

``plain``: median latency of ``image_get``, a tenant's page of 25
(``image_get_all``) and ``image_create`` on one server, no replica (the
path every deployment runs).  ``causal``: the same reads on a Galera node
with causal reads on and off.  ``read-your-writes``: ``image_create`` then
``image_get``, ``image_update`` then ``image_get`` through a Database with a
``read_url``; counts the reads that missed the caller's own write, and the
median latency of each call.

It uses only the public API, so the same command measures another checkout:
``PYTHONPATH=/path/to/other/src python -m benchmarks.consistency ...``.
Server databases: ``glancedb_bench_consistency`` on the server of
``GLANCEDB_BENCH_<BACKEND>_URL``, else the local default server (``plain``);
the URLs given (``causal``, ``read-your-writes``), synced to head first.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import create_engine, make_url, text

import glancedb
from glancedb import Database, RequestContext, exception

TENANT = "tenant-bench"
DEFAULT_SERVER_URLS = {
    "postgresql": "postgresql+psycopg://postgres@127.0.0.1:5432/glancedb_bench_consistency",
    "mysql": "mysql+pymysql://root@127.0.0.1:3306/glancedb_bench_consistency",
}


def plain_url(backend: str) -> str:
    if backend == "sqlite":
        return (
            f"sqlite:///{os.path.join(tempfile.gettempdir(), 'glancedb_bench_consistency.sqlite')}"
        )
    url = make_url(
        os.environ.get(f"GLANCEDB_BENCH_{backend.upper()}_URL") or DEFAULT_SERVER_URLS[backend]
    )
    url = url.set(database="glancedb_bench_consistency")
    admin = url.set(database="postgres" if backend == "postgresql" else "")
    engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        if backend == "postgresql":
            found = conn.execute(
                text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": url.database}
            ).first()
            if not found:
                conn.execute(text(f'CREATE DATABASE "{url.database}"'))
        else:
            conn.execute(text(f"CREATE DATABASE IF NOT EXISTS `{url.database}` CHARACTER SET utf8"))
    engine.dispose()
    return url.render_as_string(hide_password=False)


def seed(db: Database, images: int = 200) -> list[str]:
    """A tenant with ``images`` images (3 properties, 1 location each), once."""
    admin = RequestContext(is_admin=True)
    existing = db.image_get_all(admin, filters={"owner": TENANT, "deleted": False}, limit=images)
    ids = [image["id"] for image in existing]
    ctx = RequestContext(project_id=TENANT)
    for n in range(len(ids), images):
        image = db.image_create(
            ctx,
            {
                "status": "active",
                "owner": TENANT,
                "name": f"image-{n}",
                "visibility": "private",
                "properties": {"os_distro": "cirros", "hw": str(n % 7), "n": str(n)},
                "locations": [{"url": f"file:///images/{n}", "metadata": {}, "status": "active"}],
            },
        )
        ids.append(image["id"])
    return ids


def median_ms(call: Callable[[int], Any], runs: int) -> float:
    for n in range(min(20, runs)):  # warm the pools and statement caches
        call(n)
    timings = []
    for n in range(runs):
        started = time.perf_counter()
        call(n)
        timings.append(time.perf_counter() - started)
    return statistics.median(timings) * 1000


def reads(db: Database, ids: list[str], runs: int) -> dict[str, float]:
    ctx = RequestContext(project_id=TENANT)
    return {
        "image_get": median_ms(lambda n: db.image_get(ctx, ids[n % len(ids)]), runs),
        "tenant page of 25": median_ms(
            lambda n: db.image_get_all(ctx, filters={"deleted": False}, limit=25), runs
        ),
    }


def plain(args: argparse.Namespace) -> None:
    url = plain_url(args.backend)
    db = Database(url)
    db.db_sync()
    ids = seed(db)
    ctx = RequestContext(project_id=TENANT)
    results = reads(db, ids, args.runs)
    results["image_create"] = median_ms(
        lambda n: db.image_create(
            ctx,
            {
                "status": "queued",
                "owner": TENANT,
                "name": f"new-{n}",
                "properties": {"os_distro": "cirros"},
            },
        ),
        args.runs,
    )
    db.dispose()
    cleanup = Database(url)
    with cleanup.engine.begin() as conn:
        for table in ("image_properties", "image_locations", "images"):
            column = "image_id" if table != "images" else "id"
            conn.execute(
                text(
                    f"DELETE FROM {table} WHERE {column} IN "
                    "(SELECT id FROM (SELECT id FROM images WHERE name LIKE 'new-%') AS s)"
                )
            )
    cleanup.dispose()
    report(f"plain {args.backend} ({glancedb.__file__})", results)


def causal(args: argparse.Namespace) -> None:
    Database(args.url).db_sync()
    rows = {}
    for setting in (False, True):
        db = Database(args.url, causal_reads=setting)
        ids = seed(db)
        for name, value in reads(db, ids, args.runs).items():
            rows[f"{name}, causal_reads={setting}"] = value
        db.dispose()
    report(f"causal reads on {args.url}", rows)


def read_your_writes(args: argparse.Namespace) -> None:
    Database(args.url).db_sync()
    options: dict[str, Any] = {}
    if args.replica_wait is not None:
        options["replica_wait"] = args.replica_wait
    db = Database(args.url, read_url=args.read_url, **options)
    ctx = RequestContext(project_id=TENANT)
    misses = 0
    timings: dict[str, list[float]] = {
        "image_create": [],
        "image_get after create": [],
        "image_update": [],
        "image_get after update": [],
    }

    def timed(name: str, call: Callable[[], Any]) -> Any:
        started = time.perf_counter()
        try:
            return call()
        finally:
            timings[name].append(time.perf_counter() - started)

    for n in range(args.calls):
        values = {"status": "queued", "owner": TENANT, "name": f"ryw-{n}"}
        image = timed("image_create", lambda v=values: db.image_create(ctx, v))
        try:
            timed("image_get after create", lambda i=image: db.image_get(ctx, i["id"]))
        except exception.ImageNotFound:
            misses += 1
            continue
        timed(
            "image_update",
            lambda i=image, n=n: db.image_update(ctx, i["id"], {"name": f"ryw-{n}-b"}),
        )
        got = timed("image_get after update", lambda i=image: db.image_get(ctx, i["id"]))
        if got["name"] != f"ryw-{n}-b":
            misses += 1
    db.dispose()
    reads_made = len(timings["image_get after create"]) + len(timings["image_get after update"])
    rows = {name: statistics.median(values) * 1000 for name, values in timings.items() if values}
    report(
        f"read-your-writes via {args.read_url} ({glancedb.__file__}): "
        f"{misses} of {reads_made} reads missed the caller's own write",
        rows,
    )


def report(title: str, rows: dict[str, float]) -> None:
    print(title)
    for name, value in rows.items():
        print(f"  {name:<40} {value:8.3f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.consistency")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("plain")
    p.add_argument("--backend", choices=("sqlite", "postgresql", "mysql"), required=True)
    p.add_argument("--runs", type=int, default=300)
    p.set_defaults(run=plain)
    c = sub.add_parser("causal")
    c.add_argument("--url", required=True)
    c.add_argument("--runs", type=int, default=300)
    c.set_defaults(run=causal)
    r = sub.add_parser("read-your-writes")
    r.add_argument("--url", required=True)
    r.add_argument("--read-url", required=True)
    r.add_argument("--calls", type=int, default=200)
    r.add_argument("--replica-wait", type=float, default=None)
    r.set_defaults(run=read_your_writes)
    args = parser.parse_args()
    args.run(args)


if __name__ == "__main__":
    main()
