"""What consistency costs, and what it buys: latency and read-after-write misses.

    python -m benchmarks.consistency plain --backend sqlite|postgresql|mysql [--runs 300]
    python -m benchmarks.consistency compare --backend B --other-src /path/to/other/src
    python -m benchmarks.consistency calls --backend B
    python -m benchmarks.consistency causal --url NODE_URL [--runs 300]
    python -m benchmarks.consistency read-your-writes --url PRIMARY --read-url REPLICA [--calls 200]
    python -m benchmarks.consistency next-node --urls NODE1,NODE2,NODE3 [--calls 200]

``plain``: median latency of ``image_get``, a tenant's page of 25
(``image_get_all``) and ``image_create`` on one server, no replica (the
path every deployment runs).  ``compare``: the same, for this checkout and
another one at once, in two worker processes driven in alternating small
batches, so that both see the same machine load (the only fair A/B on a
shared machine).  ``causal``: the same reads on a Galera node
with causal reads on and off.  ``read-your-writes``: ``image_create`` then
``image_get``, ``image_update`` then ``image_get`` through a Database with a
``read_url``; counts the reads that missed the caller's own write, and the
median latency of each call.  ``next-node``: one Database per Galera node
(as behind a load balancer); an image created through node i, then read
through node i+1; counts the misses.

It uses only the public API, so the same command measures another checkout:
``PYTHONPATH=/path/to/other/src python -m benchmarks.consistency ...``.
Server databases: ``glancedb_bench_consistency`` on the server of
``GLANCEDB_BENCH_<BACKEND>_URL``, else the local default server (``plain``);
the URLs given (``causal``, ``read-your-writes``), synced to head first.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
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


def plain(args: argparse.Namespace) -> None:
    url = plain_url(args.backend)
    db = Database(url)
    db.db_sync()
    operations = plain_operations(db, seed(db))
    results = {name: median_ms(operations[name], args.runs) for name in PLAIN_OPERATIONS}
    db.dispose()
    cleanup(url)
    report(f"plain {args.backend} ({glancedb.__file__})", results)


PLAIN_OPERATIONS = ("image_get", "tenant page of 25", "image_create")


def plain_operations(db: Database, ids: list[str]) -> dict[str, Callable[[int], Any]]:
    ctx = RequestContext(project_id=TENANT)
    return {
        "image_get": lambda n: db.image_get(ctx, ids[n % len(ids)]),
        "tenant page of 25": lambda n: db.image_get_all(ctx, filters={"deleted": False}, limit=25),
        "image_create": lambda n: db.image_create(
            ctx,
            {
                "status": "queued",
                "owner": TENANT,
                "name": f"new-{n}",
                "properties": {"os_distro": "cirros"},
            },
        ),
    }


def worker(args: argparse.Namespace) -> None:
    """Serve ``<operation> <count>`` lines on stdin with JSON timings (seconds).

    ``--clock cpu`` times this process's CPU instead of the wall clock: on a
    loaded machine the wall clock varies more between two runs of the same
    code than a few percent of real cost.
    """
    clock = time.process_time if args.clock == "cpu" else time.perf_counter
    db = Database(plain_url(args.backend))  # synced and seeded by compare()
    operations = plain_operations(db, seed(db))
    done = 0
    print("ready", flush=True)
    for line in sys.stdin:
        name, _, count = line.strip().rpartition(" ")
        timings = []
        for _ in range(int(count)):
            started = clock()
            operations[name](done)
            timings.append(clock() - started)
            done += 1
        print(json.dumps(timings), flush=True)
    db.dispose()


def calls(args: argparse.Namespace) -> None:
    """Python function calls and SQL statements per operation: deterministic
    measures of client-side cost, unmoved by machine load."""
    import cProfile
    import pstats

    from sqlalchemy import event

    url = plain_url(args.backend)
    db = Database(url)
    db.db_sync()
    operations = plain_operations(db, seed(db))
    statements: list[str] = []
    event.listen(db.engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    print(f"calls {args.backend} ({glancedb.__file__})")
    for name in PLAIN_OPERATIONS:
        for n in range(20):
            operations[name](n)
        statements.clear()
        profile = cProfile.Profile()
        profile.enable()
        for n in range(100):
            operations[name](1000 + n)
        profile.disable()
        total = pstats.Stats(profile).total_calls  # type: ignore[attr-defined]
        per_call = len(statements) / 100
        print(f"  {name:<20} {total / 100:8.0f} function calls {per_call:5.1f} statements")
    db.dispose()
    cleanup(url)


def compare(args: argparse.Namespace) -> None:
    """A/B of the plain path: this checkout against ``--other-src``."""
    url = plain_url(args.backend)  # the database, schema and images, before the workers start
    prepared = Database(url)
    prepared.db_sync()
    seed(prepared)
    prepared.dispose()
    sources = {"other": args.other_src, "this": None}
    workers = {}
    for label, source in sources.items():
        env = dict(os.environ)
        if source:
            env["PYTHONPATH"] = source + os.pathsep + env.get("PYTHONPATH", "")
        workers[label] = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "benchmarks.consistency",
                "worker",
                "--backend",
                args.backend,
                "--clock",
                args.clock,
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
    samples: dict[tuple[str, str], list[float]] = {}
    try:
        for process in workers.values():
            assert process.stdout is not None and process.stdout.readline().strip() == "ready"
        for round_number in range(args.rounds):
            order = list(workers.items())
            if round_number % 2:
                order.reverse()
            for operation in PLAIN_OPERATIONS:
                for label, process in order:
                    assert process.stdin is not None and process.stdout is not None
                    process.stdin.write(f"{operation} {args.batch}\n")
                    process.stdin.flush()
                    timings = json.loads(process.stdout.readline())
                    if round_number:  # the first round warms up
                        samples.setdefault((operation, label), []).extend(timings)
    finally:
        for process in workers.values():
            if process.stdin is not None:
                process.stdin.close()
            process.wait(60)
    print(
        f"compare {args.backend} ({args.clock} clock): other = {args.other_src},"
        " this = this checkout"
    )
    print(f"  {'operation':<20} {'other ms':>9} {'this ms':>9} {'change':>8}")
    for operation in PLAIN_OPERATIONS:
        before = statistics.median(samples[(operation, "other")]) * 1000
        after = statistics.median(samples[(operation, "this")]) * 1000
        print(f"  {operation:<20} {before:9.3f} {after:9.3f} {100 * (after / before - 1):+7.1f}%")
    cleanup(url)


def cleanup(url: str) -> None:
    """Remove the images the ``image_create`` runs added."""
    db = Database(url)
    with db.engine.begin() as conn:
        for table in ("image_properties", "image_locations", "images"):
            column = "image_id" if table != "images" else "id"
            conn.execute(
                text(
                    f"DELETE FROM {table} WHERE {column} IN "
                    "(SELECT id FROM (SELECT id FROM images WHERE name LIKE 'new-%') AS s)"
                )
            )
    db.dispose()


def causal(args: argparse.Namespace) -> None:
    """Reads with causal reads on and off, in alternating batches (same load)."""
    Database(args.url).db_sync()
    databases = {setting: Database(args.url, causal_reads=setting) for setting in (False, True)}
    ctx = RequestContext(project_id=TENANT)
    ids = seed(databases[False])
    reads = {
        "image_get": lambda db, n: db.image_get(ctx, ids[n % len(ids)]),
        "tenant page of 25": lambda db, n: db.image_get_all(
            ctx, filters={"deleted": False}, limit=25
        ),
    }
    samples: dict[tuple[str, bool], list[float]] = {}
    for round_number in range(args.runs // 20 + 1):
        for name, call in reads.items():
            for setting, db in databases.items():
                for n in range(20):
                    started = time.perf_counter()
                    call(db, n)
                    if round_number:  # the first round warms up
                        elapsed = time.perf_counter() - started
                        samples.setdefault((name, setting), []).append(elapsed)
    for db in databases.values():
        db.dispose()
    rows = {
        f"{name}, causal_reads={setting}": statistics.median(values) * 1000
        for (name, setting), values in sorted(samples.items())
    }
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


def next_node(args: argparse.Namespace) -> None:
    urls = args.urls.split(",")
    Database(urls[0]).db_sync()
    nodes = [Database(url) for url in urls]
    ctx = RequestContext(project_id=TENANT)
    misses = 0
    for n in range(args.calls):
        image = nodes[n % len(nodes)].image_create(
            ctx, {"status": "queued", "owner": TENANT, "name": f"node-{n}"}
        )
        try:
            nodes[(n + 1) % len(nodes)].image_get(ctx, image["id"])
        except exception.ImageNotFound:
            misses += 1
    for node in nodes:
        node.dispose()
    print(
        f"next-node ({glancedb.__file__}): {misses} of {args.calls} images created through"
        " one node were not found by the next read through the next node"
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
    c.add_argument("--runs", type=int, default=600)
    c.set_defaults(run=causal)
    r = sub.add_parser("read-your-writes")
    r.add_argument("--url", required=True)
    r.add_argument("--read-url", required=True)
    r.add_argument("--calls", type=int, default=200)
    r.add_argument("--replica-wait", type=float, default=None)
    r.set_defaults(run=read_your_writes)
    x = sub.add_parser("next-node")
    x.add_argument("--urls", required=True)
    x.add_argument("--calls", type=int, default=200)
    x.set_defaults(run=next_node)
    a = sub.add_parser("compare")
    a.add_argument("--backend", choices=("sqlite", "postgresql", "mysql"), required=True)
    a.add_argument("--other-src", required=True)
    a.add_argument("--rounds", type=int, default=21)
    a.add_argument("--batch", type=int, default=20)
    a.add_argument("--clock", choices=("wall", "cpu"), default="wall")
    a.set_defaults(run=compare)
    k = sub.add_parser("calls")
    k.add_argument("--backend", choices=("sqlite", "postgresql", "mysql"), required=True)
    k.set_defaults(run=calls)
    w = sub.add_parser("worker")
    w.add_argument("--backend", choices=("sqlite", "postgresql", "mysql"), required=True)
    w.add_argument("--clock", choices=("wall", "cpu"), default="wall")
    w.set_defaults(run=worker)
    args = parser.parse_args()
    args.run(args)


if __name__ == "__main__":
    main()
