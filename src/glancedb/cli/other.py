"""``glancedb task ...``, ``glancedb usage`` and ``glancedb cache ...``: read-only views."""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from typing import Any

import click

from glancedb.cli.base import CLIState, pages, pass_state
from glancedb.cli.output import Output, output_options
from glancedb.context import get_admin_context
from glancedb.database import Database
from glancedb.records import Record
from glancedb.tasks import TASK_COLUMNS

TASK_LIST_COLUMNS = ("id", "type", "status", "owner", "expires_at", "created_at")
TASK_FIELDS = (*TASK_COLUMNS, "input", "result", "message")
DEFAULT_LIMIT = 25
PAGE_SIZE = 500


@click.group("task", short_help="List and show tasks (imports and other work).")
def task_group() -> None:
    """List and show Glance's tasks (image imports and other asynchronous work)."""


def task_pages(
    database: Database, filters: dict[str, Any], limit: int | None, sort_dir: str
) -> Iterator[list[Record]]:
    """Pages of ``task_get_all``, each starting after the previous one's last task."""
    context = get_admin_context()

    def fetch(after: str | None, size: int) -> list[Record]:
        return database.task_get_all(
            context, filters=filters, marker=after, limit=size, sort_dir=sort_dir
        )

    return pages(fetch, limit=limit, page_size=PAGE_SIZE)


@task_group.command("list", short_help="List tasks, newest first.")
@click.option("--owner", metavar="PROJECT", help="Only tasks of this project.")
@click.option("--status", help="Only tasks in this status (pending, processing, success, ...).")
@click.option("--type", "task_type", help="Only tasks of this type (import, ...).")
@click.option("--include-deleted", is_flag=True, help="Also list soft-deleted tasks.")
@click.option(
    "--limit", type=click.IntRange(min=0), default=DEFAULT_LIMIT, help="Print at most this many."
)
@click.option("--all", "all_tasks", is_flag=True, help="Print every task (no --limit).")
@click.option(
    "--sort-dir",
    type=click.Choice(("asc", "desc")),
    default="desc",
    help="Order by creation time, newest first (desc) or oldest first (asc).",
)
@output_options()
@pass_state
def task_list(
    state: CLIState,
    owner: str | None,
    status: str | None,
    task_type: str | None,
    include_deleted: bool,
    limit: int,
    all_tasks: bool,
    sort_dir: str,
    output_format: str,
    columns: tuple[str, ...],
    no_headers: bool,
) -> None:
    """List tasks (without their input and result), newest first."""
    filters: dict[str, Any] = {"owner": owner, "status": status, "type": task_type}
    if not include_deleted:
        filters["deleted"] = False
    database = state.open(write=False)
    listing = task_pages(database, filters, None if all_tasks else limit, sort_dir)
    Output(output_format, columns, no_headers).records(listing, TASK_LIST_COLUMNS, TASK_COLUMNS)


@task_group.command("show", short_help="Show a task with its input and result.")
@click.argument("task_id")
@output_options()
@pass_state
def task_show(
    state: CLIState, task_id: str, output_format: str, columns: tuple[str, ...], no_headers: bool
) -> None:
    """Show one task with its input, result and message (deleted ones too)."""
    task = state.open(write=False).task_get(get_admin_context(), task_id, force_show_deleted=True)
    Output(output_format, columns, no_headers).record(task, TASK_FIELDS)


USAGE_COLUMNS = ("owner", "images", "storage_bytes", "staging_bytes", "uploading")


@click.command("usage", short_help="Image count and storage used by projects.")
@click.argument("owners", nargs=-1, required=True, metavar="PROJECT...")
@output_options()
@pass_state
def usage_command(
    state: CLIState,
    owners: tuple[str, ...],
    output_format: str,
    columns: tuple[str, ...],
    no_headers: bool,
) -> None:
    """Print each project's image count and the storage its images use (Glance's quotas).

    images: images not killed or deleted; storage_bytes: sizes times live
    locations; staging_bytes: data being uploaded or imported; uploading:
    images being uploaded or imported.
    """
    database = state.open(write=False)
    context = get_admin_context()

    @database.transaction(write=False)
    def usage() -> list[dict[str, Any]]:
        return [
            {
                "owner": owner,
                "images": database.user_get_image_count(context, owner),
                "storage_bytes": database.user_get_storage_usage(context, owner),
                "staging_bytes": database.user_get_staging_usage(context, owner),
                "uploading": database.user_get_uploading_count(context, owner),
            }
            for owner in dict.fromkeys(owners)
        ]

    Output(output_format, columns, no_headers).records([usage()], USAGE_COLUMNS, USAGE_COLUMNS)


@click.group("cache", short_help="Image-cache records: nodes and cached images.")
def cache_group() -> None:
    """Glance's image-cache records: the cache nodes and the images cached on them."""


NODE_COLUMNS = ("node_reference_id", "node_reference_url", "cached_images", "total_size")
CACHED_COLUMNS = ("image_id", "size", "hits", "last_accessed", "last_modified", "checksum")


@cache_group.command("list", short_help="List cache nodes, or the images cached on one.")
@click.option("--node", metavar="URL", help="List the images cached on this node instead.")
@output_options()
@pass_state
def cache_list(
    state: CLIState,
    node: str | None,
    output_format: str,
    columns: tuple[str, ...],
    no_headers: bool,
) -> None:
    """List the cache nodes with their image counts, or (--node) the images cached on one.

    Times are printed as UTC (they are stored as POSIX timestamps).
    """
    database = state.open(write=False)
    context = get_admin_context()
    output = Output(output_format, columns, no_headers)
    if node is None:
        output.records([database.node_reference_get_all(context)], NODE_COLUMNS, NODE_COLUMNS)
        return
    cached = database.get_cached_images(context, node)
    rows = [_with_times(record) for record in cached]
    output.records([rows], CACHED_COLUMNS, ("id", *CACHED_COLUMNS))


def _with_times(record: Record) -> dict[str, Any]:
    shown = dict(record)
    for key in ("last_accessed", "last_modified"):
        shown[key] = datetime.datetime.fromtimestamp(record[key], datetime.UTC)
    return shown
