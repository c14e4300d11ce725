"""image_update's ``from_state`` is a compare-and-swap (SPEC 2.2).

16 threads race to move the same queued image to ``saving``: exactly one
wins, the others get Conflict and write nothing.  Repeated over 50 images on
every backend (SQLite serialises writers with BEGIN IMMEDIATE, so it must
give the same answer), and on the topologies: on Galera the contenders are
spread over the three nodes (one database per node), so the race is decided
by certification.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from glancedb import Database, RequestContext
from glancedb.exception import Conflict, DBDeadlock
from tests.support.backends import peer_databases

pytestmark = pytest.mark.topologies

THREADS = 16
ROUNDS = 50


def contenders(backend: str, db: Database) -> list[Database]:
    """The racing databases: one per Galera node, else one shared by the threads."""
    return peer_databases(
        backend, db, 3 if backend == "galera" else 1, pool_size=THREADS + 4, max_overflow=0
    )


@pytest.mark.slow
def test_from_state_race_has_exactly_one_winner(
    backend: str, db: Database, ctx: RequestContext
) -> None:
    racers = contenders(backend, db)
    try:
        image_ids = [
            db.image_create(ctx, {"status": "queued", "owner": "tenant-a", "name": "start"})["id"]
            for _ in range(ROUNDS)
        ]
        barrier = threading.Barrier(THREADS)

        def attempt(image_id: str, contender: int) -> str:
            barrier.wait(timeout=30)
            try:
                racers[contender % len(racers)].image_update(
                    ctx,
                    image_id,
                    {"status": "saving", "name": f"winner-{contender}"},
                    from_state="queued",
                )
            except Conflict as exc:
                assert "queued" in str(exc) and "saving" in str(exc)
                return "conflict"
            return f"winner-{contender}"

        with ThreadPoolExecutor(max_workers=THREADS) as pool:
            for image_id in image_ids:
                futures = [pool.submit(attempt, image_id, n) for n in range(THREADS)]
                outcomes = [future.result(timeout=60) for future in futures]
                winners = [o for o in outcomes if o != "conflict"]
                assert len(winners) == 1, outcomes
                assert outcomes.count("conflict") == THREADS - 1
                # Only the winner wrote: its name, the new status (read from
                # the primary: the racers' writes are not this database's own).
                final = racers[0].image_get(ctx, image_id)
                assert (final["status"], final["name"]) == ("saving", winners[0])
    finally:
        for racer in racers:
            racer.dispose()


@pytest.mark.slow
def test_concurrent_updates_of_one_new_property_never_duplicate(
    backend: str, db: Database, ctx: RequestContext
) -> None:
    """Updaters adding the same new property serialise on the image row: the
    later ones update the row the first inserted (no Duplicate).

    On one server the row lock queues them and every update succeeds.  On
    Galera the three nodes' holders of the lock are certified against each
    other: the losers retry, and one that keeps losing until the retry
    budget is spent gets DBDeadlock (SPEC 13) - never a Duplicate, never a
    second row.
    """
    racers = contenders(backend, db)
    try:
        image_ids = [
            db.image_create(ctx, {"status": "active", "owner": "tenant-a"})["id"] for _ in range(5)
        ]
        barrier = threading.Barrier(THREADS)

        def attempt(image_id: str, contender: int) -> str | None:
            barrier.wait(timeout=30)
            racer = racers[contender % len(racers)]
            try:
                racer.image_update(ctx, image_id, {"properties": {"shared": f"v{contender}"}})
            except DBDeadlock:
                if backend != "galera":
                    raise
                return None
            return f"v{contender}"

        with ThreadPoolExecutor(max_workers=THREADS) as pool:
            for image_id in image_ids:
                futures = [pool.submit(attempt, image_id, n) for n in range(THREADS)]
                written = {future.result(timeout=60) for future in futures} - {None}
                (prop,) = racers[0].image_get(ctx, image_id)["properties"]
                assert prop["name"] == "shared" and prop["deleted"] is False
                assert prop["value"] in written
    finally:
        for racer in racers:
            racer.dispose()
