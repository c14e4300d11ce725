"""How a listing's time grows from a small catalogue to a large one, measured in alternation.

    python -m benchmarks.growth --backend sqlite|postgresql|mysql
        [--small 10000] [--large 1000000] [--rounds 8] [--repeat 10] [--only OP ...]

``python -m benchmarks --images 10000 --images 1000000`` measures the two
sizes one after the other, minutes apart; on a shared machine whose speed
drifts by a quarter within minutes, the ratio of two such tables says as
much about the drift as about the size.  Here every operation is measured
on both catalogues in ``--rounds`` alternating rounds (small first in even
rounds, large first in odd ones), each round the benchmark's own
measurement (:func:`benchmarks.harness.measure`: glancedb and the floor
alternated, ``--repeat`` timed calls each).  Printed per operation and
context: the median over the rounds of each round's median, for glancedb
and for the floor, on each size, and the growth (large / small) of each, in
CPU time of the calling thread (robust to other processes; on PostgreSQL
and MySQL it leaves out the server's work, so wall-clock growth is printed
too).  The catalogues are those of ``python -m benchmarks`` (built if
missing); the generator draws the newest images, those a page reads, alike
at every size, so both sizes walk the same rows.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from collections.abc import Sequence

from benchmarks import harness, report
from benchmarks.store import prepare

#: The operations measured unless ``--only`` says otherwise: the listings.
DEFAULT_KEYS = harness.LISTING_KEYS


def _median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def run(
    backend: str,
    small: int,
    large: int,
    *,
    rounds: int,
    repeat: int,
    only: Sequence[str],
    sqlite_dir: str | None = None,
) -> list[str]:
    """The table's lines: every operation of ``only`` on both catalogues, alternated."""
    sizes = (small, large)
    dbs = {n: prepare(backend, n, sqlite_dir=sqlite_dir)[0] for n in sizes}
    floors = {n: harness.Floor(db.engine) for n, db in dbs.items()}
    try:
        for db in dbs.values():
            harness.cleanup_writes(db)
        ops = {n: harness.build_operations(db, only) for n, db in dbs.items()}
        lines = [
            f"| operation | context | glancedb CPU ms, {small} | {large} | growth"
            f" | floor CPU ms, {small} | {large} | growth | glancedb wall growth |",
            "|---|---|--:|--:|--:|--:|--:|--:|--:|",
        ]
        for index, op in enumerate(ops[small]):
            other = ops[large][index]
            assert (other.key, other.context) == (op.key, op.context)
            by_size = {small: op, large: other}
            runs: dict[int, list[harness.Measurement]] = {n: [] for n in sizes}
            for number in range(rounds):
                for n in sizes if number % 2 == 0 else sizes[::-1]:
                    runs[n].append(harness.measure(dbs[n], floors[n], by_size[n], repeat))
            g = {n: _median([m.glancedb_cpu_ms for m in runs[n]]) for n in sizes}
            f = {n: _median([m.floor_cpu_ms for m in runs[n]]) for n in sizes}
            wall = {n: _median([m.glancedb_ms for m in runs[n]]) for n in sizes}
            ms = report.format_ms
            line = (
                f"| {op.label} | {op.context} | {ms(g[small])} | {ms(g[large])}"
                f" | {g[large] / g[small]:.2f} | {ms(f[small])} | {ms(f[large])}"
                f" | {f[large] / f[small]:.2f} | {wall[large] / wall[small]:.2f} |"
            )
            print(line, file=sys.stderr, flush=True)
            lines.append(line)
        return lines
    finally:
        for floor in floors.values():
            floor.close()
        for db in dbs.values():
            db.dispose()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.growth",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--backend", choices=report.BACKEND_ORDER, default="sqlite")
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--large", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=10, help="timed calls per round and side")
    parser.add_argument("--only", nargs="+", choices=harness.OP_KEYS, metavar="OP")
    parser.add_argument("--sqlite-dir", help="folder of the SQLite catalogues")
    args = parser.parse_args(argv)
    lines = run(
        args.backend,
        args.small,
        args.large,
        rounds=args.rounds,
        repeat=args.repeat,
        only=args.only or DEFAULT_KEYS,
        sqlite_dir=args.sqlite_dir,
    )
    print(
        f"\n## {args.backend}: {args.small} -> {args.large} images, {args.rounds} alternated"
        f" rounds of {args.repeat} calls ({report.now()}, {report.machine()})\n"
    )
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
