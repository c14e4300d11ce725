"""Two common property values that are rare together: what an index holding
the image id would buy.

    python -m benchmarks.property_pair --backend sqlite|postgresql|mysql
        [--images 1000000] [--repeat 5] [--keep-index] [--length-statistics]

On the benchmark catalogue of that size (``python -m benchmarks`` builds it),
for the pair ``os_distro=fedora`` and ``os_version=7`` (each common, the two
together on 0.04 % of the images), medians of ``--repeat`` runs:

- glancedb's page of 25 filtered on both values, for an admin and for the
  benchmark's tenant, as glancedb's head writes and indexes it, and an
  admin's page on ``os_distro=fedora`` alone;
- the images carrying both values, as an ``INTERSECT`` of the two values'
  image ids read through glancedb's ``(name, value)`` index (whose entries
  point at the property row, so each match reads its row for the image id);
- the same ``INTERSECT`` through a study index that also holds the image id,
  built for the run (timed, and its size) and dropped at the end, and
  glancedb's pages again while it is there (its statements unchanged: the
  planner may or may not use the index):

  - SQLite: ``(name, value, image_id)``; the build holds the write lock
    throughout, as any SQLite index build does;
  - PostgreSQL: ``(name, value) INCLUDE (image_id, deleted)``, partial as
    glancedb's, built ``CONCURRENTLY``, then ``VACUUM`` so that index-only
    scans need no heap visit;
  - MySQL/MariaDB: ``(name, value(255), image_id)``, built online; ``value``
    is ``TEXT`` there, indexed by a prefix, so the rows are still read to
    compare the whole value.

The statements name the index to use (``INDEXED BY``, ``FORCE INDEX``)
where the planner would otherwise keep glancedb's.  ``--length-statistics``
(PostgreSQL) first creates statistics on ``octet_length(value)`` and
analyses the table, dropped at the end: without them PostgreSQL estimates
the partial index's predicate at a third and each value three times too
rare, which decides its plans here.  The figures are in
docs/performance.md ("Two common values rare together").
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, text
from sqlalchemy.exc import SQLAlchemyError

from benchmarks.catalogue import TENANT
from benchmarks.store import prepare
from glancedb import Database
from glancedb.context import RequestContext, get_admin_context
from glancedb.models.images import PROPERTY_VALUE_INDEXED

PAIR = {"os_distro": "fedora", "os_version": "7"}
HEAD_INDEX = "ix_glancedb_image_properties_name_value"
STUDY_INDEX = "ix_study_name_value_image"
LENGTH_STATISTICS = "st_study_value_length"

STUDY_DDL = {
    "sqlite": f"CREATE INDEX {STUDY_INDEX} ON image_properties (name, value, image_id)",
    "postgresql": (
        f"CREATE INDEX CONCURRENTLY {STUDY_INDEX} ON image_properties (name, value)"
        f" INCLUDE (image_id, deleted) WHERE {PROPERTY_VALUE_INDEXED}"
    ),
    "mysql": (
        f"CREATE INDEX {STUDY_INDEX} ON image_properties (name, value(255), image_id)"
        " ALGORITHM=INPLACE LOCK=NONE"
    ),
}
DROP_DDL = {
    "sqlite": f"DROP INDEX {STUDY_INDEX}",
    "postgresql": f"DROP INDEX CONCURRENTLY {STUDY_INDEX}",
    "mysql": f"DROP INDEX {STUDY_INDEX} ON image_properties",
}


def value_rows(backend: str, index: str, number: int) -> str:
    """The image ids of the rows of property ``:name_<number>`` = ``:value_<number>``,
    read through ``index``."""
    if backend == "sqlite":
        source = f"image_properties INDEXED BY {index}"
    elif backend == "mysql":
        source = f"image_properties FORCE INDEX ({index})"
    else:
        source = "image_properties"
    where = f"name = :name_{number} AND value = :value_{number}"
    if backend == "postgresql":
        where += f" AND {PROPERTY_VALUE_INDEXED}"  # the partial indexes' predicate
    return f"SELECT image_id FROM {source} WHERE {where}"


def intersect_statement(backend: str, index: str) -> str:
    """How many images carry both values of :data:`PAIR`, by ``INTERSECT``."""
    both = f"{value_rows(backend, index, 0)} INTERSECT {value_rows(backend, index, 1)}"
    return f"SELECT count(*) FROM ({both}) AS pair"


def median_ms(function: Callable[[], Any], repeat: int) -> float:
    """The median wall-clock time of ``function`` over ``repeat`` runs, after one warm-up."""
    function()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def index_size_mib(conn: Connection, backend: str) -> float | None:
    """The study index's size on disk, where the backend tells it."""
    if backend == "sqlite":
        query = "SELECT sum(pgsize) FROM dbstat WHERE name = :n"
    elif backend == "postgresql":
        query = "SELECT pg_relation_size(CAST(:n AS regclass))"
    else:
        query = (
            "SELECT stat_value * @@innodb_page_size FROM mysql.innodb_index_stats"
            " WHERE database_name = DATABASE() AND table_name = 'image_properties'"
            " AND index_name = :n AND stat_name = 'size'"
        )
    try:
        size = conn.execute(text(query), {"n": STUDY_INDEX}).scalar()
    except SQLAlchemyError:  # dbstat is a compile-time option of SQLite
        return None
    return None if size is None else int(size) / 2**20


