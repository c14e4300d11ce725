"""The benchmark's databases: where each catalogue lives, built once and reused.

SQLite: ``<tmp>/glancedb_bench_<n>.sqlite``.  PostgreSQL and MySQL: database
``glancedb_bench_<n>`` on the server of ``GLANCEDB_BENCH_<BACKEND>_URL``
(else the local default server; the URL's database name, suffixed with
``_<n>``, must start with ``glancedb_bench``).

A catalogue is built into a fresh database (created with ``db_sync()``,
then loaded batch by batch, then analysed in full) and a one-row marker
table, :data:`MARKER_TABLE`, records its size, seed and generator version
with the build's time and peak RSS.  A later run with the same parameters
reuses it; ``rebuild=True`` forces a new one.
"""

from __future__ import annotations

import datetime
import os
import resource
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import URL, Engine, create_engine, inspect, text
from sqlalchemy.engine import make_url

from benchmarks.catalogue import GENERATOR_VERSION, analyze, load
from glancedb import Database, migration

DEFAULT_SERVER_URLS = {
    "postgresql": "postgresql+psycopg://postgres@127.0.0.1:5432/glancedb_bench",
    "mysql": "mysql+pymysql://root@127.0.0.1:3306/glancedb_bench",
}
PREFIX = "glancedb_bench"


def is_benchmark_name(name: str | None) -> bool:
    """Whether a server database may be dropped and rebuilt by the benchmark:
    ``glancedb_bench*``, or another ``glancedb_*bench*`` name (engineers
    sharing a server each use their own, e.g. ``glancedb_perfbench``)."""
    return name is not None and name.startswith("glancedb_") and "bench" in name


MARKER_TABLE = "glancedb_bench_catalogue"


@dataclass(frozen=True)
class BuildInfo:
    """How the measured catalogue was made."""

    images: int
    seed: int
    generator: int
    load_seconds: float
    analyze_seconds: float
    peak_rss_mib: float
    built_at: str
    reused: bool


