"""Faults on real servers (SPEC 13, 16): killed connections, a Galera node restarted.

Connections are killed from the server side while writers and readers run
(``pg_terminate_backend`` on PostgreSQL, ``KILL CONNECTION`` on MariaDB and on
Galera nodes), timed around COMMIT and during statements.  Then the books
are checked: every call that returned normally wrote its image exactly
once and whole; every call that raised an error other than
:class:`DBCommitUnknown` wrote nothing; DBCommitUnknown ones are counted;
no read mixed two committed states; callers saw only documented errors.

Each test prints its tally (``pytest -s`` shows it).
"""

from __future__ import annotations

import random
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from glancedb import Database, RequestContext, exception
from tests.support.backends import peer_databases, topology_urls
from tests.support.consistency import create_versioned, torn, update_to
from tests.support.faults import Audit, CommitResolutions, Killer, Ledger, audit

pytestmark = [pytest.mark.topologies, pytest.mark.slow, pytest.mark.backends("postgresql", "mysql")]

SCRIPTS = Path(__file__).resolve().parent.parent / "scripts" / "topology"
CALLS_PER_WRITER = 30


def run_workload(
    writers: list[Database],
    readers: list[Database],
    ctx: RequestContext,
    versioned: list[str],
    ledger: Ledger,
    *,
    prefix: str,
    calls: int | None = None,
    until: threading.Event | None = None,
) -> list[str]:
    """Writers create images (booked in ``ledger``) and update the versioned
    ones; readers read them; returns the torn reads seen."""
    torn_reads: list[str] = []
    done = threading.Event()
    lock = threading.Lock()

    def write(index: int, db: Database) -> None:
        mine = versioned[index :: len(writers)]
        version = 0
        n = 0
        while (calls is not None and n < calls) or (until is not None and not until.is_set()):
            name = f"{prefix}{index}-{n}"
            values = {
                "status": "active",
                "owner": ctx.owner,
                "name": name,
                "properties": {"marker": name},
            }
            ledger.call(name, lambda v=values: db.image_create(ctx, v))
            if mine:
                version += 1
                try:
                    update_to(db, ctx, mine[n % len(mine)], version)
                except Exception as exc:
                    ledger.error(exc)
            n += 1

    def read(index: int, db: Database) -> None:
        rng = random.Random(index)
        while not done.is_set():
            try:
                if rng.random() < 0.5:
                    images = [db.image_get(ctx, rng.choice(versioned))]
                else:
                    # The versioned images ("n<version>") sort first by name, descending.
                    images = db.image_get_all(
                        ctx,
                        filters={"deleted": False},
                        sort_key=["name"],
                        sort_dir=["desc"],
                        limit=len(versioned) + 5,
                    )
                images = [i for i in images if i["id"] in versioned]
                problems = [p for p in map(torn, images) if p is not None]
                if problems:
                    with lock:
                        torn_reads.extend(problems)
            except Exception as exc:
                ledger.error(exc)

    writer_threads = [threading.Thread(target=write, args=(i, w)) for i, w in enumerate(writers)]
    reader_threads = [threading.Thread(target=read, args=(i, r)) for i, r in enumerate(readers)]
    for thread in writer_threads + reader_threads:
        thread.start()
    for thread in writer_threads:
        thread.join()
    done.set()
    for thread in reader_threads:
        thread.join()
    return torn_reads


def report(title: str, result: Audit, ledger: Ledger, extra: dict[str, Any]) -> None:
    print(
        f"\n[{title}] calls={result.calls} "
        + " ".join(f"{key}={value}" for key, value in extra.items())
        + f" errors={dict(ledger.errors)}"
        f" commit_unknown(written/absent)={result.commit_unknown_written}/"
        f"{result.commit_unknown_absent} lost={len(result.lost)}"
        f" duplicated={len(result.duplicated)} failed_but_written={len(result.failed_but_written)}"
        f" partial={len(result.partial)}"
    )


def check(result: Audit, ledger: Ledger, torn_reads: list[str]) -> None:
    assert ledger.undocumented == []
    assert result.lost == []
    assert result.duplicated == []
    assert result.failed_but_written == []
    assert result.partial == []
    assert torn_reads == []


def test_connections_killed_at_commit_and_mid_statement(
    backend: str, db: Database, ctx: RequestContext
) -> None:
    versioned = create_versioned(db, ctx, 4)
    ledger = Ledger()
    killers = [Killer(db.engine, at_commit=0.25, mid_statement=0.02, seed=1)]
    if db.read_engine is not db.engine:
        killers.append(Killer(db.read_engine, at_commit=0.25, mid_statement=0.02, seed=2))
    with CommitResolutions() as resolutions, ExitStack() as stack:
        for killer in killers:
            stack.enter_context(killer)
        torn_reads = run_workload(
            [db, db], [db], ctx, versioned, ledger, prefix="kill-", calls=CALLS_PER_WRITER
        )
    result = audit(db, ledger, prefix="kill-")
    kills = sum((killer.kills for killer in killers), Counter[str]())
    report(backend, result, ledger, {"kills": dict(kills), "resolved": dict(resolutions.counts)})
    check(result, ledger, torn_reads)
    assert sum(kills.values()) > 10
    if db.backend == "postgresql":
        assert result.commit_unknown_written + result.commit_unknown_absent == 0


