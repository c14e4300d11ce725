"""glancedb purge commands: ``db purge`` and ``db purge-images-table``.

Each shows its progress on stderr (a bar on a terminal, one line per batch
otherwise) and ends with a summary table on stdout.  Every batch commits on
its own, so an interrupted purge (Ctrl-C) keeps what it deleted: the summary
then says so, and the command exits 130.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Protocol

import click

from glancedb.cli.base import CLIState, Interrupted, echo_table, pass_state
from glancedb.context import get_admin_context
from glancedb.purge import IMAGES_SKIPPED, PURGE_BATCH_SIZE, ProgressCallback


class _PurgeCall(Protocol):
    def __call__(
        self,
        context: Any,
        age_in_days: int,
        max_rows: int,
        *,
        dry_run: bool = ...,
        progress: ProgressCallback | None = ...,
        batch_size: int = ...,
    ) -> dict[str, int]: ...


def _purge_options(command: Callable[..., Any]) -> Callable[..., Any]:
    command = click.option(
        "--dry-run",
        is_flag=True,
        help="Count the rows that would be purged; delete nothing.",
    )(command)
    command = click.option(
        "--batch-size",
        type=click.IntRange(min=1),
        default=PURGE_BATCH_SIZE,
        help="Rows deleted per transaction (each batch commits on its own).",
    )(command)
    command = click.option(
        "--max-rows",
        type=int,
        default=100,
        help="Most rows to purge per table; -1 for no limit.",
    )(command)
    command = click.option(
        "--age-in-days",
        type=int,
        default=30,
        help="Purge rows soft-deleted more than this many days ago.",
    )(command)
    return command


@contextmanager
def _progress_display(total: int, done: dict[str, int]) -> Iterator[ProgressCallback]:
    """A progress callback counting into ``done``: a bar on a terminal, else a line per batch."""
    if sys.stderr.isatty():
        with click.progressbar(length=total, label="Purging", file=sys.stderr) as bar:

            def advance(table: str, rows: int) -> None:
                done[table] = done.get(table, 0) + rows
                bar.update(rows)

            yield advance
        return

    def report(table: str, rows: int) -> None:
        done[table] = done.get(table, 0) + rows
        click.echo(f"{table}: purged {rows} row(s), {done[table]} so far", err=True)

    yield report


def _run(
    purge: _PurgeCall, age_in_days: int, max_rows: int, batch_size: int, dry_run: bool
) -> dict[str, int]:
    context = get_admin_context()
    if dry_run:
        return purge(context, age_in_days, max_rows, dry_run=True, batch_size=batch_size)
    # The dry run's counts size the progress bar; they also validate the
    # arguments before anything is deleted.
    planned = purge(context, age_in_days, max_rows, dry_run=True, batch_size=batch_size)
    total = sum(v for k, v in planned.items() if k != IMAGES_SKIPPED)
    done: dict[str, int] = {}
    try:
        with _progress_display(total, done) as progress:
            return purge(context, age_in_days, max_rows, progress=progress, batch_size=batch_size)
    except KeyboardInterrupt:
        click.echo("", err=True)
        echo_table(["Table", "Rows deleted"], [[table, n] for table, n in done.items()])
        click.echo(
            f"Interrupted: {sum(done.values())} row(s) already purged stay purged"
            " (each batch commits); run the command again to continue.",
            err=True,
        )
        raise Interrupted from None


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


@click.command("purge", short_help="Purge old soft-deleted rows (all but images).")
@_purge_options
@pass_state
def purge_command(
    state: CLIState, age_in_days: int, max_rows: int, batch_size: int, dry_run: bool
) -> None:
    """Purge rows soft-deleted more than AGE-IN-DAYS days ago, except images.

    Tasks with their info, image properties, locations, members and tags;
    oldest first, at most MAX-ROWS per table, in batches that each commit.
    """
    database = state.open(write=not dry_run)
    result = _run(database.purge_deleted_rows, age_in_days, max_rows, batch_size, dry_run)
    _summarise(result, dry_run)


@click.command("purge-images-table", short_help="Purge old soft-deleted images.")
@_purge_options
@pass_state
def purge_images_command(
    state: CLIState, age_in_days: int, max_rows: int, batch_size: int, dry_run: bool
) -> None:
    """Purge images soft-deleted more than AGE-IN-DAYS days ago.

    Run 'glancedb db purge' first: images other rows still refer to are
    skipped and counted.
    """
    database = state.open(write=not dry_run)
    result = _run(
        database.purge_deleted_rows_from_images, age_in_days, max_rows, batch_size, dry_run
    )
    _summarise(result, dry_run)
