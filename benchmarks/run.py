"""glancedb against the raw-driver floor, on a realistic image catalogue.

    python -m benchmarks --backend sqlite|postgresql|mysql [--backend ...]
        --images 10000 [--images 1000000] [--repeat N] [--only OP ...]
        [--explain] [--profile] [--write-results] [--rebuild] [--revision REV]
        [--build-only]

For each backend and catalogue size, prints one table: per operation and
context (admin, tenant), glancedb's median ms, the floor's median ms (the
same SQL replayed on a bare DBAPI connection, see ``benchmarks/harness.py``),
their ratio, the statements per call and the rows returned; then the page
statements of a few listings timed with bound parameters and with literal
values (SQLite and PostgreSQL; PyMySQL always sends literals), the two
plans printed when their steps differ.  ``--explain``
adds the analysed plans of the statements each read sends (up to its page
statement) and the plans of every bound/literal pair;
``--profile`` prints a cProfile summary of glancedb's calls (stdout only);
``--write-results`` updates the backends' and sizes' sections of
``benchmarks/RESULTS.md``.

Catalogues are built once per (backend, size) and reused (``--rebuild``
forces a new one): SQLite files in the temporary folder (or
``--sqlite-dir``), PostgreSQL/MySQL databases ``glancedb_bench_<n>`` on the
servers of ``GLANCEDB_BENCH_<BACKEND>_URL`` (default: the local ones).
``--revision REV`` measures the schema at an earlier glancedb revision
(e.g. ``0001_glance_2024_1``, Glance's schema without glancedb's indexes);
the next run without it upgrades back.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from collections.abc import Sequence
from dataclasses import dataclass

from benchmarks import harness, report
from benchmarks.store import peak_rss_mib, prepare
from glancedb import migration


@dataclass
class Options:
    repeat: int = 20
    #: Untimed calls of each side before the timed ones (fast operations).
    warmup: int = harness.WARMUP_FAST
    only: Sequence[str] | None = None
    explain: bool = False
    profile: bool = False
    rebuild: bool = False
    revision: str | None = None
    seed: int = 42
    sqlite_dir: str | None = None
    command: str = "python -m benchmarks"
    quiet: bool = False


#: Per server backend: its version, the memory it caches pages in, and the
#: catalogue's size on disk.  A catalogue larger than the cache measures the
#: disk (or the OS page cache) as much as the queries: MariaDB's default
#: 128 MiB buffer pool holds a tenth of the 100k-image catalogue.
_SERVER_FACTS = {
    "postgresql": (
        "SELECT current_setting('server_version'), current_setting('shared_buffers'),"
        " pg_database_size(current_database())"
    ),
    "mysql": (
        "SELECT VERSION(), CONCAT(@@innodb_buffer_pool_size DIV 1048576, 'MB'),"
        " (SELECT SUM(data_length + index_length) FROM information_schema.tables"
        "  WHERE table_schema = DATABASE())"
    ),
}
_CACHE_SETTING = {"postgresql": "shared_buffers", "mysql": "innodb_buffer_pool_size"}


def _server_version(floor: harness.Floor, backend: str) -> str:
    """The server's version, page cache setting and the catalogue's size on disk."""
    if backend == "sqlite":
        return ""
    cursor = floor.raw.cursor()
    try:
        cursor.execute(_SERVER_FACTS[backend])
        version, cache, size = cursor.fetchall()[0]
    finally:
        cursor.close()
        floor.raw.rollback()
    return (
        f"{version} ({_CACHE_SETTING[backend]} {cache};"
        f" catalogue {int(size or 0) / 2**20:.0f} MiB on disk)"
    )


def run_one(backend: str, n: int, options: Options) -> report.Section:
    """Build or reuse the catalogue of ``n`` images on ``backend`` and measure it."""

    def log(message: str) -> None:
        if not options.quiet:
            print(message, file=sys.stderr, flush=True)

    db, build = prepare(
        backend,
        n,
        seed=options.seed,
        rebuild=options.rebuild,
        revision=options.revision,
        sqlite_dir=options.sqlite_dir,
        log=log,
    )
    floor = harness.Floor(db.engine)
    section_plans: list[str] = []
    load_start = os.getloadavg()[0]
    try:
        harness.cleanup_writes(db)
        ops = harness.build_operations(db, options.only)
        measurements = []
        for op in ops:
            m = harness.measure(db, floor, op, options.repeat, options.warmup)
            measurements.append(m)
            log(
                f"  {backend} {n} {op.key:<20} {op.context:<6} glancedb {m.glancedb_ms:9.3f} ms"
                f"  floor {m.floor_ms:9.3f} ms  x{m.ratio:5.1f}  {m.statements} stmts"
                f"  (CPU {m.glancedb_cpu_ms:.3f} / {m.floor_cpu_ms:.3f} ms)"
            )
            if options.profile:
                print(f"\n-- profile: {backend} {n} {op.key} {op.context} --")
                print(harness.profile(op, options.repeat))
        harness.cleanup_writes(db)
        literals = []
        paramstyle = db.engine.dialect.paramstyle
        # PyMySQL interpolates the parameters itself: MySQL always gets literals.
        compare = backend != "mysql"
        for m in measurements:
            if compare and m.key in harness.LITERAL_KEYS and m.context == "tenant":
                comparison = harness.compare_literal(floor, backend, paramstyle, m, options.repeat)
                if comparison is not None:
                    literals.append(comparison)
        if options.explain:
            for m in measurements:
                if m.key in ("image_create", "image_update"):
                    continue
                for sql, plan in harness.explain_measurement(floor, backend, m):
                    section_plans += [f"-- {m.label} ({m.context}):", *_indent(sql), *plan, ""]
        for c in literals:
            # Pairs whose plans differ are always shown; the others with --explain.
            if options.explain or not c.same_plan:
                section_plans += [f"-- {c.label} ({c.context}), bound parameters:", *c.bound_plan]
                section_plans += [f"-- {c.label} ({c.context}), literal values:", *c.literal_plan]
                section_plans.append("")
        section = report.Section(
            backend=backend,
            images=n,
            command=options.command,
            date=report.now(),
            machine=report.machine(),
            versions=report.versions(backend, _server_version(floor, backend)),
            build=build,
            revision=migration.current_revision(db.engine),
            repeat=options.repeat,
            round_trip_ms=floor.round_trip_ms(),
            peak_rss_mib=peak_rss_mib(),
            load=(load_start, os.getloadavg()[0]),
            measurements=measurements,
            literals=literals,
            plans=section_plans,
        )
    finally:
        floor.close()
        db.dispose()
    return section


def _indent(sql: str) -> list[str]:
    """The statement on one line, its long select list elided."""
    flat = " ".join(sql.split())
    head, sep, tail = flat.partition(" FROM ")
    if sep and len(head) > 80:
        flat = head.split(" ", 1)[0] + " ... FROM " + tail
    return ["   " + flat]


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--backend", action="append", choices=report.BACKEND_ORDER, help="repeatable"
    )
    parser.add_argument("--images", type=int, action="append", help="catalogue size (repeatable)")
    parser.add_argument("--repeat", "--repeats", type=int, default=20, dest="repeat")
    parser.add_argument("--only", nargs="+", choices=harness.OP_KEYS, metavar="OP")
    parser.add_argument("--explain", action="store_true", help="print query plans")
    parser.add_argument("--profile", action="store_true", help="cProfile glancedb's calls")
    parser.add_argument("--write-results", action="store_true", help="update RESULTS.md")
    parser.add_argument("--rebuild", action="store_true", help="build the catalogue anew")
    parser.add_argument(
        "--build-only", action="store_true", help="build (or find) the catalogues, measure nothing"
    )
    parser.add_argument("--revision", help="measure the schema at this glancedb revision")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--sqlite-dir", help="folder of the SQLite catalogues")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    raw = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(raw)
    options = Options(
        repeat=args.repeat,
        only=args.only,
        explain=args.explain,
        profile=args.profile,
        rebuild=args.rebuild,
        revision=args.revision,
        seed=args.seed,
        sqlite_dir=args.sqlite_dir,
        command=shlex.join(["python", "-m", "benchmarks", *raw]),
    )
    for backend in args.backend or ["sqlite"]:
        for n in args.images or [10_000]:
            if args.build_only:
                db, build = prepare(
                    backend, n, seed=args.seed, rebuild=args.rebuild, sqlite_dir=args.sqlite_dir
                )
                db.dispose()
                print(f"{backend} {n}: {build}")
                continue
            section = run_one(backend, n, options)
            print("\n" + report.render(section), flush=True)
            if args.write_results:
                # Section by section: a later failure keeps what was measured.
                report.write_results([section])
                print(f"wrote {report.RESULTS}", flush=True)
    return 0