def peak_rss_mib() -> float:
    """The process's peak resident set size so far (``ru_maxrss`` is KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def database_url(backend: str, n: int, sqlite_dir: str | None = None) -> URL:
    if backend == "sqlite":
        folder = sqlite_dir or tempfile.gettempdir()
        return make_url(f"sqlite:///{os.path.join(folder, f'{PREFIX}_{n}.sqlite')}")
    env = os.environ.get(f"GLANCEDB_BENCH_{backend.upper()}_URL")
    url = make_url(env or DEFAULT_SERVER_URLS[backend])
    name = f"{url.database}_{n}"
    if not is_benchmark_name(name):
        raise SystemExit(f"benchmark databases must be named glancedb_*bench*, not {name!r}")
    return url.set(database=name)


def _admin_engine(url: URL) -> Engine:
    server_db = "postgres" if url.get_backend_name() == "postgresql" else ""
    return create_engine(url.set(database=server_db), isolation_level="AUTOCOMMIT")


def _server_database(url: URL, *, fresh: bool) -> None:
    """Create the server database ``url`` names (dropping it first when ``fresh``)."""
    name = url.database
    assert is_benchmark_name(name), name
    engine = _admin_engine(url)
    try:
        with engine.connect() as conn:
            if url.get_backend_name() == "postgresql":
                if fresh:
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                exists = conn.execute(
                    text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}
                ).first()
                if not exists:
                    conn.execute(text(f'CREATE DATABASE "{name}"'))
            else:
                if fresh:
                    conn.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
                conn.execute(text(f"CREATE DATABASE IF NOT EXISTS `{name}` CHARACTER SET utf8"))
    finally:
        engine.dispose()


def _remove_sqlite(url: URL) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        path = f"{url.database}{suffix}"
        if os.path.exists(path):
            os.remove(path)


def _read_marker(engine: Engine) -> BuildInfo | None:
    with engine.connect() as conn:
        if not inspect(conn).has_table(MARKER_TABLE):
            return None
        row = conn.execute(
            text(
                "SELECT images, seed, generator, load_seconds, analyze_seconds,"
                f" peak_rss_mib, built_at FROM {MARKER_TABLE}"
            )
        ).first()
    if row is None:
        return None
    return BuildInfo(*row, reused=True)


def _write_marker(engine: Engine, info: BuildInfo) -> None:
    with engine.begin() as conn:
        conn.execute(
            text(
                f"CREATE TABLE {MARKER_TABLE} (images INTEGER, seed INTEGER, generator INTEGER,"
                " load_seconds FLOAT, analyze_seconds FLOAT, peak_rss_mib FLOAT,"
                " built_at VARCHAR(40))"
            )
        )
        conn.execute(
            text(
                f"INSERT INTO {MARKER_TABLE} VALUES (:images, :seed, :generator, :load_seconds,"
                " :analyze_seconds, :peak_rss_mib, :built_at)"
            ),
            {
                "images": info.images,
                "seed": info.seed,
                "generator": info.generator,
                "load_seconds": info.load_seconds,
                "analyze_seconds": info.analyze_seconds,
                "peak_rss_mib": info.peak_rss_mib,
                "built_at": info.built_at,
            },
        )


def full_analyze(engine: Engine) -> float:
    started = time.perf_counter()
    with engine.begin() as conn:
        analyze(conn)
    return time.perf_counter() - started


def build(url: URL, n: int, seed: int, log: Callable[[str], None]) -> BuildInfo:
    """A fresh database at ``url`` holding the catalogue of ``n`` images."""
    if url.get_backend_name() == "sqlite":
        _remove_sqlite(url)
    else:
        _server_database(url, fresh=True)
    db = Database(url)
    try:
        db.db_sync()
        started = time.perf_counter()
        step = max(n // 10, 1)

        def progress(done: int) -> None:
            if done % step < 10_000 or done == n:
                elapsed = time.perf_counter() - started
                rss = peak_rss_mib()
                log(f"  loaded {done}/{n} images ({elapsed:.0f}s, peak RSS {rss:.0f} MiB)")

        load(db.engine, n, seed, bulk_session=True, progress=progress if n >= 50_000 else None)
        load_seconds = time.perf_counter() - started
        analyze_seconds = full_analyze(db.engine)
        info = BuildInfo(
            images=n,
            seed=seed,
            generator=GENERATOR_VERSION,
            load_seconds=round(load_seconds, 1),
            analyze_seconds=round(analyze_seconds, 1),
            peak_rss_mib=round(peak_rss_mib(), 1),
            built_at=datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
            reused=False,
        )
        _write_marker(db.engine, info)
        return info
    finally:
        db.dispose()


def prepare(
    backend: str,
    n: int,
    *,
    seed: int = 42,
    rebuild: bool = False,
    revision: str | None = None,
    sqlite_dir: str | None = None,
    log: Callable[[str], None] = print,
) -> tuple[Database, BuildInfo]:
    """The benchmark database of ``n`` images on ``backend``, built if needed.

    The schema is left at ``revision`` (default: glancedb's head); moving it
    there refreshes the statistics in full.
    """
    url = database_url(backend, n, sqlite_dir)
    info: BuildInfo | None = None
    if not rebuild:
        if backend != "sqlite":
            _server_database(url, fresh=False)
        if backend != "sqlite" or os.path.exists(str(url.database)):
            probe = create_engine(url)
            try:
                info = _read_marker(probe)
            finally:
                probe.dispose()
        if info is not None and (info.images, info.seed, info.generator) != (
            n,
            seed,
            GENERATOR_VERSION,
        ):
            info = None
    if info is None:
        log(f"building {n} images on {backend} ...")
        info = build(url, n, seed, log)
        log(
            f"built {n} images on {backend}: load {info.load_seconds}s,"
            f" analyze {info.analyze_seconds}s, peak RSS {info.peak_rss_mib} MiB"
        )
    db = Database(url)
    wanted = revision or migration.head_revision()
    if migration.current_revision(db.engine) != wanted:
        if wanted == migration.head_revision():
            migration.upgrade(db.engine, wanted)
        else:
            migration.downgrade(db.engine, wanted)
        full_analyze(db.engine)
    return db, info