@pytest.mark.backends("pg-standby")
def test_a_lost_commit_acknowledgement_is_resolved_as_committed(
    backend: str, db: Database, ctx: RequestContext
) -> None:
    """The server commits, then the session dies before saying so.

    With a synchronous standby that never answers, COMMIT writes its commit
    record and then waits; killing the session then leaves a transaction
    committed that its client never heard of.  glancedb asks the primary on
    a new connection, finds it committed and returns normally, once.
    """
    # Reconfigures synchronous replication: only on the pg-standby topology.
    primary = create_engine(db.engine.url, isolation_level="AUTOCOMMIT")
    stop = threading.Event()
    killed: list[int] = []

    def kill_waiting_commits() -> None:
        with primary.connect() as conn:
            while not stop.is_set():
                pids = conn.execute(
                    text(
                        "SELECT pid FROM pg_stat_activity WHERE wait_event = 'SyncRep'"
                        " AND datname = current_database()"
                    )
                ).scalars()
                for pid in pids:
                    conn.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid})
                    killed.append(pid)
                time.sleep(0.01)

    with primary.connect() as conn:
        conn.execute(text("ALTER SYSTEM SET synchronous_standby_names = 'glancedb_nobody'"))
        conn.execute(text("SELECT pg_reload_conf()"))
    # The reload reaches running backends asynchronously: wait until a new
    # session sees the setting, then let the database open new sessions too,
    # so that every COMMIT below waits for the standby that never answers.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with primary.connect() as conn:
            if conn.execute(text("SHOW synchronous_standby_names")).scalar() == "glancedb_nobody":
                break
        time.sleep(0.05)
    db.engine.dispose()
    killer = threading.Thread(target=kill_waiting_commits)
    killer.start()
    try:
        with CommitResolutions() as resolutions:
            for n in range(5):
                values = {"status": "queued", "owner": ctx.owner, "name": f"acked-{n}"}
                assert db.image_create(ctx, values)["name"] == f"acked-{n}"
    finally:
        stop.set()
        killer.join(30)
        with primary.connect() as conn:
            conn.execute(text("ALTER SYSTEM RESET synchronous_standby_names"))
            conn.execute(text("SELECT pg_reload_conf()"))
        primary.dispose()
    print(f"\n[{backend}] lost acknowledgements={len(killed)} resolved={dict(resolutions.counts)}")
    assert len(killed) >= 5
    assert resolutions.counts["committed"] >= 5
    with db.engine.connect() as conn:
        names = conn.execute(text("SELECT name FROM images ORDER BY name")).scalars().all()
    assert names == [f"acked-{n}" for n in range(5)]  # each exactly once


@pytest.mark.backends("galera")
def test_a_galera_node_stopped_and_restarted_mid_run(
    backend: str, db: Database, ctx: RequestContext
) -> None:
    nodes = peer_databases(backend, db, 3)
    versioned = create_versioned(nodes[0], ctx, 6)
    ledger = Ledger()
    stop = threading.Event()
    script = str(SCRIPTS / "galera.sh")
    steps: list[str] = []

    def operator() -> None:
        try:
            time.sleep(1.0)
            subprocess.run([script, "stop-node", "3"], check=True, timeout=120, capture_output=True)
            steps.append("stopped node 3")
            time.sleep(2.0)
            subprocess.run(
                [script, "start-node", "3"], check=True, timeout=180, capture_output=True
            )
            steps.append("started node 3")
            time.sleep(1.5)
        finally:
            stop.set()

    # A starting server deletes the "#sql*" files in its tmpdir: an on-disk
    # temporary table on node 1 must survive node 3's start (the nodes'
    # tmpdirs must not be shared; MariaDB's own sorts and GROUP BYs spill there).
    witness_engine = create_engine(topology_urls(backend)[0], poolclass=NullPool)
    witness = witness_engine.connect()
    witness.execute(text("CREATE TEMPORARY TABLE restart_witness (n INT) ENGINE=Aria"))
    witness.execute(text("INSERT INTO restart_witness VALUES (1), (2)"))
    thread = threading.Thread(target=operator)
    thread.start()
    try:
        torn_reads = run_workload(nodes, nodes, ctx, versioned, ledger, prefix="gal-", until=stop)
    finally:
        thread.join(300)
        for node in nodes:
            node.dispose()
    assert steps == ["stopped node 3", "started node 3"]
    try:
        assert witness.execute(text("SELECT SUM(n) FROM restart_witness")).scalar() == 3
        # An open file outlives its deletion; dropping it is what fails.
        witness.execute(text("DROP TEMPORARY TABLE restart_witness"))
    finally:
        witness.close()
        witness_engine.dispose()
    result = audit(db, ledger, prefix="gal-")
    report(backend, result, ledger, {"faults": "stop-node 3, start-node 3"})
    check(result, ledger, torn_reads)
    # The nodes agree once node 3 is back.
    counts = []
    for url in topology_urls(backend):
        engine = create_engine(url)
        with engine.connect() as conn:
            conn.execute(text("SET SESSION wsrep_sync_wait = 1"))
            counts.append(conn.execute(text("SELECT count(*) FROM images")).scalar())
        engine.dispose()
    assert len(set(counts)) == 1, counts


def test_faults_helpers_are_sane(db: Database, ctx: RequestContext) -> None:
    ledger = Ledger()
    ledger.call("ok-1", lambda: db.image_create(ctx, _values("ok-1")))
    ledger.call("bad-1", _raiser(exception.DBConnectionError("down")))
    result = audit(db, ledger, prefix="")
    assert (result.calls, result.lost, result.failed_but_written) == (2, [], [])


def _values(name: str) -> dict[str, Any]:
    return {"status": "queued", "name": name, "properties": {"marker": name}}


def _raiser(error: Exception) -> Callable[[], None]:
    def call() -> None:
        raise error

    return call
