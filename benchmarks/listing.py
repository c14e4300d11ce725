"""Benchmark of image_get_all on a realistic catalogue.

    python -m benchmarks.listing --backend sqlite|postgresql|mysql --images 10000 [--images 100000]

For each catalogue size, prints one table: per operation and context
(admin, tenant), the median latency, the rows returned and the SQL
statements issued.  PostgreSQL and MySQL use their own database
(``glancedb_bench`` on the server of ``GLANCEDB_BENCH_<BACKEND>_URL``, else
the local default server).  ``--explain`` prints the query plan of a
tenant's first page.

The schema is measured as ``glancedb db sync`` leaves it (the head
revision, with glancedb's listing indexes).  ``--revision REV`` migrates the
benchmark database to an earlier revision first, to measure without some of
them: ``0001_glance_2024_1`` is Glance's schema alone, ``0002_...`` adds
image_members(member, deleted), ``0003_...`` the image_properties index (and
statistics on PostgreSQL), ``0004_...`` images(name).  The next run without
``--revision`` upgrades the database back.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import URL, create_engine, event, false, func, inspect, select, text
from sqlalchemy.engine import make_url

from benchmarks.catalogue import analyze, build_catalogue
from glancedb import Database, RequestContext, migration
from glancedb.images.listing import page_statement
from glancedb.images.listing_filters import parse_query
from glancedb.images.listing_properties import choose_property_shapes
from glancedb.models import tables as t

DEFAULT_SERVER_URLS = {
    "postgresql": "postgresql+psycopg://postgres@127.0.0.1:5432/glancedb_bench",
    "mysql": "mysql+pymysql://root@127.0.0.1:3306/glancedb_bench",
}
TENANT = "tenant-007"
# Hand-made candidate indexes of earlier versions of this benchmark: removed
# when found, so that only the migrated schema is measured.
LEGACY_PREFIX = "ix_bench_"
LEGACY_STATISTICS = "st_bench_props_name_value"


def database_url(backend: str, n: int) -> URL:
    if backend == "sqlite":
        path = os.path.join(tempfile.gettempdir(), f"glancedb_bench_{n}.sqlite")
        return make_url(f"sqlite:///{path}")
    env = os.environ.get(f"GLANCEDB_BENCH_{backend.upper()}_URL")
    url = make_url(env or DEFAULT_SERVER_URLS[backend])
    return url.set(database=f"{url.database}_{n}")


def ensure_server_database(url: URL) -> None:
    if url.get_backend_name() == "sqlite":
        return
    admin = url.set(database="postgres" if url.get_backend_name() == "postgresql" else "")
    engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            if url.get_backend_name() == "postgresql":
                exists = conn.execute(
                    text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": url.database}
                ).first()
                if not exists:
                    conn.execute(text(f'CREATE DATABASE "{url.database}"'))
            else:
                conn.execute(
                    text(f"CREATE DATABASE IF NOT EXISTS `{url.database}` CHARACTER SET utf8")
                )
    finally:
        engine.dispose()


def prepare(backend: str, n: int, rebuild: bool) -> Database:
    url = database_url(backend, n)
    ensure_server_database(url)
    db = Database(url)
    db.db_sync()
    with db.engine.connect() as conn:
        count = conn.execute(select(func.count()).select_from(t.images)).scalar_one()
    if rebuild or count != n:
        started = time.perf_counter()
        build_catalogue(db.engine, n)
        print(f"built {n} images on {backend} in {time.perf_counter() - started:.1f}s", flush=True)
    return db


def set_revision(db: Database, revision: str) -> None:
    """Migrate the benchmark database to ``revision`` and refresh its statistics."""
    backend = db.engine.dialect.name
    with db.engine.begin() as conn:
        for table in ("images", "image_properties", "image_members"):
            for index in _indexes(conn, table):
                name = str(index["name"])
                if name.startswith(LEGACY_PREFIX):
                    on_table = f" ON {table}" if backend == "mysql" else ""
                    conn.execute(text(f"DROP INDEX {name}{on_table}"))
        if backend == "postgresql":
            conn.execute(text(f"DROP STATISTICS IF EXISTS {LEGACY_STATISTICS}"))
    if revision != migration.current_revision(db.engine):
        if revision == migration.head_revision():
            migration.upgrade(db.engine, revision)
        else:
            migration.downgrade(db.engine, revision)
    with db.engine.begin() as conn:
        analyze(conn)


def _indexes(conn: Any, table: str) -> list[dict[str, Any]]:
    return list(inspect(conn).get_indexes(table))


def extra_indexes(db: Database) -> list[str]:
    """glancedb's own indexes present in the database (``ix_glancedb_*``)."""
    with db.engine.connect() as conn:
        return sorted(
            str(index["name"])
            for table in ("images", "image_properties", "image_members")
            for index in _indexes(conn, table)
            if str(index["name"]).startswith("ix_glancedb_")
        )


@dataclass
class Operation:
    name: str
    call: Callable[[Any], list[Any]]


