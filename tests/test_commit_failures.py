"""A connection lost during COMMIT (SPEC 13).

A read sends no COMMIT: it ends in the ROLLBACK of closing its connection,
and a loss there costs nothing - the answer is already read.  A write's
outcome is unknown to the client: PostgreSQL resolves it (the transaction id
taken before COMMIT, its status asked on a new connection) and returns
normally or retries; MySQL/MariaDB and SQLite raise
:class:`DBCommitUnknown` ("may have committed").  Never a second write, never
a write reported as failed that in fact happened without saying so.

The loss is made here by closing the driver connection inside the dialect's
COMMIT, either before it (the server rolls back) or after it (the write is
committed, the acknowledgement lost).  tests/test_faults.py kills real
connections from the server side.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from glancedb import Database, RequestContext, commits, exception
from glancedb import transactions as core
from glancedb.models import tables as t

pytestmark = pytest.mark.topologies


def _lost_connection_error(backend: str) -> Exception:
    if backend == "postgresql":
        import psycopg

        return psycopg.OperationalError("server closed the connection unexpectedly")
    if backend in ("mysql", "mariadb"):
        import pymysql

        return pymysql.err.OperationalError(2013, "Lost connection to MySQL server during query")
    return sqlite3.ProgrammingError("Cannot operate on a closed database.")


class CommitLoss:
    """Makes the next ``times`` COMMITs (or ``method``: ROLLBACKs) of
    ``engine`` lose their connection."""

    def __init__(
        self, engine: Engine, *, after: bool, times: int = 1, method: str = "do_commit"
    ) -> None:
        self.engine = engine
        self.after = after
        self.remaining = times
        self.commits = 0
        self._real = getattr(engine.dialect, method)

    def __call__(self, dbapi_connection: Any) -> None:
        self.commits += 1
        if self.remaining <= 0:
            self._real(dbapi_connection)
            return
        self.remaining -= 1
        if self.after:
            self._real(dbapi_connection)
        # Closing the driver connection makes the server roll back whatever
        # was not committed, and the dialect see a disconnect.
        getattr(dbapi_connection, "dbapi_connection", dbapi_connection).close()
        raise _lost_connection_error(self.engine.dialect.name)


@pytest.fixture
def lose_commit(monkeypatch: pytest.MonkeyPatch) -> Callable[..., CommitLoss]:
    def install(engine: Engine, *, after: bool, times: int = 1) -> CommitLoss:
        loss = CommitLoss(engine, after=after, times=times)
        monkeypatch.setattr(engine.dialect, "do_commit", loss)
        return loss

    return install


@pytest.fixture(autouse=True)
def quick_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(core, "RETRY_FIRST_DELAY", 0.001)


def images_named(db: Database, name: str) -> int:
    with db.engine.connect() as conn:
        return int(conn.execute(select(func.count()).where(t.images.c.name == name)).scalar_one())


def resolves(db: Database) -> bool:
    return db.backend == "postgresql"


def test_commit_unknown_is_a_connection_error() -> None:
    assert issubclass(exception.DBCommitUnknown, exception.DBConnectionError)
    assert "may have committed" in str(exception.DBCommitUnknown())


@pytest.mark.parametrize("after", [False, True], ids=["before-rollback", "after-rollback"])
def test_a_read_sends_no_commit_and_survives_losing_its_rollback(
    db: Database,
    ctx: RequestContext,
    lose_commit: Callable[..., CommitLoss],
    monkeypatch: pytest.MonkeyPatch,
    after: bool,
) -> None:
    image = db.image_create(ctx, {"status": "queued", "owner": ctx.owner, "name": "r"})
    db.image_get(ctx, image["id"])  # the replica has it from here on
    commits = lose_commit(db.read_engine, after=False, times=0)
    loss = CommitLoss(db.read_engine, after=after, method="do_rollback")
    monkeypatch.setattr(db.read_engine.dialect, "do_rollback", loss)
    assert db.image_get(ctx, image["id"])["name"] == "r"
    listed = db.image_get_all(ctx, filters={"name": "r"})
    assert [i["id"] for i in listed] == [image["id"]]
    assert commits.commits == 0
    # The first read's ROLLBACK lost its connection: answered all the same,
    # and the pool replaced the connection for the next one.
    assert loss.remaining == 0 and loss.commits >= 2


def test_a_write_lost_before_its_commit(
    db: Database, ctx: RequestContext, lose_commit: Callable[..., CommitLoss]
) -> None:
    lose_commit(db.engine, after=False)
    values = {"status": "queued", "owner": ctx.owner, "name": "before"}
    if resolves(db):
        # Resolved as not committed: retried, written once.
        assert db.image_create(ctx, values)["name"] == "before"
        assert images_named(db, "before") == 1
    else:
        with pytest.raises(exception.DBCommitUnknown, match="may have committed"):
            db.image_create(ctx, values)
        assert images_named(db, "before") == 0


def test_a_write_lost_after_its_commit(
    db: Database, ctx: RequestContext, lose_commit: Callable[..., CommitLoss]
) -> None:
    lose_commit(db.engine, after=True)
    values = {"status": "queued", "owner": ctx.owner, "name": "after"}
    if resolves(db):
        # Resolved as committed: the call's own result, and no second write
        # (a retry would have created a second image of that name).
        assert db.image_create(ctx, values)["name"] == "after"
    else:
        with pytest.raises(exception.DBCommitUnknown):
            db.image_create(ctx, values)
    assert images_named(db, "after") == 1


@pytest.mark.backends("postgresql")
def test_the_caller_reads_a_resolved_write(
    db: Database, ctx: RequestContext, lose_commit: Callable[..., CommitLoss]
) -> None:
    """A write resolved as committed counts as the caller's own write (read_url)."""
    lose_commit(db.engine, after=True)
    image = db.image_create(ctx, {"status": "queued", "owner": ctx.owner, "name": "seen"})
    assert db.image_get(ctx, image["id"])["name"] == "seen"


