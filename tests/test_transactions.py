"""Database.transaction(): work spanning several calls, retried as a whole (SPEC 13)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import text

from glancedb import Database, RequestContext, exception
from glancedb import transactions as core
from glancedb.cli import main
from glancedb.driver_errors import TransientError
from tests.test_retry import insert_node, mysql_deadlock, node_urls, pg_deadlock


@pytest.fixture(autouse=True)
def quick_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(core, "RETRY_FIRST_DELAY", 0.001)


def test_decorated_work_commits_as_one_and_is_retried_as_a_whole(
    db: Database, ctx: RequestContext
) -> None:
    attempts: list[int] = []

    @db.transaction()
    def create_tagged(name: str) -> str:
        attempts.append(1)
        image = db.image_create(ctx, {"status": "queued", "owner": ctx.owner, "name": name})
        with db.transaction() as conn:  # joins: still the same transaction
            insert_node(conn, f"http://node-{len(attempts)}")
        if len(attempts) == 1:
            raise pg_deadlock()  # after both writes: they must be rolled back
        db.image_tag_set_all(ctx, image["id"], ["a", "b"])
        return str(image["id"])

    image_id = create_tagged("tagged")
    assert len(attempts) == 2
    assert [i["id"] for i in db.image_get_all(ctx)] == [image_id]
    assert db.image_tag_get_all(ctx, image_id) == ["a", "b"]
    assert node_urls(db) == ["http://node-2"]


def test_a_failure_rolls_back_every_call_of_the_block(db: Database, ctx: RequestContext) -> None:
    with pytest.raises(exception.Invalid), db.transaction():
        db.image_create(ctx, {"status": "queued", "owner": ctx.owner})
        db.image_create(ctx, {"status": "bogus"})
    assert db.image_get_all(ctx) == []


def test_a_with_block_raises_the_final_error_never_the_marker(db: Database) -> None:
    with pytest.raises(exception.DBDeadlock) as caught, db.transaction() as conn:
        insert_node(conn, "http://gone")
        raise mysql_deadlock()
    assert not isinstance(caught.value, TransientError)
    assert node_urls(db) == []


def test_persistent_transient_failure_in_a_decorated_function_is_final(db: Database) -> None:
    attempts: list[int] = []

    @db.transaction()
    def always_deadlocks() -> None:
        attempts.append(1)
        raise mysql_deadlock()

    with pytest.raises(exception.DBDeadlock) as caught:
        always_deadlocks()
    assert not isinstance(caught.value, TransientError)
    assert len(attempts) == core.RETRY_ATTEMPTS


def test_a_write_inside_a_read_transaction_is_an_error(db: Database, ctx: RequestContext) -> None:
    with pytest.raises(exception.DBError, match="read-only"), db.transaction(write=False):
        db.image_create(ctx, {"status": "queued", "owner": ctx.owner})
    assert db.image_get_all(ctx) == []


def test_reads_inside_a_read_transaction_share_it(db: Database, ctx: RequestContext) -> None:
    image = db.image_create(ctx, {"status": "queued", "owner": ctx.owner})
    with db.transaction(write=False) as conn:
        assert db.image_get(ctx, image["id"])["id"] == image["id"]
        assert db.image_tag_get_all(ctx, image["id"]) == []
        assert conn.execute(text("SELECT count(*) FROM images")).scalar() == 1


def test_another_database_never_joins_the_open_transaction(
    tmp_path: Path, ctx: RequestContext
) -> None:
    first = Database(f"sqlite:///{tmp_path / 'first.sqlite'}")
    second = Database(f"sqlite:///{tmp_path / 'second.sqlite'}")
    first.db_sync()
    second.db_sync()
    try:
        with pytest.raises(RuntimeError), first.transaction():
            first.image_create(ctx, {"status": "queued", "owner": ctx.owner, "name": "one"})
            second.image_create(ctx, {"status": "queued", "owner": ctx.owner, "name": "two"})
            raise RuntimeError("roll the first database back")
        assert first.image_get_all(ctx) == []
        assert [i["name"] for i in second.image_get_all(ctx)] == ["two"]
    finally:
        first.dispose()
        second.dispose()


def test_cli_create_with_tags_is_retried_as_a_whole(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []
    real = Database.image_tag_set_all

    def flaky(self: Database, *args: Any, **kwargs: Any) -> None:
        calls.append(1)
        if len(calls) == 1:
            raise TransientError(exception.DBDeadlock("simulated deadlock"))
        real(self, *args, **kwargs)

    monkeypatch.setattr(Database, "image_tag_set_all", flaky)
    url = db.url.render_as_string(hide_password=False)
    result = CliRunner().invoke(
        main, ["--db-url", url, "image", "create", "--name", "x", "--tag", "t1"]
    )
    assert result.exit_code == 0, result.output
    assert "TransientError" not in result.output
    images = db.image_get_all(RequestContext(is_admin=True))
    assert [i["name"] for i in images] == ["x"]
    assert db.image_tag_get_all(RequestContext(is_admin=True), images[0]["id"]) == ["t1"]
