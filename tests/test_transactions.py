"""Database.transaction(): work spanning several calls, retried as a whole (SPEC 13)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import event, text

from glancedb import Database, RequestContext, exception
from glancedb import transactions as core
from glancedb.cli import main
from glancedb.driver_errors import TransientError
from glancedb.metadefs import resource_types
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


# --- the transient marker never escapes --------------------------------------------------


@contextmanager
def deadlock_on(db: Database, table: str, times: int = 1) -> Iterator[list[int]]:
    """The next ``times`` statements of ``db`` on ``table`` fail with a deadlock."""
    hits: list[int] = []

    def fail(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if table in statement and len(hits) < times:
            hits.append(1)
            raise pg_deadlock()

    event.listen(db.engine, "before_cursor_execute", fail)
    try:
        yield hits
    finally:
        event.remove(db.engine, "before_cursor_execute", fail)


@pytest.mark.topologies
def test_a_nested_call_gives_the_code_around_it_the_final_error(
    db: Database, ctx: RequestContext
) -> None:
    seen: list[BaseException] = []
    with pytest.raises(exception.DBDeadlock) as caught, db.transaction():
        db.image_create(ctx, {"status": "queued", "owner": ctx.owner, "name": "doomed"})
        with deadlock_on(db, "image_tags"):
            try:
                db.image_tag_create(ctx, db.image_get_all(ctx)[0]["id"], "t")
            except Exception as exc:  # the code around the call goes on
                seen.append(exc)
    assert [type(exc) for exc in seen] == [exception.DBDeadlock]
    assert not isinstance(caught.value, TransientError)
    # The failed call doomed the transaction: nothing of the block committed.
    with db.engine.connect() as primary:
        assert primary.execute(text("SELECT count(*) FROM images")).scalar() == 0


@pytest.mark.topologies
def test_a_decorated_function_that_swallowed_a_transient_failure_is_retried(
    db: Database, ctx: RequestContext
) -> None:
    attempts: list[int] = []
    swallowed: list[BaseException] = []

    @db.transaction()
    def create_tagged() -> str:
        attempts.append(1)
        image = db.image_create(ctx, {"status": "queued", "owner": ctx.owner, "name": "x"})
        try:
            db.image_tag_create(ctx, image["id"], "t")
        except exception.DBDeadlock as exc:
            swallowed.append(exc)
        return str(image["id"])

    with deadlock_on(db, "image_tags"):
        image_id = create_tagged()
    assert len(attempts) == 2 and len(swallowed) == 1
    assert [i["id"] for i in db.image_get_all(ctx)] == [image_id]
    assert db.image_tag_get_all(ctx, image_id) == ["t"]


@pytest.mark.topologies
def test_a_retrying_function_whose_call_failed_is_retried(
    db: Database, ctx: RequestContext
) -> None:
    image = db.image_create(ctx, {"status": "queued", "owner": ctx.owner})
    attempts: list[int] = []

    @core.retrying
    def tag() -> None:
        attempts.append(1)
        try:
            db.image_tag_create(ctx, image["id"], "t")
        except TransientError:  # pragma: no cover - the marker must not get here
            raise AssertionError("the marker reached the caller") from None

    with deadlock_on(db, "image_tags"):
        tag()
    assert len(attempts) == 2
    assert db.image_tag_get_all(ctx, image["id"]) == ["t"]


@pytest.mark.parametrize(
    "url",
    ["postgresql+psycopg://postgres@127.0.0.1:1/none", "mysql+pymysql://root@127.0.0.1:1/none"],
    ids=["postgresql", "mysql"],
)
def test_a_connect_failure_is_final_on_every_path(url: str, ctx: RequestContext) -> None:
    down = Database(url)
    try:
        with pytest.raises(exception.DBConnectionError) as plain:
            down.image_get(ctx, "x")
        with pytest.raises(exception.DBConnectionError) as block, down.transaction():
            pass
        decorated = down.transaction()(lambda: down.image_get_all(ctx))
        with pytest.raises(exception.DBConnectionError) as wrapped:
            decorated()
    finally:
        down.dispose()
    for caught in (plain, block, wrapped):
        assert not isinstance(caught.value, TransientError)


@pytest.mark.topologies
def test_the_resource_type_race_is_retried_and_never_escapes(
    db: Database, admin_ctx: RequestContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    """metadef_resource_type_association_create asks for another attempt when a
    concurrent call created the resource type first."""
    real = resource_types.insert_resource_type
    races: list[int] = []

    def raced(conn: Any, values: Any) -> Any:
        if len(races) < 1:
            races.append(1)
            real(conn, values)  # the "other" call's row, rolled back with this attempt
            raise exception.MetadefDuplicateResourceType(f"{values['name']} exists")
        return real(conn, values)

    monkeypatch.setattr(resource_types, "insert_resource_type", raced)
    db.metadef_namespace_create(
        admin_ctx, {"namespace": "ns", "visibility": "public", "owner": "admin"}
    )
    values = {"name": "OS::Nova::Server", "prefix": "p_", "properties_target": None}
    record = db.metadef_resource_type_association_create(admin_ctx, "ns", values)
    assert record["name"] == "OS::Nova::Server" and len(races) == 1

    races.clear()
    db.metadef_namespace_create(
        admin_ctx, {"namespace": "ns2", "visibility": "public", "owner": "admin"}
    )
    seen: list[BaseException] = []
    with pytest.raises(exception.DBError) as caught, db.transaction():
        try:
            db.metadef_resource_type_association_create(
                admin_ctx, "ns2", {**values, "name": "OS::Cinder::Volume"}
            )
        except exception.DBError as exc:
            seen.append(exc)
            raise
    assert not isinstance(caught.value, TransientError)
    assert seen and not isinstance(seen[0], TransientError)


@pytest.mark.topologies
def test_a_read_transaction_is_read_only_and_on_the_replica(
    backend: str, db: Database, ctx: RequestContext
) -> None:
    with pytest.raises(exception.DBError, match="read-only"), db.transaction(write=False):
        db.image_create(ctx, {"status": "queued", "owner": ctx.owner})
    with db.transaction(write=False) as conn:
        if backend == "pg-standby":
            assert conn.execute(text("SELECT pg_is_in_recovery()")).scalar() is True
        elif backend == "galera":
            assert conn.execute(text("SELECT @@port")).scalar() == db.read_engine.url.port
    # Nothing reached the primary either.
    with db.engine.connect() as primary:
        assert primary.execute(text("SELECT count(*) FROM images")).scalar() == 0
