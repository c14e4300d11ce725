"""The ``glancedb`` command: global options, opening the database, the error edge.

Commands are thin: each opens the database once (:meth:`CLIState.open`,
read-only unless it writes) and calls one library function or
:class:`~glancedb.Database` method.  Every failure reaches the user as one
``Error: ...`` line on stderr (``--debug`` adds the traceback): exit status
1 for errors, 2 for usage errors (click's), 130 after Ctrl-C, and 0 when the
reader of the output went away (``glancedb image list | head``).
"""

from __future__ import annotations

import logging
import os
import sys
import traceback
from collections.abc import Callable, Iterator
from typing import Any

import click

from glancedb import config, migration
from glancedb.config import DatabaseSettings, resolve_database_settings
from glancedb.database import Database
from glancedb.engines import DEFAULT_URL_ENV, EMBEDDED_URL, read_only_url, sqlite_file
from glancedb.exception import DBConfigurationError, GlanceDBError
from glancedb.records import Record

#: Exit status after Ctrl-C (128 + SIGINT), as shells report it.
EXIT_INTERRUPTED = 130

#: Settings every command inherits: ``-h``, defaults shown in help, width.
CONTEXT_SETTINGS: dict[str, Any] = {
    "help_option_names": ["-h", "--help"],
    "show_default": True,
    "max_content_width": 100,
}

LOG = logging.getLogger("glancedb")


class Interrupted(Exception):
    """Ctrl-C during a command that already did part of its work.

    Raised by a command after it printed what it had done; the error edge
    then exits with :data:`EXIT_INTERRUPTED` without another message.
    """


def one_line(text: str) -> str:
    """``text`` with every run of whitespace (newlines included) as one space."""
    return " ".join(str(text).split())


class _ClickEcho(logging.Handler):
    """Log records as lines on stderr, through click (so tests capture them)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            click.echo(self.format(record), err=True)
        except Exception:  # pragma: no cover - logging must never raise
            self.handleError(record)


def configure_logging(verbose: int, debug: bool) -> None:
    """Show glancedb's log on stderr: errors only by default.

    ``-v`` adds warnings and progress notes (retries of transient database
    errors among them), ``-vv`` and ``--debug`` everything.
    """
    level = logging.ERROR
    if verbose == 1:
        level = logging.INFO
    elif verbose >= 2 or debug:
        level = logging.DEBUG
    for handler in list(LOG.handlers):
        if isinstance(handler, _ClickEcho):
            LOG.removeHandler(handler)
    handler = _ClickEcho()
    handler.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
    LOG.addHandler(handler)
    LOG.setLevel(level)
    LOG.propagate = False


class CLIState:
    """What the global options resolved to; databases are opened on demand."""

    def __init__(
        self,
        db_url: str | None,
        config_files: tuple[str, ...] = (),
        config_dir: str | None = None,
        *,
        debug: bool = False,
    ) -> None:
        self.db_url = db_url
        self.config_files = config_files
        self.config_dir = config_dir
        self.debug = debug
        self._settings: DatabaseSettings | None = None
        self._databases: list[Database] = []

    @property
    def settings(self) -> DatabaseSettings:
        """The database settings, resolved once (SPEC 14 precedence)."""
        if self._settings is None:
            self._settings = resolve_database_settings(
                db_url=self.db_url,
                config_files=self.config_files,
                config_dir=self.config_dir,
                glance_conf=config.GLANCE_API_CONF,
            )
        return self._settings

    def open(
        self,
        *,
        write: bool,
        create: bool = False,
        check_schema: bool = True,
        url: str | None = None,
    ) -> Database:
        """Open the database for one command.

        :param write: whether the command writes; a read-only command opens
            a SQLite file read-only (it never creates nor changes it).
        :param create: whether the command may create a missing SQLite file
            (``db sync``); otherwise a missing file is an error saying so.
        :param check_schema: whether to refuse, with advice, a database that
            is empty, foreign or not adopted (every command but ``db ...``).
        :param url: another URL than the configured one (``db copy``).
        """
        if url is None:
            settings = self.settings
        else:
            settings = DatabaseSettings(url=url, read_url=None, source="the command line")
        path = sqlite_file(settings.url)
        if path is not None and not path.exists():
            if not create:
                raise DBConfigurationError(
                    f"The SQLite database {str(path)!r} (from {settings.source}) does not exist:"
                    " run 'glancedb db sync' to create it"
                )
            if not path.absolute().parent.is_dir():
                raise DBConfigurationError(
                    f"Cannot create the SQLite database {str(path)!r} (from {settings.source}):"
                    f" the directory {str(path.absolute().parent)!r} does not exist"
                )
        target: Any = settings.url
        if not write:
            target = read_only_url(settings.url)
        database = Database(target, read_url=settings.read_url)
        self._databases.append(database)
        if check_schema:
            warning = migration.require_usable(database.engine)
            if warning is not None:
                click.echo(f"Warning: {warning}", err=True)
        return database

    def close(self) -> None:
        for database in self._databases:
            database.dispose()
        self._databases.clear()


pass_state = click.make_pass_decorator(CLIState)


def _quiet_stdout() -> None:
    """Point stdout at /dev/null: the reader is gone, and the final flush must not fail."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # no real file descriptor (tests)
        pass


