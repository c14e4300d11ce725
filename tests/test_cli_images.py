"""``glancedb image ...`` on every backend: Glance's API rules, output formats, streaming."""

from __future__ import annotations

import csv
import datetime
import io
import json
import re
from typing import Any

import click
import pytest
from click.testing import Result

from glancedb import Database
from glancedb.cli import images as cli_images
from glancedb.context import get_admin_context
from glancedb.database import Database as DatabaseClass
from glancedb.models import tables as t
from tests.support.cli import invoke_on
from tests.support.factories import (
    image_row,
    insert,
    insert_image,
    next_time,
    property_row,
    table_rows,
)

ADMIN = get_admin_context()
ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


def run(db: Database, *args: str) -> Result:
    return invoke_on(db, "image", *args)


def run_json(db: Database, *args: str) -> Any:
    result = run(db, *args, "--format", "json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def stored(db: Database) -> list[dict[str, Any]]:
    return db.image_get_all(ADMIN, filters={"visibility": "all"})


# --- listing -------------------------------------------------------------------------------


def test_list_table_and_json(db: Database) -> None:
    first = insert_image(db, name="first", owner="p1", visibility="public", size=5, tags=["x"])
    second = insert_image(db, name="second", owner="p2", visibility="community")
    insert_image(db, name="gone", deleted=True, deleted_at=next_time())
    result = run(db, "list")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split() == list(cli_images.LIST_COLUMNS)
    # Newest first; community images of any owner listed; deleted ones hidden.
    assert [line.split()[0] for line in lines[2:]] == [second, first]
    images = run_json(db, "list")
    assert [image["id"] for image in images] == [second, first]
    assert images[1]["tags"] == ["x"] and images[1]["properties"] == {}
    assert ISO_UTC.match(images[1]["created_at"])
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
    assert listed("--name", "in:a,c") == [c, a]
    assert listed("--property", "os=linux") == [a]
    assert listed("--tag", "t1") == [b, a]
    assert listed("--tag", "t1", "--tag", "t2") == [a]
    assert listed("--sort", "name:asc") == [a, b, c]
    assert listed("--sort", "name") == [c, b, a]  # descending unless told
    assert listed("--sort", "owner:desc", "--sort", "name:asc") == [c, a, b]
    assert listed("--limit", "1") == [c]
    assert listed("--marker", c, "--limit", "1") == [b]


def test_list_errors_are_one_line(db: Database) -> None:
    result = run(db, "list", "--sort", "bogus:asc")
    assert result.exit_code == 1
    assert "InvalidSortKey" in result.stderr and "bogus" in result.stderr
    assert "Traceback" not in result.output
    result = run(db, "list", "--sort", "name:sideways")
    assert result.exit_code == 1 and "InvalidSortDir" in result.stderr
    result = run(db, "list", "--marker", "missing")
    assert result.exit_code == 1 and "ImageNotFound" in result.stderr
    result = run(db, "list", "--property", "novalue")
    assert result.exit_code == 2 and "KEY=VALUE" in result.stderr
    result = run(db, "list", "--all", "--limit", "3")
    assert result.exit_code == 2 and "--all and --limit" in result.stderr


def test_list_has_a_default_limit_and_all(db: Database) -> None:
    rows = [image_row(name=f"img{i:02d}", created_at=next_time()) for i in range(30)]
    insert(db, t.images, rows)
    result = run(db, "list", "-f", "value", "-c", "name")
    assert result.exit_code == 0, result.output
    assert result.stdout.split() == [f"img{i:02d}" for i in range(29, 4, -1)]
    assert "first 25 images shown" in result.stderr and "--all" in result.stderr
    everything = run(db, "list", "--all", "-f", "value", "-c", "name")
    assert everything.exit_code == 0 and len(everything.stdout.split()) == 30
    assert everything.stderr == ""
    exact = run(db, "list", "--limit", "30", "-f", "value", "-c", "name")
    assert len(exact.stdout.split()) == 30 and exact.stderr == ""


def test_a_table_keeps_its_columns_aligned_from_page_to_page(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A column widens for a longer value on a later page, and never narrows."""
    names = ["a-much-longer-name", "b", "c", "d", "z-still-longer-name-than-before"]
    for name in names:
        insert_image(db, name=name, size=len(name))
    monkeypatch.setattr(cli_images, "PAGE_SIZE", 2)
    result = run(db, "list", "--all", "-c", "name", "-c", "size", "--sort", "name:asc")
    assert result.exit_code == 0, result.output
    rows = result.stdout.splitlines()[2:]
    starts = [row.index(str(len(name)), len(name)) for row, name in zip(rows, names, strict=True)]
    assert starts[:4] == [len(names[0]) + 2] * 4  # pages 1 and 2 alike
    assert starts[4] == len(names[4]) + 2  # widened by page 3


def test_list_streams_page_by_page(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    for i in range(5):
        insert_image(db, name=f"img{i}")
    events: list[str] = []
    original_get_all = DatabaseClass.image_get_all
    original_echo = click.echo

    def get_all(self: DatabaseClass, *args: Any, **kwargs: Any) -> Any:
        events.append(f"query limit={kwargs['limit']}")
        return original_get_all(self, *args, **kwargs)

    def echo(message: Any = None, *args: Any, **kwargs: Any) -> None:
        if not kwargs.get("err"):
            events.append(f"line {message}")
        original_echo(message, *args, **kwargs)

    monkeypatch.setattr(cli_images, "PAGE_SIZE", 2)
    monkeypatch.setattr(DatabaseClass, "image_get_all", get_all)
    monkeypatch.setattr(click, "echo", echo)
    result = run(db, "list", "--all", "-f", "value", "-c", "name")
    assert result.exit_code == 0, result.output
    assert events == [
        "query limit=2",
        "line img4",
        "line img3",
        "query limit=2",
        "line img2",
        "line img1",
        "query limit=2",
        "line img0",
    ]


def test_output_formats_columns_and_headers(db: Database) -> None:
    image_id = insert_image(
        db, name='fmt, "quoted"', size=7, properties={"b": "2", "a": "1"}, tags=["t", "u"]
    )
    table = run(db, "list", "-c", "name", "-c", "size")
    assert table.stdout.splitlines()[0].split() == ["name", "size"]
    bare = run(db, "list", "-c", "id", "--no-headers")
    assert bare.stdout.strip() == image_id
    rows = list(
        csv.reader(io.StringIO(run(db, "list", "-f", "csv", "-c", "id", "-c", "name").stdout))
    )
    assert rows == [["id", "name"], [image_id, 'fmt, "quoted"']]
    headless = run(db, "list", "-f", "csv", "-c", "id", "-c", "properties", "--no-headers").stdout
    # A mapping (or list) in a CSV cell is JSON.
    assert list(csv.reader(io.StringIO(headless))) == [[image_id, '{"a": "1", "b": "2"}']]
    ndjson = run(db, "list", "-f", "ndjson").stdout.splitlines()
    assert len(ndjson) == 1 and json.loads(ndjson[0])["properties"] == {"a": "1", "b": "2"}
    # One record per line, a list's items side by side.
    value = run(db, "list", "-f", "value", "-c", "size", "-c", "tags")
    assert value.stdout == "7 t u\n"
    # A table cell holds a mapping's items one per line, in key order.
    cells = run(db, "list", "-c", "properties", "--no-headers").stdout.split()
    assert cells == ["a=1", "b=2"]
    unknown = run(db, "list", "-c", "bogus")
    assert unknown.exit_code == 2 and "unknown column 'bogus'" in unknown.stderr
    assert run_json(db, "list", "-c", "id") == [{"id": image_id}]
    empty = run(db, "list", "--owner", "nobody")
    assert empty.exit_code == 0 and empty.stdout.splitlines()[0].split()[0] == "id"
    assert run_json(db, "list", "--owner", "nobody") == []


# --- show ------------------------------------------------------------------------------------


def test_show_has_live_properties_and_utc_times(db: Database) -> None:
    created = datetime.datetime(2024, 5, 1, 12, 0, 0)  # whole second: microseconds still shown
    image_id = insert_image(
        db,
        name="shown",
        properties={"os": "linux"},
        tags=["t"],
        locations=["file:///a"],
        created_at=created,
    )
    gone = property_row(image_id, name="old", value="x", deleted=True, deleted_at=next_time())
    insert(db, t.image_properties, [gone])
    result = run(db, "show", image_id)
    assert result.exit_code == 0, result.output
    assert "shown" in result.stdout and "os=linux" in result.stdout
    assert "old" not in result.stdout and "file:///a" in result.stdout
    shown = run_json(db, "show", image_id)
    assert shown["properties"] == {"os": "linux"}  # the soft-deleted one is not there
    assert shown["tags"] == ["t"]
    assert [(loc["url"], loc["status"]) for loc in shown["locations"]] == [("file:///a", "active")]
    assert shown["created_at"] == "2024-05-01T12:00:00.000000Z"
    for key in ("created_at", "updated_at"):
        assert ISO_UTC.match(shown[key])
        parsed = datetime.datetime.fromisoformat(shown[key])
        assert parsed.utcoffset() == datetime.timedelta(0)
    assert shown["deleted_at"] is None
    fields = run(db, "show", image_id, "-f", "value", "-c", "name", "-c", "tags")
    assert fields.stdout == "shown\nt\n"
    missing = run(db, "show", "nope")
    assert missing.exit_code == 1 and "ImageNotFound" in missing.stderr


# --- create ----------------------------------------------------------------------------------


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
        "--size",
        "0",
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
    assert created["name"] == "made" and created["owner"] == "p9" and created["size"] == 0
    assert created["tags"] == ["b", "a"]
    assert created["properties"] == {"os": "linux", "arch": "x86_64"}
    assert [loc["url"] for loc in created["locations"]] == ["file:///made"]
    listed = db.image_get_all(ADMIN, filters={"visibility": "all"}, return_tag=True)
    assert [image["id"] for image in listed] == [created["id"]]
    assert listed[0]["tags"] == ["b", "a"]
    result = run(db, "delete", created["id"])
    assert result.exit_code == 0 and created["id"] in result.stdout
    assert run_json(db, "list") == []


@pytest.mark.parametrize(
    "args",
    [
        ["--size", "-5"],
        ["--min-disk", "-1"],
        ["--min-ram", "-1"],
        ["--virtual-size", "-1"],
        ["--min-ram", str(2**31)],
        ["--disk-format", "bogus"],
        ["--container-format", "bogus"],
        ["--disk-format", "QCOW2"],
        ["--status", "bogus"],
    ],
)
def test_create_validates_like_glances_api(db: Database, args: list[str]) -> None:
    result = run(db, "create", "--name", "bad", *args)
    assert result.exit_code == 2, result.output
    assert "Invalid value" in result.stderr
    assert stored(db) == []


def test_create_errors_write_nothing(db: Database) -> None:
    # A bad tag fails after the image insert: the whole command rolls back.
    result = run(db, "create", "--status", "active", "--tag", "bad\U0001f600")
    assert result.exit_code == 1 and "Invalid" in result.stderr
    assert stored(db) == []


# --- delete, restore, update ---------------------------------------------------------------------


def test_delete_follows_glances_api(db: Database) -> None:
    protected = insert_image(db, name="keep", protected=True)
    result = run(db, "delete", protected)
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        f"Error: Forbidden: Image {protected} is protected: unprotect it first"
        f" (glancedb image update --unprotected {protected})"
    )
    assert db.image_get(ADMIN, protected)["deleted"] is False

    image_id = insert_image(db, name="go", status="active", properties={"p": "v"}, tags=["t"])
    assert run(db, "delete", image_id).exit_code == 0
    gone = db.image_get(ADMIN, image_id, force_show_deleted=True)
    assert (gone["deleted"], gone["status"]) == (True, "deleted")
    deleted_at = gone["deleted_at"]
    again = run(db, "delete", image_id)
    assert again.exit_code == 1 and "ImageNotFound" in again.stderr
    assert db.image_get(ADMIN, image_id, force_show_deleted=True)["deleted_at"] == deleted_at
    assert run(db, "show", image_id).exit_code == 1
    shown = run_json(db, "show", image_id, "--show-deleted")
    assert shown["status"] == "deleted" and shown["deleted"] is True
    assert table_rows(db, t.image_properties, image_id=image_id)[0]["deleted"] is True


def test_delete_is_one_transaction(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    image_id = insert_image(db, name="half", status="active")

    def failing(*_args: Any, **_kwargs: Any) -> None:
        raise RuntimeError("destroy failed")

    monkeypatch.setattr(DatabaseClass, "image_destroy", failing)
    result = run(db, "delete", image_id)
    assert result.exit_code == 1 and "destroy failed" in result.stderr
    image = db.image_get(ADMIN, image_id)
    assert (image["status"], image["deleted"]) == ("active", False)  # the status change rolled back


def test_update_and_restore(db: Database) -> None:
    image_id = insert_image(db, name="old", protected=True, visibility="private")
    updated = run_json(
        db,
        "update",
        image_id,
        "--name",
        "new",
        "--visibility",
        "public",
        "--unprotected",
        "--min-ram",
        "512",
    )
    assert (updated["name"], updated["visibility"], updated["protected"], updated["min_ram"]) == (
        "new",
        "public",
        False,
        512,
    )
    assert run(db, "update", image_id).exit_code == 2  # nothing to change
    assert run(db, "update", image_id, "--size", "-1").exit_code == 2
    assert run(db, "update", image_id, "--status", "pending_delete").exit_code == 0
    restored = run(db, "restore", image_id)
    assert restored.exit_code == 0, restored.output
    assert db.image_get(ADMIN, image_id)["status"] == "active"
    refused = run(db, "restore", image_id)
    assert refused.exit_code == 1 and "Conflict" in refused.stderr
    assert run(db, "delete", image_id).exit_code == 0
    missing = run(db, "update", image_id, "--name", "x")
    assert missing.exit_code == 1 and "ImageNotFound" in missing.stderr


# --- properties, tags, members, locations -------------------------------------------------------


def test_property_set_and_unset(db: Database) -> None:
    image_id = insert_image(db, properties={"keep": "1", "drop": "2"})
    assert run(db, "property", "set", image_id, "new=3", "keep=9").exit_code == 0
    assert run_json(db, "show", image_id)["properties"] == {"keep": "9", "drop": "2", "new": "3"}
    assert run(db, "property", "unset", image_id, "drop").exit_code == 0
    assert run_json(db, "show", image_id)["properties"] == {"keep": "9", "new": "3"}
    missing = run(db, "property", "unset", image_id, "new", "absent")
    assert missing.exit_code == 1 and "NotFound" in missing.stderr
    assert run_json(db, "show", image_id)["properties"] == {"keep": "9", "new": "3"}  # rolled back
    assert run(db, "property", "set", image_id, "novalue").exit_code == 2
    assert run(db, "property", "set", image_id, "=nameless").exit_code == 2
    assert run(db, "property", "set", "nope", "a=b").exit_code == 1


def test_tag_add_and_remove(db: Database) -> None:
    image_id = insert_image(db, tags=["a"])
    assert run(db, "tag", "add", image_id, "b", "a", "c").stdout == "Tags: a, b, c\n"
    assert run(db, "tag", "remove", image_id, "b").stdout == "Tags: a, c\n"
    missing = run(db, "tag", "remove", image_id, "c", "zz")
    assert missing.exit_code == 1 and "NotFound" in missing.stderr
    assert db.image_tag_get_all(ADMIN, image_id) == ["a", "c"]


def test_members(db: Database) -> None:
    image_id = insert_image(db, visibility="shared", owner="owner")
    assert run(db, "member", "add", image_id, "p1", "--can-share").exit_code == 0
    assert run(db, "member", "add", image_id, "p2").exit_code == 0
    duplicate = run(db, "member", "add", image_id, "p2")
    assert duplicate.exit_code == 1 and "Duplicate" in duplicate.stderr
    assert run(db, "member", "set-status", image_id, "p1", "accepted").exit_code == 0
    members = run_json(db, "member", "list", image_id)
    assert [(m["member"], m["status"], m["can_share"]) for m in members] == [
        ("p1", "accepted", True),
        ("p2", "pending", False),
    ]
    assert run(db, "member", "set-status", image_id, "p1", "bogus").exit_code == 2
    assert run(db, "member", "remove", image_id, "p2").exit_code == 0
    assert [m["member"] for m in run_json(db, "member", "list", image_id)] == ["p1"]
    missing = run(db, "member", "remove", image_id, "p2")
    assert missing.exit_code == 1 and "NotFound" in missing.stderr


def test_locations(db: Database) -> None:
    image_id = insert_image(db)
    assert (
        run(db, "location", "add", image_id, "file:///one", "--metadata", '{"k": 1}').exit_code == 0
    )
    assert run(db, "location", "add", image_id, "file:///two").exit_code == 0
    locations = run_json(db, "location", "list", image_id)
    assert [(loc["url"], loc["metadata"]) for loc in locations] == [
        ("file:///one", {"k": 1}),
        ("file:///two", {}),
    ]
    assert run(db, "location", "add", image_id, "x", "--metadata", "[1]").exit_code == 2
    assert run(db, "location", "add", image_id, "x", "--metadata", "{nope").exit_code == 2
    assert run(db, "location", "remove", image_id, str(locations[0]["id"])).exit_code == 0
    assert [loc["url"] for loc in run_json(db, "location", "list", image_id)] == ["file:///two"]
    missing = run(db, "location", "remove", image_id, str(locations[0]["id"]))
    assert missing.exit_code == 1 and "NotFound" in missing.stderr
