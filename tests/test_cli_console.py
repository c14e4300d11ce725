"""Every command through the real ``glancedb`` console script, on a SQLite file."""

from __future__ import annotations

import json
import shlex
import subprocess
from pathlib import Path

import pytest

from glancedb import Database
from glancedb.context import get_admin_context
from glancedb.models import tables as t
from tests.support.cli import console_script, process_env, run_console
from tests.support.factories import image_row, insert, next_time

ADMIN = get_admin_context()


@pytest.fixture
def url(tmp_path: Path) -> str:
    path = tmp_path / "console.sqlite"
    database = Database(f"sqlite:///{path}")
    database.db_sync()
    database.dispose()
    return f"sqlite:///{path}"


def ok(url: str, *args: str) -> str:
    done = run_console("--db-url", url, *args)
    assert done.returncode == 0, (args, done.stderr)
    return done.stdout


def test_image_commands(url: str) -> None:
    image_id = json.loads(
        ok(url, "image", "create", "--name", "c", "--disk-format", "raw", "-f", "json")
    )["id"]
    bad = run_console("--db-url", url, "image", "create", "--size", "-5", "--disk-format", "x")
    assert bad.returncode == 2 and "Invalid value" in bad.stderr
    assert (
        json.loads(ok(url, "image", "update", image_id, "--name", "d", "-f", "json"))["name"] == "d"
    )
    ok(url, "image", "property", "set", image_id, "os=linux", "arch=x86")
    ok(url, "image", "property", "unset", image_id, "arch")
    assert ok(url, "image", "tag", "add", image_id, "t1", "t2") == "Tags: t1, t2\n"
    assert ok(url, "image", "tag", "remove", image_id, "t1") == "Tags: t2\n"
    ok(url, "image", "member", "add", image_id, "p1")
    ok(url, "image", "member", "set-status", image_id, "p1", "accepted")
    assert (
        ok(url, "image", "member", "list", image_id, "-f", "value", "-c", "member", "-c", "status")
        == "p1 accepted\n"
    )
    ok(url, "image", "member", "remove", image_id, "p1")
    ok(url, "image", "location", "add", image_id, "file:///x")
    location = json.loads(ok(url, "image", "location", "list", image_id, "-f", "json"))[0]
    ok(url, "image", "location", "remove", image_id, str(location["id"]))
    shown = json.loads(ok(url, "image", "show", image_id, "-f", "json"))
    assert shown["properties"] == {"os": "linux"} and shown["tags"] == ["t2"]
    assert shown["locations"] == []
    ok(url, "image", "update", image_id, "--status", "pending_delete")
    ok(url, "image", "restore", image_id)
    assert ok(url, "image", "list", "-f", "value", "-c", "status") == "active\n"
    ok(url, "image", "delete", image_id)
    assert ok(url, "image", "list", "-f", "csv").splitlines()[0].startswith("id,name")


def test_task_usage_cache_metadefs_and_db_commands(url: str, tmp_path: Path) -> None:
    database = Database(url)
    task = database.task_create(ADMIN, {"type": "import", "status": "pending", "owner": "p"})
    database.node_reference_create(ADMIN, "http://node")
    database.dispose()
    assert task["id"] in ok(url, "task", "list")
    assert json.loads(ok(url, "task", "show", task["id"], "-f", "json"))["type"] == "import"
    assert ok(url, "usage", "p", "-f", "value") == "p 0 0 0 0\n"
    assert "http://node" in ok(url, "cache", "list")
    catalogue = Path(__file__).parent / "data" / "metadefs"
    ok(url, "metadefs", "load", "--path", str(catalogue))
    refused = run_console("--db-url", url, "metadefs", "unload")  # no terminal, no answer
    assert refused.returncode == 1 and "Nothing deleted" in refused.stderr
    assert "metadef_namespaces" in ok(url, "metadefs", "unload", "--yes")
    assert "Rows deleted" in ok(url, "db", "purge", "--batch-size", "10")
    assert "(current, head)" in ok(url, "db", "history")
    assert ok(url, "db", "upgrade", "--sql") == ""
    help_text = ok(url, "image", "-h")
    assert "Usage: glancedb image" in help_text


def test_head_closes_the_pipe_quietly(url: str) -> None:
    database = Database(url)
    insert(database, t.images, [image_row(created_at=next_time()) for _ in range(3000)])
    database.dispose()
    command = (
        f"set -o pipefail; {shlex.quote(console_script())} --db-url {shlex.quote(url)}"
        " image list --all -f json | head -n 3"
    )
    done = subprocess.run(
        ["bash", "-c", command], capture_output=True, text=True, env=process_env(), timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert done.stdout.splitlines()[0] == "["


def test_shell_completion_script() -> None:
    done = run_console(env={"_GLANCEDB_COMPLETE": "bash_source"})
    assert done.returncode == 0, done.stderr
    assert "_glancedb_completion" in done.stdout
    words = run_console(
        env={
            "_GLANCEDB_COMPLETE": "bash_complete",
            "COMP_WORDS": "glancedb image l",
            "COMP_CWORD": "2",
        }
    )
    assert "plain,list" in words.stdout and "plain,location" in words.stdout