class GlanceDBGroup(click.Group):
    """The top-level group: the one place errors become a line and an exit status."""

    def invoke(self, ctx: click.Context) -> Any:
        debug = bool(ctx.params.get("debug"))
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.ClickException):
            raise
        except click.Abort:
            raise
        except Interrupted:
            raise click.exceptions.Exit(EXIT_INTERRUPTED) from None
        except KeyboardInterrupt:
            click.echo("\nInterrupted.", err=True)
            raise click.exceptions.Exit(EXIT_INTERRUPTED) from None
        except BrokenPipeError:  # Python's OSError for EPIPE, whatever raised it
            _quiet_stdout()
            raise click.exceptions.Exit(0) from None
        except OSError as exc:
            if debug:
                traceback.print_exc()
            raise click.ClickException(one_line(f"{exc}")) from None
        except GlanceDBError as exc:
            if debug:
                traceback.print_exc()
            raise click.ClickException(one_line(f"{type(exc).__name__}: {exc.msg}")) from None
        except Exception as exc:
            if debug:
                traceback.print_exc()
                hint = ""
            else:
                hint = " (unexpected: run with --debug for the traceback)"
            raise click.ClickException(one_line(f"{type(exc).__name__}: {exc}") + hint) from None


def _nonempty_url(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    if value is not None and not value.strip():
        raise click.BadParameter("the URL is empty")
    return value


@click.group(
    cls=GlanceDBGroup,
    context_settings=CONTEXT_SETTINGS,
    short_help="Manage a Glance image-metadata database.",
)
@click.option(
    "--db-url",
    metavar="URL",
    callback=_nonempty_url,
    help=(
        "Database URL, e.g. postgresql://glance:PASS@db/glance. Overrides --config-file,"
        f" ${DEFAULT_URL_ENV}, /etc/glance/glance-api.conf and the default {EMBEDDED_URL}."
    ),
)
@click.option(
    "--config-file",
    "config_files",
    metavar="FILE",
    multiple=True,
    type=click.Path(dir_okay=False, path_type=str),
    help=(
        "A glance-api.conf: [database] connection is the URL, slave_connection the read"
        " replica. Repeatable: later files override earlier ones key by key."
    ),
)
@click.option(
    "--config-dir",
    metavar="DIR",
    type=click.Path(file_okay=False, path_type=str),
    help="Read the *.conf files of DIR too, in sorted order, after every --config-file.",
)
@click.option(
    "-v",
    "--verbose",
    count=True,
    show_default=False,
    help="Show warnings and progress notes (retries, skipped files); twice for debug output.",
)
@click.option("--debug", is_flag=True, help="Show debug output, and a traceback on errors.")
@click.version_option(package_name="glancedb", message="%(prog)s %(version)s")
@click.pass_context
def main(
    ctx: click.Context,
    db_url: str | None,
    config_files: tuple[str, ...],
    config_dir: str | None,
    verbose: int,
    debug: bool,
) -> None:
    """Manage an OpenStack Glance image-metadata database.

    The database is the first found of: --db-url; --config-file/--config-dir
    ([database] connection); $GLANCEDB_DATABASE_URL;
    /etc/glance/glance-api.conf; ./glancedb.sqlite.
    """
    configure_logging(verbose, debug)
    state = CLIState(db_url, config_files, config_dir, debug=debug)
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


def pages(
    fetch: Callable[[str | None, int], list[Record]],
    *,
    limit: int | None,
    page_size: int,
    marker: str | None = None,
) -> Iterator[list[Record]]:
    """The pages of a listing call, each starting after the previous page's last row.

    ``fetch(marker, size)`` returns one page; at most ``limit`` rows in all
    (None: every row), asked for ``page_size`` at a time.
    """
    remaining = limit
    while remaining is None or remaining > 0:
        size = page_size if remaining is None else min(page_size, remaining)
        page = fetch(marker, size)
        if page:
            yield page
        if len(page) < size:
            return
        marker = page[-1]["id"]
        if remaining is not None:
            remaining -= len(page)
