"""The command line's edge: configuration, URLs, one-line errors, exit statuses (SPEC 14)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from glancedb import Database, config
from glancedb.cli import base
from glancedb.database import Database as DatabaseClass
from glancedb.driver_errors import TransientError
from glancedb.exception import DBDeadlock
from tests.conftest import require_backend
from tests.support.backends import server_url
from tests.support.cli import invoke, invoke_on, run_console, url_of


@pytest.fixture(autouse=True)
def no_glance_conf(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """This machine's /etc/glance/glance-api.conf (if any) plays no part here."""
    monkeypatch.setattr(config, "GLANCE_API_CONF", tmp_path / "no-glance-api.conf")


def one_error_line(stderr: str) -> str:
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("Error: "), stderr
    assert "Traceback" not in stderr
    return lines[0]


# --- defect 1: driver options ----------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "words"),
    [("charset=bogus", "Unknown MySQL charset 'bogus'"), ("foo=bar", "rejected the options")],
)
def test_mysql_query_options_the_driver_rejects_are_one_line(query: str, words: str) -> None:
    result = invoke("--db-url", f"mysql+pymysql://root@127.0.0.1:1/x?{query}", "db", "version")
    assert result.exit_code == 1
    assert words in one_error_line(result.stderr)


def test_charset_bogus_through_the_console_script() -> None:
    done = run_console(
        "--db-url", "mysql+pymysql://root@127.0.0.1/x?charset=bogus", "db", "version"
    )
    assert done.returncode == 1
    assert "charset 'bogus'" in one_error_line(done.stderr)


# --- defect 2: precedence, empty URL ----------------------------------------------------------


def test_config_file_beats_the_environment(tmp_path: Path) -> None:
    from_file = tmp_path / "from-file.sqlite"
    from_env = tmp_path / "from-env.sqlite"
    conf = tmp_path / "glance-api.conf"
    conf.write_text(f"[database]\nconnection = sqlite:///{from_file}\n", encoding="utf-8")
    result = invoke(
        "--config-file",
        str(conf),
        "db",
        "sync",
        env={"GLANCEDB_DATABASE_URL": f"sqlite:///{from_env}"},
    )
    assert result.exit_code == 0, result.output
    assert from_file.exists() and not from_env.exists()


def test_repeated_config_files_and_config_dir(tmp_path: Path) -> None:
    first, second, third = (tmp_path / f"{n}.sqlite" for n in ("first", "second", "third"))
    a = tmp_path / "a.conf"
    a.write_text(f"[database]\nconnection = sqlite:///{first}\n", encoding="utf-8")
    b = tmp_path / "b.conf"
    b.write_text(f"[database]\nconnection = sqlite:///{second}\n", encoding="utf-8")
    result = invoke("--config-file", str(a), "--config-file", str(b), "db", "sync")
    assert result.exit_code == 0, result.output
    assert second.exists() and not first.exists()
    directory = tmp_path / "conf.d"
    directory.mkdir()
    (directory / "x.conf").write_text(f"[database]\nconnection = sqlite:///{third}\n", "utf-8")
    result = invoke("--config-file", str(a), "--config-dir", str(directory), "db", "sync")
    assert result.exit_code == 0, result.output
    assert third.exists() and not first.exists()


def test_glance_api_conf_is_read_when_nothing_else_names_a_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "glance.sqlite"
    glance_conf = tmp_path / "glance-api.conf"
    glance_conf.write_text(f"[database]\nconnection = sqlite:///{target}\n", encoding="utf-8")
    monkeypatch.setattr(config, "GLANCE_API_CONF", glance_conf)
    result = invoke("db", "sync")
    assert result.exit_code == 0, result.output
    assert target.exists()
    other = tmp_path / "env.sqlite"
    result = invoke("db", "sync", env={"GLANCEDB_DATABASE_URL": f"sqlite:///{other}"})
    assert result.exit_code == 0 and other.exists()


def test_slave_connection_is_the_read_url(tmp_path: Path) -> None:
    primary, replica = tmp_path / "primary.sqlite", tmp_path / "replica.sqlite"
    for path in (primary, replica):
        Database(f"sqlite:///{path}").db_sync()
    conf = tmp_path / "glance-api.conf"
    conf.write_text(
        f"[database]\nconnection = sqlite:///{primary}\nslave_connection = sqlite:///{replica}\n",
        encoding="utf-8",
    )
    created = invoke(
        "--config-file", str(conf), "image", "create", "--name", "x", "-f", "value", "-c", "id"
    )
    assert created.exit_code == 0, created.output
    # Reads go to the replica, which has no such image.
    listed = invoke("--config-file", str(conf), "image", "list", "-f", "value", "-c", "id")
    assert listed.exit_code == 0 and listed.stdout == ""


def test_empty_db_url_is_a_usage_error(tmp_path: Path) -> None:
    result = invoke("--db-url", "", "db", "version")
    assert result.exit_code == 2
    assert "Invalid value for '--db-url': the URL is empty" in result.stderr


def test_config_file_without_database_section(tmp_path: Path) -> None:
    conf = tmp_path / "glance-api.conf"
    conf.write_text("[DEFAULT]\ndebug = true\n", encoding="utf-8")
    result = invoke(
        "--config-file", str(conf), "db", "version", env={"GLANCEDB_DATABASE_URL": "sqlite:///x"}
    )
    assert result.exit_code == 1
    assert one_error_line(result.stderr) == (
        f"Error: DBConfigurationError: No [database] connection in the config files given: {conf}"
    )
    missing = tmp_path / "missing.conf"
    result = invoke("--config-file", str(missing), "db", "sync")
    assert result.exit_code == 1 and "missing.conf" in one_error_line(result.stderr)


