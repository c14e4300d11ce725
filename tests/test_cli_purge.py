"""``glancedb db purge`` and ``glancedb db purge-images-table``, on every backend."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path
from typing import Any

import pytest

from glancedb import Database
from glancedb.models import tables as t
from tests.support.cli import console_script, invoke, invoke_on, process_env
from tests.support.factories import (
    child_row,
    count_rows,
    days_ago,
    image_row,
    insert,
    task_info_row,
    task_row,
)


def run(db: Database, *args: str) -> Any:
    return invoke_on(db, "db", *args)


def populate(db: Database) -> None:
    """Five old deleted images with 3 deleted properties each; 4 old deleted tasks."""
    old = days_ago(60)
    images = [image_row(deleted=True, deleted_at=old, status="deleted") for _ in range(5)]
    insert(db, t.images, images)
    insert(
        db,
        t.image_properties,
        [
            child_row(t.image_properties, image["id"], deleted=True, deleted_at=old)
            for image in images
            for _ in range(3)
        ],
    )
    tasks = [task_row(deleted=True, deleted_at=old) for _ in range(4)]
    insert(db, t.tasks, tasks)
    insert(db, t.task_info, [task_info_row(task["id"]) for task in tasks])
    # Recent deletions stay.
    insert(db, t.tasks, [task_row(deleted=True, deleted_at=days_ago(1))])


def table_lines(output: str) -> dict[str, list[str]]:
    lines = {}
    for line in output.splitlines():
        parts = line.split()
        if parts and parts[0] in {"images", "tasks", "task_info", "image_properties"}:
            lines[parts[0]] = parts[1:]
    return lines


def test_purge_then_purge_images(db: Database) -> None:
    populate(db)
    result = run(db, "purge", "--age-in-days", "30", "--max-rows", "-1")
    assert result.exit_code == 0, result.output
    summary = table_lines(result.stdout)
    assert "Rows deleted" in result.stdout
    assert summary["image_properties"] == ["15"]
    assert summary["tasks"] == ["4"] and summary["task_info"] == ["4"]
    # Progress went to stderr, one line per batch.
    assert "image_properties: purged 15 row(s)" in result.stderr
    assert count_rows(db, t.image_properties) == 0 and count_rows(db, t.tasks) == 1

    result = run(db, "purge-images-table", "--age-in-days", "30", "--max-rows", "2")
    assert result.exit_code == 0, result.output
    assert table_lines(result.stdout)["images"] == ["2", "0"]
    assert count_rows(db, t.images) == 3


def test_dry_run_deletes_nothing(db: Database) -> None:
    populate(db)
    result = run(db, "purge", "--age-in-days", "30", "--max-rows", "10", "--dry-run")
    assert result.exit_code == 0, result.output
    assert "Would delete" in result.stdout
    summary = table_lines(result.stdout)
    assert summary["image_properties"] == ["10"] and summary["tasks"] == ["4"]
    assert count_rows(db, t.image_properties) == 15 and count_rows(db, t.tasks) == 5


def test_purge_images_reports_skipped(db: Database) -> None:
    populate(db)
    result = run(db, "purge-images-table", "--age-in-days", "30", "--max-rows", "-1")
    assert result.exit_code == 0, result.output
    assert table_lines(result.stdout)["images"] == ["0", "5"]
    assert "still referenced" in result.stderr
    assert count_rows(db, t.images) == 5


def test_default_arguments_follow_glance(db: Database) -> None:
    populate(db)
    # Glance's defaults: 30 days, 100 rows.
    result = run(db, "purge", "--dry-run")
    assert result.exit_code == 0, result.output
    assert table_lines(result.stdout)["image_properties"] == ["15"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--max-rows", str(2**31)], "max_rows"),
        (["--max-rows", "-5"], "max_rows"),
        (["--age-in-days", "-1"], "age_in_days"),
    ],
)
@pytest.mark.parametrize("command", ["purge", "purge-images-table"])
def test_bad_arguments_exit_non_zero(
    db: Database, command: str, args: list[str], message: str
) -> None:
    populate(db)
    result = run(db, command, *args)
    assert result.exit_code == 1
    assert "Error: Invalid" in result.stderr and message in result.stderr
    assert "Traceback" not in result.output
    assert count_rows(db, t.image_properties) == 15 and count_rows(db, t.images) == 5


def test_database_error_exits_non_zero(tmp_path: Any) -> None:
    # A database without the schema: the purge refuses, saying what to run.
    path = tmp_path / "empty.sqlite"
    Database(f"sqlite:///{path}").engine.connect().close()
    result = invoke("--db-url", f"sqlite:///{path}", "db", "purge", "--max-rows", "-1")
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: SchemaError: The database is empty")
    assert "Traceback" not in result.output


def test_batch_size(db: Database) -> None:
    populate(db)
    result = run(db, "purge", "--max-rows", "-1", "--batch-size", "4")
    assert result.exit_code == 0, result.output
    # 15 properties in batches of at most 4: 4 progress lines.
    assert len([line for line in result.stderr.splitlines() if "image_properties" in line]) == 4
    assert table_lines(result.stdout)["image_properties"] == ["15"]
    assert run(db, "purge", "--batch-size", "0").exit_code == 2


def test_ctrl_c_prints_what_was_purged_and_exits_130(tmp_path: Path) -> None:
    """SIGINT to the real process in the middle of a purge."""
    path = tmp_path / "big.sqlite"
    database = Database(f"sqlite:///{path}")
    database.db_sync()
    old = days_ago(60)
    images = [image_row(deleted=True, deleted_at=old, status="deleted") for _ in range(20)]
    insert(database, t.images, images)
    rows = [
        child_row(t.image_properties, image["id"], deleted=True, deleted_at=old)
        for image in images
        for _ in range(1000)
    ]
    insert(database, t.image_properties, rows)
    total = count_rows(database, t.image_properties)
    database.dispose()
    # 4,000 progress lines: more than a pipe holds (64 KiB), so the purge
    # cannot run to its end before this test has read the first lines and
    # sent the signal, however the two processes are scheduled.
    batch = 5
    process = subprocess.Popen(
        [
            console_script(),
            "--db-url",
            f"sqlite:///{path}",
            "db",
            "purge",
            "--max-rows",
            "-1",
            "--batch-size",
            str(batch),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=process_env(),
        # Ctrl-C as a terminal delivers it: a test run started in the
        # background inherits SIGINT ignored, and so would the command.
        preexec_fn=_default_sigint,
    )
    assert process.stderr is not None
    progress = []
    for line in process.stderr:
        progress.append(line)
        if "image_properties: purged" in line and len(progress) >= 3:
            break
    process.send_signal(signal.SIGINT)
    stdout, rest = process.communicate(timeout=120)
    stderr = "".join(progress) + rest
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr
    reported = int(table_lines(stdout)["image_properties"][0])
    assert 0 < reported < total
    assert f"Interrupted: {reported + int(table_lines(stdout).get('tasks', ['0'])[0])}" in stderr
    assert "already purged stay purged" in stderr
    remaining = count_rows(Database(f"sqlite:///{path}"), t.image_properties)
    # What the summary says was purged is purged (a batch committing as the
    # signal lands may be missing from it).
    assert total - reported - batch <= remaining <= total - reported


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)
