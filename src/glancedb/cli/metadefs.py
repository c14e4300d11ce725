"""glancedb metadefs commands: load, unload, export."""

from __future__ import annotations

from collections.abc import Callable

import click

from glancedb.cli.base import CLIState, echo_table, handle_errors, pass_state
from glancedb.metadefs.loader import (
    NamespaceResult,
    export_metadefs,
    load_metadefs,
    unload_metadefs,
)


@click.group("metadefs")
def metadefs_group() -> None:
    """Load, unload and export metadata-definition namespaces."""


def _progress(prefix: str) -> Callable[[NamespaceResult], None]:
    def report(result: NamespaceResult) -> None:
        if result.failed:
            click.echo(f"{prefix}FAILED      {result.file}: {result.error}", err=True)
        else:
            click.echo(f"{prefix}{result.action:<11} {result.file} ({result.namespace})")

    return report


@metadefs_group.command("load")
@click.option(
    "--path",
    required=True,
    metavar="DIR",
    help="Directory of namespace JSON files.",
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
@handle_errors
def load(
    state: CLIState, path: str, merge: bool, prefer_new: bool, overwrite: bool, dry_run: bool
) -> None:
    """Load metadata-definition namespace files (one transaction per file)."""
    summary = load_metadefs(
        state.database,
        path,
        merge=merge,
        prefer_new=prefer_new,
        overwrite=overwrite,
        dry_run=dry_run,
        progress=_progress("[dry run] " if dry_run else ""),
    )
    click.echo("")
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
        for failure in summary.failures:
            click.echo(f"Failed: {failure.file}: {failure.error}", err=True)
        raise click.ClickException(f"{len(summary.failures)} of {len(summary)} files failed")


@metadefs_group.command("unload")
@pass_state
@handle_errors
def unload(state: CLIState) -> None:
    """Delete every metadata definition (namespaces, resource types, ...)."""
    counts = unload_metadefs(state.database)
    echo_table(["table", "rows deleted"], [[name, n] for name, n in counts.items()])


@metadefs_group.command("export")
@click.option("--path", required=True, metavar="DIR", help="Directory to write the files into.")
@pass_state
@handle_errors
def export(state: CLIState, path: str) -> None:
    """Write one JSON file per namespace, in the format ``load`` reads."""
    written = export_metadefs(state.database, path)
    for file_path in written:
        click.echo(f"exported {file_path}")
    click.echo(f"{len(written)} namespaces exported to {path}")