# --- defect 3: Glance operators' URLs ----------------------------------------------------------


@pytest.mark.parametrize(
    ("backend", "driver", "replacement"),
    [
        ("postgresql", "postgresql+psycopg2", "postgresql+psycopg"),
        ("mysql", "mysql+mysqldb", "mysql+pymysql"),
        ("mysql", "mysql+mysqlconnector", "mysql+pymysql"),
    ],
)
def test_glance_driver_names_run_on_the_installed_driver(
    backend: str, driver: str, replacement: str
) -> None:
    require_backend(backend)
    url = server_url(backend).set(drivername=driver)
    result = invoke("-vv", "--db-url", url.render_as_string(hide_password=False), "db", "version")
    assert result.exit_code == 0, result.output
    assert "head:" in result.stdout
    assert f"{driver} is not installed: using {replacement}" in result.stderr


@pytest.mark.parametrize(
    "url", ["oracle://scott:tiger@db/orcl", "mssql+pyodbc://u@dsn", "nonsense://"]
)
def test_unsupported_databases_are_one_line_without_install_advice(url: str) -> None:
    result = invoke("--db-url", url, "db", "version")
    assert result.exit_code == 1
    line = one_error_line(result.stderr)
    assert "Unsupported database" in line or "Cannot use the URL" in line
    assert "pip install" not in line and "tiger" not in line


def test_missing_driver_advice_names_the_right_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    from glancedb import engines

    monkeypatch.setattr(engines, "_module_available", lambda name: False)
    result = invoke("--db-url", "postgresql+pg8000://u@127.0.0.1:1/x", "db", "version")
    assert result.exit_code == 1
    line = one_error_line(result.stderr)
    assert "pg8000" in line and "glancedb[postgresql]" in line


# --- any failure is one line; --debug; Ctrl-C -----------------------------------------------------


def test_unexpected_exception_is_one_line_with_a_hint(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_args: object, **_kwargs: object) -> None:
        raise TypeError("boom\nsecond line")

    monkeypatch.setattr(DatabaseClass, "image_get_all", broken)
    result = invoke_on(db, "image", "list")
    assert result.exit_code == 1
    line = one_error_line(result.stderr)
    assert (
        line
        == "Error: TypeError: boom second line (unexpected: run with --debug for the traceback)"
    )
    result = (
        invoke_on(db, "--debug", "image", "list")
        if False
        else invoke("--debug", "--db-url", url_of(db), "image", "list")
    )
    assert result.exit_code == 1
    assert "Traceback (most recent call last)" in result.stderr
    assert result.stderr.splitlines()[-1] == "Error: TypeError: boom second line"


def test_glancedb_error_with_debug_shows_the_traceback(db: Database) -> None:
    result = invoke("--debug", "--db-url", url_of(db), "image", "show", "nope")
    assert result.exit_code == 1
    assert "Traceback" in result.stderr and "ImageNotFound" in result.stderr.splitlines()[-1]


def test_ctrl_c_exits_130(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupted(*_args: object, **_kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(DatabaseClass, "image_get_all", interrupted)
    result = invoke_on(db, "image", "list")
    assert result.exit_code == 130
    assert result.stderr.strip() == "Interrupted."


# --- defect 8: retries are not printed unless asked ---------------------------------------------


def test_retry_warnings_only_with_verbose(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    original = DatabaseClass.image_get_all

    def flaky(self: DatabaseClass, *args: object, **kwargs: object) -> object:
        with self._reading():
            calls.append(1)
            if len(calls) % 2:
                raise TransientError(DBDeadlock("deadlock in image_get_all"))
        return original(self, *args, **kwargs)  # type: ignore[arg-type]

    from glancedb.transactions import retrying

    monkeypatch.setattr(DatabaseClass, "image_get_all", retrying(flaky))
    quiet = invoke_on(db, "image", "list")
    assert quiet.exit_code == 0, quiet.output
    assert quiet.stderr == ""
    verbose = invoke("-v", "--db-url", url_of(db), "image", "list")
    assert verbose.exit_code == 0
    assert "retrying" in verbose.stderr and "WARNING" in verbose.stderr


def test_refused_connection_is_one_line_through_the_console_script() -> None:
    done = run_console("--db-url", "postgresql+psycopg://postgres@127.0.0.1:1/x", "image", "list")
    assert done.returncode == 1 and done.stdout == ""
    line = one_error_line(done.stderr)
    assert line.startswith("Error: DBConnectionError: ")
    assert "image_get_all" not in line and "retrying" not in done.stderr


def test_logging_configuration_is_not_duplicated() -> None:
    for _ in range(3):
        base.configure_logging(0, False)
    assert sum(isinstance(h, base._ClickEcho) for h in base.LOG.handlers) == 1


def test_sqlite_error_message_names_no_sql(tmp_path: Path) -> None:
    path = tmp_path / "foreign.sqlite"
    connection = sqlite3.connect(path)
    connection.execute("CREATE TABLE accounts (id INTEGER PRIMARY KEY)")
    connection.close()
    result = invoke("--db-url", f"sqlite:///{path}", "image", "list")
    assert result.exit_code == 1
    line = one_error_line(result.stderr)
    assert "glancedb db check" in line and "SELECT" not in line and "no such table" not in line