def pick_marker(db: Database, owner: str | None) -> str:
    """An image ~80% deep into the default (newest-first) order."""
    img = t.images.c
    stmt = select(img.id).where(img.deleted == false())
    if owner is not None:
        stmt = stmt.where(img.owner == owner)
    with db.engine.connect() as conn:
        total = conn.execute(select(func.count()).select_from(stmt.subquery())).scalar_one()
        return str(
            conn.execute(
                stmt.order_by(img.created_at.asc()).offset(total // 5).limit(1)
            ).scalar_one()
        )


def operations(db: Database, owner: str | None) -> list[Operation]:
    live = {"deleted": False}
    marker = pick_marker(db, owner)
    with db.engine.connect() as conn:
        img = t.images.c
        stmt = select(img.id).where(img.deleted == false())
        if owner is not None:
            stmt = stmt.where(img.owner == owner)
        some = [r[0] for r in conn.execute(stmt.order_by(img.created_at).limit(3))]
        rare_build = conn.execute(
            select(t.image_properties.c.value).where(
                t.image_properties.c.image_id == some[0], t.image_properties.c.name == "build_id"
            )
        ).scalar_one()
        names = [
            r[0]
            for r in conn.execute(select(img.name).where(img.id.in_(some), img.name.is_not(None)))
        ]
    in_names = "in:" + ",".join(names)

    def listing(**kwargs: Any) -> Callable[[Any], list[Any]]:
        return lambda ctx: db.image_get_all(ctx, limit=25, **kwargs)

    return [
        Operation("first page", listing(filters=live)),
        Operation("deep page (marker)", listing(filters=live, marker=marker)),
        Operation(
            "property os_distro=fedora",
            listing(filters={**live, "properties": {"os_distro": "fedora"}}),
        ),
        Operation("property build_id (1 match)", listing(filters={**live, "build_id": rare_build})),
        Operation("tag gpu", listing(filters={**live, "tags": ["gpu"]})),
        Operation("in: disk_format", listing(filters={**live, "disk_format": "in:raw,iso"})),
        Operation("in: name (3 names)", listing(filters={**live, "name": in_names})),
        Operation("first page, return_tag", listing(filters=live, return_tag=True)),
    ]


def measure(db: Database, op: Operation, ctx: Any, repeats: int) -> tuple[float, int, int]:
    statements: list[str] = []

    def on_execute(_c: Any, _cur: Any, statement: str, *_a: Any) -> None:
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", on_execute)
    try:
        rows = op.call(ctx)
    finally:
        event.remove(db.engine, "before_cursor_execute", on_execute)
    count = len([s for s in statements if not s.strip().upper().startswith("BEGIN")])
    op.call(ctx)  # warm-up
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        op.call(ctx)
        timings.append(time.perf_counter() - started)
    return statistics.median(timings) * 1000, len(rows), count


def explain(db: Database, ctx: Any, filters: dict[str, Any]) -> str:
    query = parse_query(filters)
    backend = db.engine.dialect.name
    prefix = {
        "sqlite": "EXPLAIN QUERY PLAN ",
        "postgresql": "EXPLAIN ANALYZE ",
        "mysql": "EXPLAIN ",
    }
    with db.engine.connect() as conn:
        # The shapes image_get_all would pick (the probe runs here too).
        shapes = choose_property_shapes(conn, query.properties, 25)
        stmt = page_statement(
            ctx,
            query,
            marker=None,
            limit=25,
            member_status="accepted",
            admin_as_user=False,
            dialect=backend,
            property_shapes=shapes,
        )
        compiled = stmt.compile(dialect=db.engine.dialect, compile_kwargs={"literal_binds": True})
        result = conn.exec_driver_sql(prefix[backend] + str(compiled))
        return "\n".join(" | ".join(str(v) for v in row) for row in result)


def run(backend: str, n: int, args: argparse.Namespace) -> None:
    db = prepare(backend, n, args.rebuild)
    set_revision(db, args.revision or migration.head_revision())
    contexts = {"admin": RequestContext(is_admin=True), "tenant": RequestContext(project_id=TENANT)}
    revision = migration.current_revision(db.engine)
    print(f"\n== {backend}, {n} images, revision {revision} ==")
    print(f"glancedb indexes: {', '.join(extra_indexes(db)) or 'none'}")
    header = f"{'operation':<30} {'context':<7} {'median ms':>10} {'rows':>5} {'stmts':>6}"
    print(header)
    print("-" * len(header))
    for label, ctx in contexts.items():
        owner = None if label == "admin" else TENANT
        for op in operations(db, owner):
            ms, rows, count = measure(db, op, ctx, args.repeats)
            print(f"{op.name:<30} {label:<7} {ms:>10.2f} {rows:>5} {count:>6}", flush=True)
    if args.explain:
        for name, filters in (
            ("tenant first page", {"deleted": False}),
            ("tenant build_id filter", {"deleted": False, "build_id": "build-1"}),
            ("tenant os_distro filter", {"deleted": False, "os_distro": "fedora"}),
        ):
            print(f"\n-- plan: {name} --")
            print(explain(db, contexts["tenant"], filters))
    db.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "mysql"), default="sqlite")
    parser.add_argument("--images", type=int, action="append", help="catalogue size (repeatable)")
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument(
        "--rebuild", action="store_true", help="rebuild the catalogue even if present"
    )
    parser.add_argument("--explain", action="store_true", help="print query plans")
    parser.add_argument(
        "--revision",
        help="measure the schema at this glancedb revision (default: the head);"
        " e.g. 0001_glance_2024_1 for Glance's schema without glancedb's indexes",
    )
    args = parser.parse_args(argv)
    for n in args.images or [10_000]:
        run(args.backend, n, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