def test_a_with_block_whose_commit_is_lost(
    db: Database, ctx: RequestContext, lose_commit: Callable[..., CommitLoss]
) -> None:
    """A block cannot be re-run: lost before the commit it fails, never with the marker."""
    lose_commit(db.engine, after=False)
    expected = exception.DBConnectionError if resolves(db) else exception.DBCommitUnknown
    with pytest.raises(expected) as caught, db.transaction():
        db.image_create(ctx, {"status": "queued", "owner": ctx.owner, "name": "block"})
    assert type(caught.value) in (exception.DBConnectionError, exception.DBCommitUnknown)
    assert images_named(db, "block") == 0


@pytest.mark.backends("postgresql")
def test_a_commit_still_in_progress_is_asked_again(
    db: Database,
    ctx: RequestContext,
    lose_commit: Callable[..., CommitLoss],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    answers = iter(["in progress", "in progress"])
    real = commits.transaction_status
    asked: list[str] = []

    def status(connection: Any, xid: str) -> str | None:
        asked.append(xid)
        return next(answers, None) or real(connection, xid)

    monkeypatch.setattr(commits, "transaction_status", status)
    lose_commit(db.engine, after=True)
    assert db.image_create(ctx, {"status": "queued", "owner": ctx.owner, "name": "slow"})
    assert len(asked) == 3 and len(set(asked)) == 1
    assert images_named(db, "slow") == 1


@pytest.mark.backends("postgresql")
@pytest.mark.parametrize("answer", [None, "in progress"], ids=["too-old", "never-settles"])
def test_a_commit_whose_status_cannot_be_learnt_is_unknown(
    db: Database,
    ctx: RequestContext,
    lose_commit: Callable[..., CommitLoss],
    monkeypatch: pytest.MonkeyPatch,
    answer: str | None,
) -> None:
    monkeypatch.setattr(core, "RETRY_BUDGET", 0.2)
    monkeypatch.setattr(commits, "transaction_status", lambda connection, xid: answer)
    lose_commit(db.engine, after=True)
    with pytest.raises(exception.DBCommitUnknown):
        db.image_create(ctx, {"status": "queued", "owner": ctx.owner, "name": "lost"})
    assert images_named(db, "lost") == 1  # it had committed: "may have"


def test_a_write_transaction_that_wrote_nothing(
    db: Database, ctx: RequestContext, lose_commit: Callable[..., CommitLoss]
) -> None:
    """PostgreSQL: no transaction id, nothing written, nothing to resolve: retried."""
    image = db.image_create(ctx, {"status": "queued", "owner": ctx.owner, "name": "n"})
    lose_commit(db.engine, after=False)
    attempts: list[int] = []

    @db.transaction()
    def look() -> str:
        attempts.append(1)
        return str(db.image_get(ctx, image["id"])["name"])

    if resolves(db):
        assert look() == "n"
        assert len(attempts) == 2
    else:
        with pytest.raises(exception.DBCommitUnknown):
            look()
        assert len(attempts) == 1


@pytest.mark.backends("postgresql", "pg-standby")
def test_the_transaction_id_a_write_returns_is_its_own(db: Database, ctx: RequestContext) -> None:
    """PostgreSQL: image_create's INSERT and image_update's UPDATE return the
    transaction id with the image row, so their COMMIT takes no statement of
    its own to learn it; the id kept is the one the server reports for the
    transaction."""
    image = db.image_create(ctx, {"status": "queued", "owner": ctx.owner, "name": "x"})
    writes: list[Callable[[], object]] = [
        lambda: db.image_create(ctx, {"status": "queued", "owner": ctx.owner, "name": "y"}),
        lambda: db.image_update(ctx, image["id"], {"name": "z", "properties": {"a": "b"}}),
    ]
    for write in writes:
        with db.transaction() as conn:
            write()
            (kept,) = [state.xid for state in (core._open_transactions.get() or {}).values()]
            assert kept is not None and kept == commits.transaction_id(conn)
