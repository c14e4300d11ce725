"""``glancedb db ...`` commands and the CLI's one-line error edge (SPEC 14)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import text

from glancedb import Database, migration
from glancedb.cli import main
from tests.support.glance_fixtures import PristineDatabases, load_glance_schema

HEAD = migration.head_revision()


def run(url: str, *args: str) -> Result:
    env = {"GLANCEDB_DATABASE_URL": ""}
    return CliRunner().invoke(main, ["--db-url", url, *args], env=env)


def url_of(database: Database) -> str:
    return database.engine.url.render_as_string(hide_password=False)


@pytest.fixture
def fresh(pristine: PristineDatabases) -> Iterator[Database]:
    database = pristine.get("mig_cli")
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
    # The revision, and each of glancedb's indexes: three, plus the two order
    # indexes where the backend can index an expression.
    assert len(lines) == (4 if fresh.backend == "mysql" else 6)
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


def _bad_urls(tmp_root: str) -> list[tuple[str, str]]:
    return [
        ("postgresql+psycopg://postgres@127.0.0.1:1/x", "DBConnectionError"),
        ("mysql+pymysql://root@127.0.0.1:1/x", "DBConnectionError"),
        ("nonsense://", "DBConfigurationError"),
        ("not a url", "DBConfigurationError"),
        ("postgresql+psycopg://u@127.0.0.1:notaport/x", "DBConfigurationError"),
        ("sqlite:////nonexistent/dir/x.db", "DBConnectionError"),
        ("postgresql+psycopg2://u@127.0.0.1/x", "DBConfigurationError"),
        ("mysql+mysqldb://u@127.0.0.1/x", "DBConfigurationError"),
    ]


@pytest.mark.parametrize("command", [["db", "sync"], ["db", "version"], ["db", "check"]])
def test_bad_urls_give_one_error_line(tmp_root: str, command: list[str]) -> None:
    for url, error in _bad_urls(tmp_root):
        result = run(url, *command)
        assert result.exit_code == 1, (url, result.output)
        lines = result.output.splitlines()
        assert len(lines) == 1, (url, result.output)
        assert lines[0].startswith(f"Error: {error}: "), (url, lines[0])
        assert "Traceback" not in result.output


def test_config_file_without_database_section(tmp_path: Path) -> None:
    config = tmp_path / "glance-api.conf"
    config.write_text("[DEFAULT]\ndebug = true\n", encoding="utf-8")
    result = CliRunner().invoke(
        main, ["--config-file", str(config), "db", "version"], env={"GLANCEDB_DATABASE_URL": ""}
    )
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        f"Error: DBConfigurationError: Config file {str(config)!r} has no [database] connection"
    ]
    missing = tmp_path / "missing.conf"
    result = CliRunner().invoke(
        main, ["--config-file", str(missing), "db", "sync"], env={"GLANCEDB_DATABASE_URL": ""}
    )
    assert result.exit_code == 1 and len(result.output.splitlines()) == 1
    assert "missing.conf" in result.output


def test_config_file_names_the_database(tmp_path: Path) -> None:
    path = tmp_path / "from-config.sqlite"
    config = tmp_path / "glance-api.conf"
    config.write_text(f"[database]\nconnection = sqlite:///{path}\n", encoding="utf-8")
    result = CliRunner().invoke(
        main, ["--config-file", str(config), "db", "sync"], env={"GLANCEDB_DATABASE_URL": ""}
    )
    assert result.exit_code == 0, result.output
    assert path.exists()


def _console_script() -> str:
    beside = Path(sys.executable).with_name("glancedb")
    found = str(beside) if beside.exists() else shutil.which("glancedb")
    if found is None:
        pytest.skip("the glancedb console script is not installed")
    return found


def test_console_script_error_line_and_success(tmp_path: Path) -> None:
    script = _console_script()
    env = {k: v for k, v in os.environ.items() if k != "GLANCEDB_DATABASE_URL"}
    bad = subprocess.run(
        [script, "--db-url", "postgresql+psycopg://postgres@127.0.0.1:1/x", "db", "sync"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert bad.returncode == 1
    assert bad.stdout == ""
    assert len(bad.stderr.splitlines()) == 1
    assert bad.stderr.startswith("Error: DBConnectionError: ")
    assert "Traceback" not in bad.stderr

    url = f"sqlite:///{tmp_path / 'console.sqlite'}"
    ok = subprocess.run(
        [script, "--db-url", url, "db", "sync"], capture_output=True, text=True, env=env, timeout=60
    )
    assert ok.returncode == 0, ok.stderr
    check = subprocess.run(
        [script, "--db-url", url, "db", "check"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert (check.returncode, check.stdout) == (0, "OK\n")
