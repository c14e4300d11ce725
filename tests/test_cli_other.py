"""``glancedb task ...``, ``glancedb usage`` and ``glancedb cache list`` on every backend."""

from __future__ import annotations

import datetime
import json
from typing import Any

import pytest
from click.testing import Result

from glancedb import Database
from glancedb.cli import other as cli_other
from glancedb.context import get_admin_context
from tests.support.cli import invoke_on
from tests.support.factories import insert_image, next_time

ADMIN = get_admin_context()


def run_json(db: Database, *args: str) -> Any:
    result = invoke_on(db, *args, "-f", "json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def make_task(db: Database, **values: Any) -> str:
    task = db.task_create(
        ADMIN,
        {"type": "import", "status": "pending", "owner": "p1", "input": {"a": 1}, **values},
    )
    return str(task["id"])


def test_task_list_and_show(db: Database) -> None:
    first = make_task(db, created_at=next_time())
    second = make_task(db, created_at=next_time(), status="success", owner="p2")
    gone = make_task(db, created_at=next_time(), deleted=True, deleted_at=next_time())
    listed = invoke_on(db, "task", "list")
    assert listed.exit_code == 0, listed.output
    assert listed.stdout.splitlines()[0].split() == [
        "id",
        "type",
        "status",
        "owner",
        "expires_at",
        "created_at",
    ]
    assert [t["id"] for t in run_json(db, "task", "list")] == [second, first]
    assert [t["id"] for t in run_json(db, "task", "list", "--status", "success")] == [second]
    assert [t["id"] for t in run_json(db, "task", "list", "--owner", "p1")] == [first]
    assert [t["id"] for t in run_json(db, "task", "list", "--sort-dir", "asc")] == [first, second]
    assert len(run_json(db, "task", "list", "--include-deleted")) == 3
    assert [t["id"] for t in run_json(db, "task", "list", "--limit", "1")] == [second]
    shown = run_json(db, "task", "show", first)
    assert shown["input"] == {"a": 1} and shown["result"] is None
    assert shown["created_at"].endswith("Z")
    assert run_json(db, "task", "show", gone)["deleted"] is True
    missing = invoke_on(db, "task", "show", "nope")
    assert missing.exit_code == 1 and "TaskNotFound" in missing.stderr


def test_task_list_pages_through_everything(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    """Pages of two: the default 25, --all, --limit 3 and ascending order all
    come out whole and in order across page boundaries."""
    monkeypatch.setattr(cli_other, "PAGE_SIZE", 2)
    ids = [make_task(db, created_at=next_time()) for _ in range(30)]
    newest_first = ids[::-1]
    assert len(run_json(db, "task", "list")) == 25
    assert len(run_json(db, "task", "list", "--all")) == 30
    assert [t["id"] for t in run_json(db, "task", "list")] == newest_first[:25]
    assert [t["id"] for t in run_json(db, "task", "list", "--all")] == newest_first
    assert [t["id"] for t in run_json(db, "task", "list", "--limit", "3")] == newest_first[:3]
    ascending = run_json(db, "task", "list", "--all", "--sort-dir", "asc")
    assert [t["id"] for t in ascending] == ids


def test_usage_per_owner(db: Database) -> None:
    insert_image(db, owner="p1", size=10, locations=["file:///a", "file:///b"])
    insert_image(db, owner="p1", size=5, status="uploading")
    insert_image(db, owner="p2", size=7, locations=["file:///c"])
    rows = run_json(db, "usage", "p1", "p2", "p3")
    assert rows == [
        {
            "owner": owner,
            "images": db.user_get_image_count(ADMIN, owner),
            "storage_bytes": db.user_get_storage_usage(ADMIN, owner),
            "staging_bytes": db.user_get_staging_usage(ADMIN, owner),
            "uploading": db.user_get_uploading_count(ADMIN, owner),
        }
        for owner in ("p1", "p2", "p3")
    ]
    assert rows[0]["images"] == 2 and rows[0]["storage_bytes"] == 20
    table: Result = invoke_on(db, "usage", "p2")
    assert table.stdout.splitlines()[2].split() == ["p2", "1", "7", "0", "0"]
    assert invoke_on(db, "usage").exit_code == 2


def test_cache_list(db: Database) -> None:
    db.node_reference_create(ADMIN, "http://node-1")
    db.node_reference_create(ADMIN, "http://node-2")
    accessed = datetime.datetime(2024, 5, 1, 12, 30, 0)
    db.insert_cache_details(ADMIN, "http://node-1", "img-1", 42, last_accessed=accessed, hits=3)
    nodes = run_json(db, "cache", "list")
    assert [(n["node_reference_url"], n["cached_images"], n["total_size"]) for n in nodes] == [
        ("http://node-1", 1, 42),
        ("http://node-2", 0, 0),
    ]
    cached = run_json(db, "cache", "list", "--node", "http://node-1")
    assert [(c["image_id"], c["size"], c["hits"]) for c in cached] == [("img-1", 42, 3)]
    assert cached[0]["last_accessed"] == "2024-05-01T12:30:00.000000Z"
    assert run_json(db, "cache", "list", "--node", "http://unknown") == []
