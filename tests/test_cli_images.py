"""``glancedb image list|show|create|delete`` on every backend."""

from __future__ import annotations

import json
from typing import Any

from click.testing import CliRunner, Result

from glancedb import Database
from glancedb.cli import main
from glancedb.context import get_admin_context
from tests.support.factories import insert_image, next_time


def run(db: Database, *args: str) -> Result:
    url = db.engine.url.render_as_string(hide_password=False)
    return CliRunner().invoke(main, ["--db-url", url, "image", *args], env={})


def run_json(db: Database, *args: str) -> Any:
    result = run(db, *args, "--format", "json")
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_list_table_and_json(db: Database) -> None:
    first = insert_image(db, name="first", owner="p1", visibility="public", size=5, tags=["x"])
    second = insert_image(db, name="second", owner="p2", visibility="community")
    insert_image(db, name="gone", deleted=True, deleted_at=next_time())
    result = run(db, "list")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == [
        "id",
        "name",
        "status",
        "visibility",
        "owner",
        "size",
        "disk_format",
        "created_at",
    ]
    # Newest first; community images of any owner listed; deleted ones hidden.
    assert [line.split()[0] for line in lines[2:]] == [second, first]
    images = run_json(db, "list")
    assert [image["id"] for image in images] == [second, first]
    assert images[1]["tags"] == ["x"]
    assert isinstance(images[1]["created_at"], str)
    with_deleted = run_json(db, "list", "--include-deleted")
    assert len(with_deleted) == 3


def test_list_filters_sort_limit_marker(db: Database) -> None:
    a = insert_image(db, name="a", owner="p1", properties={"os": "linux"}, tags=["t1", "t2"])
    b = insert_image(db, name="b", owner="p1", properties={"os": "bsd"}, tags=["t1"])
    c = insert_image(db, name="c", owner="p2", status="queued", visibility="private")

    def listed(*args: str) -> list[str]:
        return [image["id"] for image in run_json(db, "list", *args)]

    assert listed("--owner", "p1") == [b, a]
    assert listed("--visibility", "private") == [c]
    assert listed("--status", "queued") == [c]
    assert listed("--status", "in:queued,active") == [c, b, a]
    assert listed("--property", "os=linux") == [a]
    assert listed("--tag", "t1") == [b, a]
    assert listed("--tag", "t1", "--tag", "t2") == [a]
    assert listed("--sort", "name:asc") == [a, b, c]
    assert listed("--sort", "owner:desc", "--sort", "name:asc") == [c, a, b]
    assert listed("--limit", "1") == [c]
    assert listed("--marker", c, "--limit", "1") == [b]


def test_list_errors_are_one_line(db: Database) -> None:
    result = run(db, "list", "--sort", "bogus:asc")
    assert result.exit_code == 1
    assert "InvalidSortKey" in result.output and "bogus" in result.output
    assert "Traceback" not in result.output
    result = run(db, "list", "--sort", "name:sideways")
    assert result.exit_code == 1 and "InvalidSortDir" in result.output
    result = run(db, "list", "--marker", "missing")
    assert result.exit_code == 1 and "ImageNotFound" in result.output
    result = run(db, "list", "--property", "novalue")
    assert result.exit_code == 2 and "KEY=VALUE" in result.output


def test_show(db: Database) -> None:
    image_id = insert_image(
        db, name="shown", properties={"os": "linux"}, tags=["t"], locations=["file:///a"]
    )
    result = run(db, "show", image_id)
    assert result.exit_code == 0, result.output
    assert "shown" in result.output and "property os" in result.output
    assert "file:///a" in result.output
    shown = run_json(db, "show", image_id)
    assert shown["id"] == image_id and shown["tags"] == ["t"]
    assert shown["locations"][0]["url"] == "file:///a"
    missing = run(db, "show", "nope")
    assert missing.exit_code == 1 and "ImageNotFound" in missing.output


def test_create_and_delete(db: Database) -> None:
    created = run_json(
        db,
        "create",
        "--name",
        "made",
        "--status",
        "active",
        "--visibility",
        "public",
        "--disk-format",
        "raw",
        "--container-format",
        "bare",
        "--owner",
        "p9",
        "--property",
        "os=linux",
        "--property",
        "arch=x86_64",
        "--tag",
        "b",
        "--tag",
        "a",
        "--location",
        "file:///made",
    )
    assert created["name"] == "made" and created["owner"] == "p9"
    assert created["tags"] == ["b", "a"]
    assert {p["name"]: p["value"] for p in created["properties"]} == {
        "os": "linux",
        "arch": "x86_64",
    }
    assert [loc["url"] for loc in created["locations"]] == ["file:///made"]
    stored = db.image_get_all(get_admin_context(), filters={"visibility": "all"}, return_tag=True)
    assert [image["id"] for image in stored] == [created["id"]]
    assert stored[0]["tags"] == ["b", "a"]
    result = run(db, "delete", created["id"])
    assert result.exit_code == 0 and created["id"] in result.output
    assert run_json(db, "list") == []


def test_create_errors_write_nothing(db: Database) -> None:
    result = run(db, "create", "--status", "bogus")
    assert result.exit_code == 1 and "Invalid" in result.output
    # A bad tag fails after the image insert: the whole command rolls back.
    result = run(db, "create", "--status", "active", "--tag", "bad\U0001f600")
    assert result.exit_code == 1 and "Invalid" in result.output
    assert db.image_get_all(get_admin_context(), filters={"visibility": "all"}) == []
    missing = run(db, "delete", "nope")
    assert missing.exit_code == 1 and "ImageNotFound" in missing.output
