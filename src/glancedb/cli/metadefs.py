"""``glancedb metadefs ...``: load, unload and export the metadata definitions."""

from __future__ import annotations

from collections.abc import Callable

import click

from glancedb.cli.base import CLIState, echo_table, pass_state
from glancedb.metadefs.loader import (
    NamespaceResult,
    export_metadefs,
    load_metadefs,
    unload_metadefs,
)


@click.group("metadefs", short_help="Load, unload and export metadata definitions.")
def metadefs_group() -> None:
    """Load, unload and export metadata-definition namespaces (Glance's catalogue files)."""


def _progress(prefix: str) -> Callable[[NamespaceResult], None]:
    """Report each file on stderr as it is done; a failure is reported here only."""

    def report(result: NamespaceResult) -> None:
        if result.failed:
            click.echo(f"{prefix}FAILED      {result.file}: {result.error}", err=True)
        else:
            click.echo(f"{prefix}{result.action:<11} {result.file} ({result.namespace})", err=True)

    return report


@metadefs_group.command("load", short_help="Load namespace files from a directory.")
@click.option(
    "--path",
    required=True,
    metavar="DIR",
    help="Directory of namespace JSON files (Glance's etc/metadefs).",
)
@click.option("--merge", is_flag=True, help="Add new definitions to existing namespaces.")
@click.option(
    "--prefer-new", is_flag=True, help="With --merge: replace existing definitions by the file's."
)
@click.option(
    "--overwrite", is_flag=True, help="With --merge: delete a namespace's content and reload it."
)
@click.option(
    "--dry-run", is_flag=True, help="Check the files and report what would change; write nothing."
)
@pass_state
def load(
    state: CLIState, path: str, merge: bool, prefer_new: bool, overwrite: bool, dry_run: bool
) -> None:
    """Load metadata-definition namespace files, one transaction per file.

    A broken file is reported (once, with its error) and loads nothing; the
    others load; the command then exits 1.
    """
    summary = load_metadefs(
        state.open(write=True),  # a dry run writes too, then rolls each file back
        path,
        merge=merge,
        prefer_new=prefer_new,
        overwrite=overwrite,
        dry_run=dry_run,
        progress=_progress("[dry run] " if dry_run else ""),
    )
    echo_table(
        ["file", "namespace", "result", "created", "updated", "skipped", "deleted"],
        [
            [r.file, r.namespace, r.action, r.created, r.updated, r.skipped, r.deleted]
            for r in summary
        ],
    )
    verb = "would be loaded (dry run, nothing written)" if dry_run else "loaded"
    click.echo(
        f"\n{len(summary) - len(summary.failures)} of {len(summary)} files {verb}: "
        + ", ".join(
            f"{summary.count(action)} {action}"
            for action in ("created", "merged", "overwritten", "skipped")
        )
    )
    if summary.failures:
        raise click.ClickException(
            f"{len(summary.failures)} of {len(summary)} files failed (reported above)"
        )


@metadefs_group.command("unload", short_help="Delete every metadata definition.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@pass_state
def unload(state: CLIState, yes: bool) -> None:
    """Delete every metadata definition (namespaces, resource types, ...).

    Asks for confirmation unless --yes.
    """
    database = state.open(write=True)
    if not yes:
        try:
            confirmed = click.confirm(
                "Delete every metadata definition from the database?", default=False, err=True
            )
        except click.Abort:
            confirmed = False
        if not confirmed:
            raise click.ClickException("Nothing deleted (confirm, or pass --yes)")
    counts = unload_metadefs(database)
    echo_table(["table", "rows deleted"], [[name, n] for name, n in counts.items()])


@metadefs_group.command("export", short_help="Write one JSON file per namespace.")
@click.option("--path", required=True, metavar="DIR", help="Directory to write the files into.")
@pass_state
def export(state: CLIState, path: str) -> None:
    """Write one JSON file per namespace, in the format load reads."""
    written = export_metadefs(state.open(write=False), path)
    for file_path in written:
        click.echo(f"exported {file_path}")
    click.echo(f"{len(written)} namespaces exported to {path}")
