"""SQLite files and the CLI: never created, journal mode kept, read-only users (SPEC 14)."""

from __future__ import annotations

import os
import shutil
import sqlite3
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from glancedb import Database, migration
from tests.support.cli import console_script, invoke, process_env
from tests.support.factories import insert_image
from tests.support.glance_fixtures import PristineDatabases, load_glance_schema


def journal_mode(path: Path) -> str:
    connection = sqlite3.connect(path)
    try:
        return str(connection.execute("PRAGMA journal_mode").fetchone()[0])
    finally:
        connection.close()


def glance_made_file(path: Path) -> Path:
    """A SQLite file as Glance's db sync leaves it (rollback journal), with one image."""
    database = Database(f"sqlite:///{path}")
    load_glance_schema(database.engine, "sqlite")
    database.dispose()
    return path


READ_ONLY_COMMANDS = [
    ["image", "list"],
    ["image", "list", "-f", "json"],
    ["db", "version"],
    ["db", "check"],
    ["db", "history"],
    ["task", "list"],
    ["usage", "tenant-a"],
    ["cache", "list"],
]


def test_read_only_commands_keep_a_glance_files_journal_mode(tmp_path: Path) -> None:
    path = glance_made_file(tmp_path / "glance.sqlite")
    assert journal_mode(path) == "delete"
    url = f"sqlite:///{path}"
    assert invoke("--db-url", url, "db", "version").exit_code == 0
    assert invoke("--db-url", url, "db", "check").exit_code == 1  # not adopted yet
    assert journal_mode(path) == "delete"
    adopted = invoke("--db-url", url, "db", "sync")
    assert adopted.exit_code == 0, adopted.output
    for command in READ_ONLY_COMMANDS:
        result = invoke("--db-url", url, *command)
        assert result.exit_code == 0, (command, result.output)
    created = invoke("--db-url", url, "image", "create", "--name", "w")
    assert created.exit_code == 0, created.output
    assert journal_mode(path) == "delete"  # adoption and writes keep Glance's choice


def test_sync_of_a_new_file_chooses_wal(tmp_path: Path) -> None:
    path = tmp_path / "new.sqlite"
    assert invoke("--db-url", f"sqlite:///{path}", "db", "sync").exit_code == 0
    assert journal_mode(path) == "wal"


def test_a_path_with_uri_characters_opens_read_only(tmp_path: Path) -> None:
    """A read-only command opens the file as a ``file:`` URI: a ``#`` and
    spaces in its path are quoted, not read as the URI's own syntax."""
    folder = tmp_path / "a dir #1"
    folder.mkdir()
    path = folder / "my images.sqlite"
    url = f"sqlite:///{path}"
    assert invoke("--db-url", url, "db", "sync").exit_code == 0
    assert invoke("--db-url", url, "image", "create", "--name", "only").exit_code == 0
    listed = invoke("--db-url", url, "image", "list", "-f", "json")
    assert listed.exit_code == 0, listed.output
    assert '"only"' in listed.output
    assert [p.name for p in tmp_path.iterdir()] == ["a dir #1"]


@pytest.fixture
def fresh(pristine: PristineDatabases) -> Iterator[Database]:
    database = pristine.get("cli_state")
    database.engine.connect().close()
    yield database
    pristine.release(database)


def url_of(database: Database) -> str:
    return database.engine.url.render_as_string(hide_password=False)


def test_empty_database_says_to_run_sync(fresh: Database) -> None:
    for command in (["image", "list"], ["task", "list"], ["db", "purge"], ["metadefs", "unload"]):
        result = invoke("--db-url", url_of(fresh), *command)
        assert result.exit_code == 1, command
        assert result.stderr.splitlines() == [
            "Error: SchemaError: The database is empty: run 'glancedb db sync' to create the schema"
        ]


