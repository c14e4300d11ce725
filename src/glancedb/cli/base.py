"""The ``glancedb`` command, database-URL resolution and the error edge.

Commands are thin: each resolves the database once and calls one library
method.  Every glancedb error is turned into one ``Error: ...`` line on
stderr and a non-zero exit status; no traceback reaches the user.
"""

from __future__ import annotations

import configparser
import functools
import os
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

import click

from glancedb.database import Database
from glancedb.engines import DEFAULT_URL_ENV, EMBEDDED_URL
from glancedb.exception import DBConfigurationError, GlanceDBError

P = ParamSpec("P")
R = TypeVar("R")


def url_from_config_file(path: str) -> str:
    """The ``[database] connection`` URL of a glance-api.conf style file."""
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    try:
        with open(path, encoding="utf-8") as handle:
            parser.read_file(handle)
    except OSError as exc:
        raise DBConfigurationError(f"Cannot read config file {path!r}: {exc.strerror}") from None
    except configparser.Error as exc:
        raise DBConfigurationError(f"Cannot parse config file {path!r}: {exc}") from None
    url = parser.get("database", "connection", fallback=None)
    if not url:
        raise DBConfigurationError(f"Config file {path!r} has no [database] connection")
    return url


def resolve_url(db_url: str | None, config_file: str | None) -> str:
    """``--db-url``, else ``GLANCEDB_DATABASE_URL``, else ``--config-file``, else embedded."""
    if db_url:
        return db_url
    env = os.environ.get(DEFAULT_URL_ENV)
    if env:
        return env
    if config_file:
        return url_from_config_file(config_file)
    return EMBEDDED_URL


class CLIState:
    """What the top-level options resolved to; the Database is opened lazily."""

    def __init__(self, db_url: str | None, config_file: str | None) -> None:
        self.db_url = db_url
        self.config_file = config_file
        self._database: Database | None = None

    @property
    def url(self) -> str:
        return resolve_url(self.db_url, self.config_file)

    @property
    def database(self) -> Database:
        if self._database is None:
            self._database = Database(self.url)
        return self._database

    def close(self) -> None:
        if self._database is not None:
            self._database.dispose()


def handle_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Turn glancedb errors raised by ``command`` into one line and exit 1."""

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except GlanceDBError as exc:
            # One line, whatever the driver's message spans.
            message = " ".join(f"{type(exc).__name__}: {exc.msg}".split())
            raise click.ClickException(message) from None

    return wrapper


pass_state = click.make_pass_decorator(CLIState)


@click.group()
@click.option(
    "--db-url",
    metavar="URL",
    help=f"Database URL (default: ${DEFAULT_URL_ENV}, --config-file, or {EMBEDDED_URL}).",
)
@click.option(
    "--config-file",
    metavar="FILE",
    type=click.Path(dir_okay=False),
    help="A glance-api.conf whose [database] connection names the database.",
)
@click.version_option(package_name="glancedb")
@click.pass_context
def main(ctx: click.Context, db_url: str | None, config_file: str | None) -> None:
    """glancedb: the Glance image-metadata database."""
    state = CLIState(db_url, config_file)
    ctx.obj = state
    ctx.call_on_close(state.close)


def echo_table(headers: list[str], rows: list[list[Any]]) -> None:
    """Print ``rows`` as a plain aligned text table."""
    cells = [[("" if v is None else str(v)) for v in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in cells:
        for i, value in enumerate(row):
            widths[i] = max(widths[i], len(value))
    line = "  ".join(h.ljust(widths[i]) for i, h in enumerate(headers))
    click.echo(line.rstrip())
    click.echo("  ".join("-" * w for w in widths))
    for row in cells:
        click.echo("  ".join(v.ljust(widths[i]) for i, v in enumerate(row)).rstrip())
