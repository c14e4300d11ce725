"""glancedb purge commands: ``db purge`` and ``db purge-images-table``.

Each shows its progress on stderr (a bar on a terminal, one line per batch
otherwise) and ends with a summary table on stdout.  Bad arguments and
database errors exit non-zero with one ``Error:`` line; rows of batches
already committed stay purged.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Protocol

import click

from glancedb.cli.base import CLIState, echo_table, handle_errors, pass_state
from glancedb.context import get_admin_context
from glancedb.purge import IMAGES_SKIPPED, ProgressCallback


class _PurgeCall(Protocol):
    def __call__(
        self,
        context: Any,
        age_in_days: int,
        max_rows: int,
        *,
        dry_run: bool = ...,
        progress: ProgressCallback | None = ...,
    ) -> dict[str, int]: ...


def _purge_options(command: Callable[..., Any]) -> Callable[..., Any]:
    command = click.option(
        "--dry-run",
        is_flag=True,
        help="Count the rows that would be purged; delete nothing.",
    )(command)
    command = click.option(
        "--max-rows",
        type=int,
        default=100,
        show_default=True,
        help="Most rows to purge per table; -1 for no limit.",
    )(command)
    command = click.option(
        "--age-in-days",
        type=int,
        default=30,
        show_default=True,
        help="Purge rows soft-deleted more than this many days ago.",
    )(command)
    return command


@contextmanager
def _progress_display(total: int) -> Iterator[ProgressCallback]:
    """A progress callback: a bar on a terminal, else a line per batch."""
    if sys.stderr.isatty():
        with click.progressbar(length=total, label="Purging", file=sys.stderr) as bar:

            def advance(_table: str, rows: int) -> None:
                bar.update(rows)

            yield advance
        return
    done: dict[str, int] = {}

    def report(table: str, rows: int) -> None:
        done[table] = done.get(table, 0) + rows
        click.echo(f"{table}: purged {rows} row(s), {done[table]} so far", err=True)

    yield report


def _run(purge: _PurgeCall, age_in_days: int, max_rows: int, dry_run: bool) -> dict[str, int]:
    context = get_admin_context()
    if dry_run:
        return purge(context, age_in_days, max_rows, dry_run=True)
    # The dry run's counts size the progress bar; they also validate the
    # arguments before anything is deleted.
    planned = purge(context, age_in_days, max_rows, dry_run=True)
    total = sum(v for k, v in planned.items() if k != IMAGES_SKIPPED)
    with _progress_display(total) as progress:
        return purge(context, age_in_days, max_rows, progress=progress)


def _summarise(result: dict[str, int], dry_run: bool) -> None:
    skipped = result.get(IMAGES_SKIPPED)
    rows = [
        [table, count, skipped if table == "images" else ""]
        for table, count in result.items()
        if table != IMAGES_SKIPPED
    ]
    header = "Would delete" if dry_run else "Rows deleted"
    echo_table(["Table", header, "Skipped"], rows)
    if skipped:
        click.echo(
            f"{skipped} deleted image(s) are still referenced by other rows and were kept; "
            "run 'glancedb db purge' first.",
            err=True,
        )


@click.command("purge")
@_purge_options
@pass_state
@handle_errors
def purge_command(state: CLIState, age_in_days: int, max_rows: int, dry_run: bool) -> None:
    """Purge rows soft-deleted more than AGE-IN-DAYS days ago (all but images).

    Tasks with their info, image properties, locations, members and tags;
    oldest first, at most MAX-ROWS per table, in short batches.
    """
    result = _run(state.database.purge_deleted_rows, age_in_days, max_rows, dry_run)
    _summarise(result, dry_run)


@click.command("purge-images-table")
@_purge_options
@pass_state
@handle_errors
def purge_images_command(state: CLIState, age_in_days: int, max_rows: int, dry_run: bool) -> None:
    """Purge images soft-deleted more than AGE-IN-DAYS days ago.

    Run 'glancedb db purge' first: images other rows still refer to are
    skipped and counted.
    """
    result = _run(state.database.purge_deleted_rows_from_images, age_in_days, max_rows, dry_run)
    _summarise(result, dry_run)