def test_foreign_database_says_to_run_check(fresh: Database) -> None:
    with fresh.engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE accounts (id INTEGER PRIMARY KEY)")
    result = invoke("--db-url", url_of(fresh), "image", "show", "x")
    assert result.exit_code == 1
    assert "glancedb db check" in result.stderr and "accounts" not in result.stderr
    check = invoke("--db-url", url_of(fresh), "db", "check")
    assert "other tables (accounts)" in check.stdout.splitlines()[0]


def test_unadopted_glance_database_says_to_check_then_sync(fresh: Database, backend: str) -> None:
    load_glance_schema(fresh.engine, backend)
    result = invoke("--db-url", url_of(fresh), "image", "list")
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        f"Error: SchemaError: This is a Glance database (revision {migration.GLANCE_REVISION})"
        " that glancedb has not adopted: run 'glancedb db check', then 'glancedb db sync'"
    )


def test_database_behind_head_works_with_a_warning(fresh: Database) -> None:
    fresh.db_sync()
    fresh.db_downgrade(migration.FIRST_REVISION)
    result = invoke("--db-url", url_of(fresh), "image", "list")
    assert result.exit_code == 0, result.output
    assert result.stderr.startswith(f"Warning: database at revision {migration.FIRST_REVISION}")


# --- a user who can only read the file ---------------------------------------------------------


def _reader_prefix() -> list[str]:
    """How to run a command as a user without write access (root drops its capabilities)."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv: cannot act as a read-only user")
    return [setpriv, "--bounding-set=-all", "--inh-caps=-all"]


def as_reader(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*_reader_prefix(), console_script(), "--db-url", url, *args],
        capture_output=True,
        text=True,
        env=process_env(),
        timeout=120,
    )


@pytest.fixture
def read_only_dir(tmp_path: Path) -> Iterator[Path]:
    directory = tmp_path / "ro"
    directory.mkdir()
    yield directory
    directory.chmod(0o755)
    for child in directory.iterdir():
        child.chmod(0o644)


def _lock_down(directory: Path) -> None:
    for child in directory.iterdir():
        child.chmod(stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
    directory.chmod(0o555)


@pytest.mark.parametrize("origin", ["glancedb (WAL)", "Glance (rollback journal)", "WAL in use"])
def test_a_user_who_can_only_read_the_file_can_read(read_only_dir: Path, origin: str) -> None:
    path = read_only_dir / "images.sqlite"
    url = f"sqlite:///{path}"
    if origin.startswith("Glance"):
        glance_made_file(path)
    setup = Database(url)
    setup.db_sync()
    image_id = insert_image(setup, name="readable", properties={"os": "linux"})
    setup.dispose()
    mode_before = journal_mode(path)
    assert not Path(f"{path}-wal").exists()
    writer = None
    if origin == "WAL in use":
        # A writer keeps the database open: its -wal and -shm files exist
        # (readable by all), and holds a commit not yet checkpointed.
        writer = sqlite3.connect(path)
        writer.execute("PRAGMA wal_autocheckpoint=0")
        writer.execute("UPDATE images SET name = 'latest'")
        writer.commit()
        assert Path(f"{path}-wal").exists()
    try:
        _lock_down(read_only_dir)
        # Every read-only command on one kind of file; the opening itself on all three.
        commands = READ_ONLY_COMMANDS[1:] if origin == "glancedb (WAL)" else [["db", "check"]]
        for command in [*commands, ["image", "show", image_id]]:
            done = as_reader(url, *command)
            assert done.returncode == 0, (command, done.stderr)
        listed = as_reader(url, "image", "list", "-f", "value", "-c", "name")
        assert listed.stdout == ("latest\n" if writer is not None else "readable\n")
        refused = as_reader(url, "image", "create", "--name", "nope")
        assert refused.returncode == 1
        assert len(refused.stderr.splitlines()) == 1 and "readonly" in refused.stderr
    finally:
        if writer is not None:
            writer.close()
    assert sorted(p.name for p in read_only_dir.iterdir()) == ["images.sqlite"]
    assert journal_mode(path) == mode_before
