"""Running the ``glancedb`` command in tests: in-process (CliRunner) and as a real process."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from glancedb import Database
from glancedb.cli import main

#: Environment variables that would change which database a command opens.
_ISOLATED = ("GLANCEDB_DATABASE_URL",)


def url_of(database: Database) -> str:
    """The URL of ``database``, password included (for --db-url)."""
    return database.engine.url.render_as_string(hide_password=False)


def invoke(*args: str, env: Mapping[str, str] | None = None, input: str | None = None) -> Result:
    """Run ``glancedb ARGS`` in-process; the environment names no database unless ``env`` does."""
    environment = {name: "" for name in _ISOLATED}
    environment.update(env or {})
    return CliRunner().invoke(main, list(args), env=environment, input=input, prog_name="glancedb")


def invoke_on(database: Database, *args: str, input: str | None = None) -> Result:
    """Run ``glancedb --db-url <database> ARGS`` in-process."""
    return invoke("--db-url", url_of(database), *args, input=input)


def console_script() -> str:
    """The installed ``glancedb`` console script (the test is skipped without one)."""
    beside = Path(sys.executable).with_name("glancedb")
    found = str(beside) if beside.exists() else shutil.which("glancedb")
    if found is None:
        pytest.skip("the glancedb console script is not installed")
    return found


def process_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment without glancedb's variables, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if k not in _ISOLATED}
    env.update(extra or {})
    return env


def run_console(
    *args: str,
    env: Mapping[str, str] | None = None,
    timeout: float = 120,
    cwd: str | Path | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run the real ``glancedb`` console script and capture its output."""
    return subprocess.run(
        [console_script(), *args],
        capture_output=True,
        text=True,
        env=process_env(env),
        timeout=timeout,
        cwd=cwd,
    )
