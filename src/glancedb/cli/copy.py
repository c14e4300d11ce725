"""``glancedb db copy SRC DST``: a whole Glance database, from one engine to another."""

from __future__ import annotations

import sys
from typing import Any

import click

from glancedb.cli.base import CLIState, Interrupted, echo_table, pass_state
from glancedb.copy import COPY_BATCH_SIZE, CopyProgress, copy_database, describe_failures


def _progress(done: dict[str, int]) -> CopyProgress:
    """Report each batch on stderr: a bar per table on a terminal, else a line."""
    bars: dict[str, Any] = {}
    interactive = sys.stderr.isatty()

    def report(table: str, copied: int, total: int) -> None:
        before = done.get(table, 0)
        done[table] = copied
        if interactive:
            bar = bars.get(table)
            if bar is None:
                bar = bars[table] = click.progressbar(
                    length=max(total, 1), label=f"{table:<32}", file=sys.stderr
                )
                bar.__enter__()
            bar.update(copied - before)
            if copied >= total:
                bar.__exit__(None, None, None)
        else:
            click.echo(f"{table}: {copied} of {total} rows copied", err=True)

    return report


@click.command("copy", short_help="Copy the whole database to another database.")
@click.argument("source", metavar="SRC")
@click.argument("target", metavar="DST")
@click.option("--force", is_flag=True, help="Empty a target that already holds rows first.")
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    default=COPY_BATCH_SIZE,
    help="Rows read and written per batch (each written in one transaction).",
)
@pass_state
def copy_command(state: CLIState, source: str, target: str, force: bool, batch_size: int) -> None:
    """Copy every row of the database at URL SRC into the database at URL DST.

    Any engine to any other (MySQL/MariaDB to PostgreSQL and back, or a
    SQLite snapshot of production for debugging).  DST gets glancedb's
    schema (db sync) and must hold no rows unless --force.  SRC is only
    read, in one snapshot; tables are copied parents first, in batches, then
    verified by row counts and checksums on both sides.
    """
    source_db = state.open(write=False, check_schema=False, url=source)
    target_db = state.open(write=True, create=True, check_schema=False, url=target)
    done: dict[str, int] = {}
    try:
        result = copy_database(
            source_db, target_db, force=force, batch_size=batch_size, progress=_progress(done)
        )
    except KeyboardInterrupt:
        click.echo("", err=True)
        echo_table(["Table", "Rows copied"], [[table, n] for table, n in done.items()])
        click.echo(
            "Interrupted: the target holds a partial copy; run the copy again with --force.",
            err=True,
        )
        raise Interrupted from None
    echo_table(
        ["Table", "Rows", "Verified"],
        [[t.table, t.source_rows, "yes" if t.verified else "NO"] for t in result.tables],
    )
    for note in result.notes:
        click.echo(f"Note: {note}", err=True)
    if not result.verified:
        raise click.ClickException(
            f"The copy does not match the source: {describe_failures(result)}"
        )
    emptied = f" (after deleting {result.emptied} rows there)" if result.emptied else ""
    click.echo(
        f"\nCopied {result.rows} rows in {len(result.tables)} tables{emptied};"
        " row counts and checksums match."
    )
