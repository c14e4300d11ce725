"""Hot reads sent to the driver's cursor (glancedb.statements): the same rows,
types, errors, events and logs as through SQLAlchemy's ``execute``."""

from __future__ import annotations

import datetime
import logging
import time

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, create_engine, func, select
from sqlalchemy import exc as sa_exc

from glancedb import Database, RequestContext, statements
from glancedb.images.members import MEMBER_COLUMNS, _find_statement
from glancedb.images.records import children_statement
from glancedb.models import tables as t
from glancedb.rows import slot_count, slot_parameters
from tests.support.backends import count_statements


def _created(db: Database, ctx: RequestContext) -> str:
    image = db.image_create(
        ctx,
        {
            "status": "active",
            "owner": ctx.owner,
            "created_at": datetime.datetime(2021, 5, 6, 7, 8, 9, 123456),
            "properties": {"os_distro": "fedora", "gone": "x"},
            "locations": [{"url": "file:///a", "metadata": {"k": [1]}, "status": "active"}],
        },
    )
    db.image_update(ctx, image["id"], {"properties": {"os_distro": "fedora"}}, purge_props=True)
    db.image_member_create(ctx, {"image_id": image["id"], "member": "tenant-b"})
    db.image_tag_create(ctx, image["id"], "gpu")
    return str(image["id"])


def test_rows_and_their_types_are_sqlalchemys(db: Database, ctx: RequestContext) -> None:
    """Datetimes, booleans, NULLs and ids come back exactly as SQLAlchemy's
    rows have them, for a plain SELECT and a UNION ALL of three tables."""
    image_id = _created(db, ctx)
    members = _find_statement(
        include_deleted=False,
        regular=False,
        owner_is_null=True,
        image=True,
        member=False,
        status=False,
    )
    member_params = {"owner": None, "image_id": image_id, "member": None, "status": None}
    children = children_statement(show_deleted_locations=True, tags=True, slots=slot_count(1))
    # No parameter at all, and only values the statement carries itself.
    count = select(func.count()).select_from(t.images)
    literal = select(t.image_tags.c.value, t.image_tags.c.deleted).where(
        t.image_tags.c.value == "gpu"
    )
    assert not db.engine._has_events  # else fetch_all would run execute too
    with db.transaction(write=False) as conn:
        for statement, params in [
            (members, member_params),
            (children, slot_parameters("id", [image_id])),
            (count, None),
            (literal, None),
        ]:
            direct = [tuple(row) for row in statements.fetch_all(conn, statement, params)]
            through_sqlalchemy = [tuple(row) for row in conn.execute(statement, params).all()]
            assert direct == through_sqlalchemy
            assert [[type(v) for v in row] for row in direct] == [
                [type(v) for v in row] for row in through_sqlalchemy
            ]
    (member,) = db.image_member_find(ctx, image_id=image_id)
    assert set(member) == set(MEMBER_COLUMNS)
    assert isinstance(member["created_at"], datetime.datetime)
    assert member["deleted"] is False and member["can_share"] is False


def test_statement_listeners_see_every_statement(db: Database, ctx: RequestContext) -> None:
    """An engine with listeners runs the statements through ``execute``,
    where listeners get the execution context they expect."""
    image_id = _created(db, ctx)
    with count_statements(db) as counter:
        db.image_member_find(ctx, image_id=image_id)
    assert counter.count == 1 and "image_members" in counter.statements[0]


def test_an_echoing_engine_logs_the_statements(
    db: Database, ctx: RequestContext, caplog: pytest.LogCaptureFixture
) -> None:
    image_id = _created(db, ctx)
    echoing = Database(db.url, echo=True)
    try:
        with caplog.at_level(logging.INFO, logger="sqlalchemy.engine.Engine"):
            assert echoing.image_member_find(ctx, image_id=image_id)
        assert any("FROM image_members" in record.getMessage() for record in caplog.records)
    finally:
        echoing.dispose()


def test_a_driver_error_leaves_wrapped_by_sqlalchemy(db: Database) -> None:
    missing = Table("glancedb_no_such_table", MetaData(), Column("id", Integer))
    statement = select(missing.c.id)
    assert not db.engine._has_events
    with db.engine.connect() as conn, conn.begin():
        with pytest.raises(sa_exc.DBAPIError) as caught:
            statements.fetch_all(conn, statement)
        assert caught.value.orig is not None and not caught.value.connection_invalidated


@pytest.mark.backends("postgresql", "mysql")
def test_a_session_the_server_ended_is_seen_as_lost(db: Database, ctx: RequestContext) -> None:
    """The dialect's disconnect check runs on the driver's error: the
    connection is invalidated, and a call retries on a new one."""
    image_id = _created(db, ctx)
    statement = select(Table("image_members", MetaData(), Column("id", Integer)).c.id)
    assert not db.engine._has_events
    killer = create_engine(db.engine.url, isolation_level="AUTOCOMMIT")
    session_query = (
        "SELECT pg_backend_pid()" if db.backend == "postgresql" else "SELECT CONNECTION_ID()"
    )
    conn = db.engine.connect()
    try:
        conn.begin()
        session = int(str(conn.exec_driver_sql(session_query).scalar()))
        with killer.connect() as other:
            if db.backend == "postgresql":
                other.exec_driver_sql(f"SELECT pg_terminate_backend({session})")
            else:
                other.exec_driver_sql(f"KILL {session}")
        time.sleep(0.2)
        with pytest.raises(sa_exc.DBAPIError) as caught:
            statements.fetch_all(conn, statement)
        assert caught.value.connection_invalidated and conn.invalidated
    finally:
        conn.close()
        killer.dispose()
    assert db.image_member_find(ctx, image_id=image_id)