def study(
    db: Database, backend: str, repeat: int, keep_index: bool, length_statistics: bool
) -> list[tuple[str, str]]:
    """The measurements, as (what, figure) rows."""
    rows: list[tuple[str, str]] = []
    engine = db.engine.execution_options(isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        if length_statistics:
            conn.execute(
                text(
                    f"CREATE STATISTICS {LENGTH_STATISTICS} ON (octet_length(value))"
                    " FROM image_properties"
                )
            )
            conn.execute(text("ANALYZE image_properties"))
        try:
            measure(db, conn, backend, repeat, keep_index, rows)
        finally:
            if length_statistics:
                conn.execute(text(f"DROP STATISTICS {LENGTH_STATISTICS}"))
                conn.execute(text("ANALYZE image_properties"))
    return rows


def measure(
    db: Database,
    conn: Connection,
    backend: str,
    repeat: int,
    keep_index: bool,
    rows: list[tuple[str, str]],
) -> None:
    """Append the measurements to ``rows`` (see the module)."""
    filters = {"deleted": False, "properties": dict(PAIR)}

    def count(sql: str, values: dict[str, str]) -> int:
        return int(conn.execute(text(sql), values).scalar_one())

    matches = {
        name: count(
            "SELECT count(*) FROM image_properties WHERE name = :n AND value = :v",
            {"n": name, "v": value},
        )
        for name, value in PAIR.items()
    }
    # The rarer value first: MySQL/MariaDB keep the first branch of an
    # INTERSECT in a temporary table (at 1M, through glancedb's index:
    # 3.1-3.9 s with the 200k-row value first, 1.3 s with the 67k-row one).
    params: dict[str, str] = {}
    for number, name in enumerate(sorted(PAIR, key=matches.__getitem__)):
        params[f"name_{number}"], params[f"value_{number}"] = name, PAIR[name]
        rows.append((f"rows of {name}={PAIR[name]}", f"{matches[name]:,}"))
    head_sql = intersect_statement(backend, HEAD_INDEX)
    rows.append(("images with both", f"{count(head_sql, params):,}"))

    def pages(index: str) -> None:
        for label, context in (
            ("admin", get_admin_context()),
            ("tenant", RequestContext(project_id=TENANT)),
        ):
            page = median_ms(
                lambda context=context: db.image_get_all(context, filters=filters, limit=25),
                repeat,
            )
            rows.append((f"glancedb's page of 25, {label}, {index}", f"{page:,.1f} ms"))
        # One of the two values alone: a plan the study index must not spoil.
        alone = {"deleted": False, "properties": {"os_distro": PAIR["os_distro"]}}
        page = median_ms(
            lambda: db.image_get_all(get_admin_context(), filters=alone, limit=25), repeat
        )
        what = f"glancedb's page of 25 on os_distro alone, admin, {index}"
        rows.append((what, f"{page:,.1f} ms"))

    pages(f"with {HEAD_INDEX} only")
    head = median_ms(lambda: count(head_sql, params), repeat)
    rows.append((f"INTERSECT through {HEAD_INDEX}", f"{head:,.1f} ms"))
    started = time.perf_counter()
    conn.execute(text(STUDY_DDL[backend]))
    if backend == "postgresql":
        conn.execute(text("VACUUM ANALYZE image_properties"))
    build = time.perf_counter() - started
    size = index_size_mib(conn, backend)
    shown = "" if size is None else f", {size:,.0f} MiB"
    rows.append((f"building {STUDY_INDEX}", f"{build:,.1f} s{shown}"))
    try:
        study_sql = intersect_statement(backend, STUDY_INDEX)
        covered = median_ms(lambda: count(study_sql, params), repeat)
        rows.append((f"INTERSECT through {STUDY_INDEX}", f"{covered:,.1f} ms"))
        pages(f"with {STUDY_INDEX} too")
    finally:
        if not keep_index:
            conn.execute(text(DROP_DDL[backend]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--backend", choices=sorted(STUDY_DDL), default="sqlite")
    parser.add_argument("--images", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--keep-index", action="store_true", help="leave the study index in place")
    parser.add_argument(
        "--length-statistics",
        action="store_true",
        help="PostgreSQL: measure with statistics on octet_length(value)",
    )
    args = parser.parse_args(argv)
    if args.length_statistics and args.backend != "postgresql":
        parser.error("--length-statistics is for PostgreSQL")
    db, _info = prepare(args.backend, args.images)
    try:
        rows = study(db, args.backend, args.repeat, args.keep_index, args.length_statistics)
    finally:
        db.dispose()
    note = ", statistics on octet_length(value)" if args.length_statistics else ""
    print(f"\n{args.backend}, {args.images} images{note}, median of {args.repeat} runs\n")
    print("| measured | figure |\n|---|--:|")
    for what, figure in rows:
        print(f"| {what} | {figure} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
