"""The Database core: transactions, error translation, contexts, records."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
from sqlalchemy import text

from glancedb import Database, Record, RequestContext, exception, get_admin_context
from glancedb.context import context_can_see_deleted, context_is_admin, context_owner
from glancedb.engines import SQLITE_CACHE_KIB


def test_transaction_commits_and_rolls_back(db: Database) -> None:
    with db.transaction() as conn:
        conn.execute(text("INSERT INTO node_reference (node_reference_url) VALUES ('n1')"))
    with pytest.raises(RuntimeError), db.transaction() as conn:
        conn.execute(text("INSERT INTO node_reference (node_reference_url) VALUES ('n2')"))
        raise RuntimeError("boom")
    with db.transaction(write=False) as conn:
        urls = conn.execute(text("SELECT node_reference_url FROM node_reference")).scalars()
        assert list(urls) == ["n1"]


def test_integrity_error_becomes_duplicate(db: Database) -> None:
    with pytest.raises(exception.Duplicate), db.transaction() as conn:
        conn.execute(text("INSERT INTO node_reference (node_reference_url) VALUES ('n1')"))
        conn.execute(text("INSERT INTO node_reference (node_reference_url) VALUES ('n1')"))
    with db.transaction(write=False) as conn:
        assert conn.execute(text("SELECT count(*) FROM node_reference")).scalar() == 0


def test_foreign_key_violation_is_invalid(db: Database) -> None:
    with pytest.raises(exception.Invalid), db.transaction() as conn:
        conn.execute(
            text(
                "INSERT INTO image_tags (image_id, value, created_at, deleted)"
                " VALUES ('missing', 't', CURRENT_TIMESTAMP, false)"
            )
        )


def test_record_item_and_attribute_access_and_pickle() -> None:
    record = Record(name="cirros", size=1)
    assert record.name == record["name"] == "cirros"
    record.size = 2
    assert record["size"] == 2
    copy = pickle.loads(pickle.dumps(record))
    assert copy == record and isinstance(copy, Record)
    with pytest.raises(AttributeError):
        _ = record.missing


def test_request_context() -> None:
    ctx = RequestContext(project_id="p1", user_id="u1")
    assert ctx.owner == "p1" and not ctx.is_admin and not ctx.can_see_deleted
    admin = ctx.elevated()
    assert admin.is_admin and "admin" in admin.roles and admin.owner == "p1"
    assert not ctx.is_admin and "admin" not in ctx.roles
    assert RequestContext(is_admin=True).roles == ["admin"]
    assert get_admin_context().owner is None and not get_admin_context().show_deleted
    assert get_admin_context(show_deleted=True).show_deleted


def test_foreign_context_duck_typing() -> None:
    class OsloLike:
        is_admin = False
        project_id = "p2"
        show_deleted = True

    assert context_owner(OsloLike()) == "p2"

    class OwnerNotProject(OsloLike):
        owner = "u2"  # Glance's context with owner_is_tenant=False: the user owns

    assert context_owner(OwnerNotProject()) == "u2"
    assert context_can_see_deleted(OsloLike())
    assert not context_is_admin(OsloLike())


def test_sqlite_connections_get_their_settings(tmp_path: Path) -> None:
    """Foreign keys on, the busy timeout of the retry budget, and a page cache
    large enough for a catalogue of a million images (SQLite's own: 2 MiB)."""
    db = Database(f"sqlite:///{tmp_path / 'settings.sqlite'}")
    db.db_sync()
    with db.engine.connect() as conn:
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert conn.execute(text("PRAGMA busy_timeout")).scalar() > 0
        assert conn.execute(text("PRAGMA cache_size")).scalar() == -SQLITE_CACHE_KIB
    assert SQLITE_CACHE_KIB >= 16384
