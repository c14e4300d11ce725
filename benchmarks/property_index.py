"""PostgreSQL: shapes of the image_properties index, built and written to.

    python -m benchmarks.property_index [--images 1000000] [SHAPE ...]

On the benchmark catalogue of that size (``python -m benchmarks`` builds it),
each shape is built alone (plain ``CREATE INDEX``, timed), measured (size)
and written to: 200 inserts of a common value (``virtio``, a million rows at
1M images) and 200 of a unique one, alternating, median latency each.  The
catalogue's own index (glancedb's head) is dropped first and rebuilt at the
end.  The figures are in docs/performance.md.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import uuid
from typing import Any

from sqlalchemy import text

from benchmarks.store import prepare

SHAPES = {
    "hash_value": "CREATE INDEX {n} ON image_properties USING hash (value)",
    "btree_name_value_short": (
        "CREATE INDEX {n} ON image_properties (name, value) WHERE octet_length(value) < 1000"
    ),
    "btree_name_left100": "CREATE INDEX {n} ON image_properties (name, left(value, 100))",
}
HEAD_INDEX = "ix_glancedb_image_properties_name_value"
HEAD_DDL = SHAPES["btree_name_value_short"].format(n=HEAD_INDEX)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--images", type=int, default=1_000_000)
    parser.add_argument("shapes", nargs="*", help=f"some of {', '.join(SHAPES)} (default: all)")
    args = parser.parse_args(argv)
    unknown = set(args.shapes) - set(SHAPES)
    if unknown:
        parser.error(f"unknown shapes: {', '.join(sorted(unknown))}")
    db, _info = prepare("postgresql", args.images)
    engine = db.engine.execution_options(isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:

        def run(sql: str, **params: Any) -> Any:
            return conn.execute(text(sql), params)

        image_id = run("SELECT id FROM images LIMIT 1").scalar_one()
        print(f"rows: {run('SELECT count(*) FROM image_properties').scalar_one()}", flush=True)
        run(f"DROP INDEX IF EXISTS {HEAD_INDEX}")
        for shape in args.shapes or list(SHAPES):
            name = f"ix_study_{shape}"
            started = time.perf_counter()
            run(SHAPES[shape].format(n=name))
            build = time.perf_counter() - started
            size = run("SELECT pg_size_pretty(pg_relation_size(CAST(:n AS regclass)))", n=name)
            size_text = size.scalar_one()
            latencies: dict[str, list[float]] = {"common": [], "unique": []}
            for i in range(400):
                kind = "common" if i % 2 else "unique"
                value = "virtio" if kind == "common" else f"u-{uuid.uuid4()}"
                started = time.perf_counter()
                run(
                    "INSERT INTO image_properties (image_id, name, value, created_at, deleted)"
                    " VALUES (:i, :n, :v, now(), false)",
                    i=image_id,
                    n=f"study_{uuid.uuid4()}",
                    v=value,
                )
                latencies[kind].append((time.perf_counter() - started) * 1000)
            run("DELETE FROM image_properties WHERE name LIKE 'study_%'")
            run(f"DROP INDEX {name}")
            print(
                f"{shape}: build {build:.1f}s, size {size_text}; insert median:"
                f" common value {statistics.median(latencies['common']):.2f} ms,"
                f" unique value {statistics.median(latencies['unique']):.2f} ms",
                flush=True,
            )
        run(HEAD_DDL)
    db.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
