"""``glancedb db ...`` commands and the CLI's one-line error edge (SPEC 14)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import Result
from sqlalchemy import text

from glancedb import Database, migration
from tests.support.cli import invoke, run_console, url_of
from tests.support.glance_fixtures import PristineDatabases, load_glance_schema

HEAD = migration.head_revision()


def run(url: str, *args: str) -> Result:
    return invoke("--db-url", url, *args)


@pytest.fixture
def fresh(pristine: PristineDatabases) -> Iterator[Database]:
    database = pristine.get("mig_cli")
    database.engine.connect().close()  # an empty SQLite file exists, as a server database would
    yield database
    pristine.release(database)


@pytest.fixture
def glance(pristine: PristineDatabases, backend: str) -> Iterator[Database]:
    database = pristine.get("mig_cli_glance")
    load_glance_schema(database.engine, backend)
    yield database
    pristine.release(database)


def test_sync_version_check(fresh: Database) -> None:
    url = url_of(fresh)
    result = run(url, "db", "version")
    assert result.exit_code == 0, result.output
    assert "current: none" in result.output and f"head:    {HEAD}" in result.output

    result = run(url, "db", "check")
    assert result.exit_code == 1
    assert "not managed by glancedb" in result.output

    result = run(url, "db", "sync")
    assert result.exit_code == 0, result.output
    assert result.output == f"Schema created: database at revision {HEAD} (head).\n"
    result = run(url, "db", "sync")
    assert result.output == f"Schema already current: database at revision {HEAD} (head).\n"

    result = run(url, "db", "version")
    assert result.exit_code == 0
    assert f"current: {HEAD}" in result.output and "glance:" not in result.output

    result = run(url, "db", "check")
    assert (result.exit_code, result.output) == (0, "OK\n")


def test_downgrade_upgrade_round_trip(fresh: Database) -> None:
    url = url_of(fresh)
    assert run(url, "db", "sync").exit_code == 0
    result = run(url, "db", "downgrade", "base")
    assert result.exit_code == 0, result.output
    assert "current: none" in run(url, "db", "version").output
    assert fresh.db_version() is None

    result = run(url, "db", "upgrade")
    assert result.exit_code == 0, result.output
    assert f"current: {HEAD}" in run(url, "db", "version").output
    assert run(url, "db", "check").output == "OK\n"

    result = run(url, "db", "upgrade", "nosuchrev")
    assert result.exit_code == 1
    assert result.output.startswith("Error: ") and "nosuchrev" in result.output
    assert run(url, "db", "downgrade").exit_code == 2  # REV is required


def test_downgrade_to_glances_schema_and_back(fresh: Database) -> None:
    url = url_of(fresh)
    assert run(url, "db", "sync").exit_code == 0
    result = run(url, "db", "downgrade", migration.FIRST_REVISION)
    assert result.exit_code == 0, result.output
    result = run(url, "db", "check")
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert lines[0] == f"database is at revision {migration.FIRST_REVISION}, head is {HEAD}"
    assert "index ix_glancedb_images_name missing on images" in lines
    narrow = [line for line in lines if line.endswith(" has type DATETIME, expected DATETIME(6)")]
    # The revision, each of glancedb's indexes (five everywhere: the two
    # order indexes on expressions or, on MySQL, on the plain columns; on
    # MySQL and SQLite the created_at walk index besides), and on MySQL its
    # 33 timestamp columns still without microseconds.
    mysql = fresh.backend in ("mysql", "mariadb")
    assert len(narrow) == (33 if mysql else 0)
    walk = fresh.backend != "postgresql"
    assert len(lines) == 1 + 5 + (1 if walk else 0) + len(narrow)
    result = run(url, "db", "sync")
    assert result.output == f"Schema upgraded: database at revision {HEAD} (head).\n"
    assert run(url, "db", "check").output == "OK\n"


def test_glance_database_is_adopted(glance: Database) -> None:
    url = url_of(glance)
    assert run(url, "db", "check").exit_code == 1
    result = run(url, "db", "sync")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("Glance database adopted: ")
    result = run(url, "db", "version")
    assert f"current: {HEAD}" in result.output
    assert f"glance:  {migration.GLANCE_REVISION}" in result.output
    result = run(url, "db", "check")
    assert (result.exit_code, result.output) == (0, "OK\n")


def test_tampered_glance_database_is_refused(glance: Database, backend: str) -> None:
    with glance.engine.begin() as conn:
        conn.exec_driver_sql(
            "DROP INDEX ix_images_deleted" + (" ON images" if backend == "mysql" else "")
        )
        conn.exec_driver_sql("ALTER TABLE images ADD COLUMN foo INTEGER")
    url = url_of(glance)
    result = run(url, "db", "sync")
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: SchemaError: ")
    assert "ix_images_deleted" in lines[0] and "images.foo" in lines[0]
    assert "Traceback" not in result.output

    result = run(url, "db", "check")
    assert result.exit_code == 1
    assert "index ix_images_deleted missing on images" in result.output.splitlines()
    assert "extra column images.foo" in result.output.splitlines()


def test_older_glance_revision_is_refused(glance: Database) -> None:
    with glance.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = 'zed_contract01'"))
    result = run(url_of(glance), "db", "sync")
    assert result.exit_code == 1
    assert "zed_contract01" in result.output and len(result.output.splitlines()) == 1


# --- the error edge (backend-independent) -------------------------------------------------


def _bad_urls() -> list[tuple[str, str]]:
    return [
        ("postgresql+psycopg://postgres@127.0.0.1:1/x", "DBConnectionError"),
        ("mysql+pymysql://root@127.0.0.1:1/x", "DBConnectionError"),
        ("nonsense://", "DBConfigurationError"),
        ("not a url", "DBConfigurationError"),
        ("postgresql+psycopg://u@127.0.0.1:notaport/x", "DBConfigurationError"),
        ("sqlite:////nonexistent/dir/x.db", "DBConfigurationError"),
        ("postgresql+psycopg2://u@127.0.0.1:1/x", "DBConnectionError"),
        ("mysql+mysqldb://u@127.0.0.1:1/x", "DBConnectionError"),
        ("oracle://u@127.0.0.1/x", "DBConfigurationError"),
    ]


@pytest.mark.parametrize("command", [["db", "sync"], ["db", "version"], ["db", "check"]])
def test_bad_urls_give_one_error_line(command: list[str]) -> None:
    for url, error in _bad_urls():
        result = run(url, *command)
        assert result.exit_code == 1, (url, result.output)
        lines = result.stderr.splitlines()
        assert len(lines) == 1, (url, result.output)
        assert lines[0].startswith(f"Error: {error}: "), (url, lines[0])
        assert "Traceback" not in result.output


def test_console_script_error_line_and_success(tmp_path: Path) -> None:
    bad = run_console("--db-url", "postgresql+psycopg://postgres@127.0.0.1:1/x", "db", "sync")
    assert bad.returncode == 1
    assert bad.stdout == ""
    assert len(bad.stderr.splitlines()) == 1
    assert bad.stderr.startswith("Error: DBConnectionError: ")
    assert "Traceback" not in bad.stderr

    url = f"sqlite:///{tmp_path / 'console.sqlite'}"
    ok = run_console("--db-url", url, "db", "sync")
    assert ok.returncode == 0, ok.stderr
    check = run_console("--db-url", url, "db", "check")
    assert (check.returncode, check.stdout) == (0, "OK\n")
    history = run_console("--db-url", url, "db", "history")
    assert history.returncode == 0 and f"* {HEAD} (current, head)" in history.stdout
    sql = run_console("--db-url", url, "db", "upgrade", "--sql")
    assert (sql.returncode, sql.stdout) == (0, "")


# --- defect 12: sync and check agree ---------------------------------------------------------


def test_sync_on_a_drifted_database_is_an_error_not_current(fresh: Database) -> None:
    url = url_of(fresh)
    assert run(url, "db", "sync").exit_code == 0
    with fresh.engine.begin() as conn:
        conn.exec_driver_sql(
            "DROP INDEX ix_tasks_owner" + (" ON tasks" if fresh.backend == "mysql" else "")
        )
    result = run(url, "db", "sync")
    assert result.exit_code == 1
    line = result.stderr.strip()
    assert len(result.stderr.splitlines()) == 1
    assert "index ix_tasks_owner missing on tasks" in line and "already current" not in line
    assert "index ix_tasks_owner missing on tasks" in run(url, "db", "check").stdout


def test_check_on_an_older_glance_database_does_not_advise_sync(glance: Database) -> None:
    with glance.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '2023_1_contract01'"))
    url = url_of(glance)
    result = run(url, "db", "check")
    assert result.exit_code == 1
    first = result.stdout.splitlines()[0]
    assert "2023_1_contract01" in first and "glance-manage db sync" in first
    assert "run 'glancedb db sync'" not in result.stdout
    # And sync refuses with the same advice.
    refused = run(url, "db", "sync")
    assert refused.exit_code == 1 and "glance-manage db sync" in refused.stderr


def test_check_on_an_unadopted_glance_database_explains_adoption(glance: Database) -> None:
    result = run(url_of(glance), "db", "check")
    assert result.exit_code == 1
    assert "not managed by glancedb yet" in result.stdout.splitlines()[0]
    assert "'glancedb db sync' adopts it" in result.stdout.splitlines()[0]


def test_history_marks_the_current_revision(fresh: Database) -> None:
    url = url_of(fresh)
    assert run(url, "db", "sync").exit_code == 0
    assert run(url, "db", "downgrade", migration.FIRST_REVISION).exit_code == 0
    result = run(url, "db", "history")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"* {migration.FIRST_REVISION} (current)")
    assert lines[-1].startswith(f"  {HEAD} (head)")
    assert "``" not in result.stdout


def test_upgrade_sql_prints_the_pending_revisions_and_changes_nothing(fresh: Database) -> None:
    url = url_of(fresh)
    empty = run(url, "db", "upgrade", "--sql")
    assert empty.exit_code == 0, empty.output
    assert "CREATE TABLE images" in empty.stdout and "CREATE TABLE glancedb_version" in empty.stdout
    assert fresh.db_version() is None  # nothing was run
    if fresh.backend == "postgresql":
        assert "CREATE TYPE image_visibility" in empty.stdout
    if fresh.backend == "mysql":
        assert "value(255)" in empty.stdout
    assert run(url, "db", "sync").exit_code == 0
    assert run(url, "db", "downgrade", migration.FIRST_REVISION).exit_code == 0
    partial = run(url, "db", "upgrade", "--sql")
    assert partial.exit_code == 0, partial.output
    assert "CREATE TABLE images" not in partial.stdout
    # On PostgreSQL built CONCURRENTLY (outside a transaction), as db sync does.
    assert re.search(
        r"CREATE INDEX (CONCURRENTLY IF NOT EXISTS )?ix_glancedb_images_name ", partial.stdout
    )
    assert fresh.db_version() == migration.FIRST_REVISION


def test_upgrade_sql_refuses_an_unadopted_glance_database(glance: Database) -> None:
    result = run(url_of(glance), "db", "upgrade", "--sql")
    assert result.exit_code == 1 and "glancedb db sync" in result.stderr


def test_read_only_commands_never_create_a_sqlite_file(tmp_path: Path) -> None:
    path = tmp_path / "typo.sqlite"
    for command in (
        ["db", "version"],
        ["db", "check"],
        ["db", "history"],
        ["db", "upgrade", "--sql"],
        ["image", "list"],
        ["image", "show", "x"],
        ["task", "list"],
        ["usage", "p"],
        ["cache", "list"],
        ["metadefs", "export", "--path", str(tmp_path / "out")],
        ["image", "create", "--name", "x"],
        ["db", "purge"],
        ["db", "upgrade"],
        ["db", "downgrade", "base"],
    ):
        result = run(f"sqlite:///{path}", *command)
        assert result.exit_code == 1, (command, result.output)
        assert result.stderr.splitlines() == [
            f"Error: DBConfigurationError: The SQLite database {str(path)!r} (from --db-url)"
            " does not exist: run 'glancedb db sync' to create it"
        ], command
        assert not path.exists(), command


def test_a_file_uri_names_its_sqlite_file(tmp_path: Path) -> None:
    """A ``file:`` URI (with or without a host part) is the file it names, checked alike."""
    path = tmp_path / "typo.sqlite"
    for url in (f"sqlite:///file:{path}?uri=true", f"sqlite:///file://localhost{path}?uri=true"):
        result = run(url, "image", "list")
        assert result.exit_code == 1, (url, result.output)
        assert f"The SQLite database {str(path)!r} (from --db-url) does not exist" in result.stderr
        assert not path.exists()
