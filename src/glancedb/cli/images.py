"""``glancedb image ...``: list, show, create and delete images as an admin (SPEC 14)."""

from __future__ import annotations

import datetime
import json
from collections.abc import Mapping, Sequence
from typing import Any

import click

from glancedb.cli.base import CLIState, echo_table, handle_errors, pass_state
from glancedb.context import get_admin_context
from glancedb.records import Record

LIST_COLUMNS = ("id", "name", "status", "visibility", "owner", "size", "disk_format", "created_at")
VISIBILITY_CHOICES = ("public", "private", "shared", "community", "all")
FORMAT_OPTION = click.option(
    "--format",
    "output_format",
    type=click.Choice(["table", "json"]),
    default="table",
    show_default=True,
    help="Output format.",
)


@click.group("image")
def image_group() -> None:
    """Inspect and edit images (as an admin)."""


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime.datetime | datetime.date):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    raise TypeError(f"cannot encode {type(value).__name__} as JSON")


def echo_json(value: Any) -> None:
    """Print ``value`` as indented JSON (datetimes as ISO-8601 strings)."""
    click.echo(json.dumps(value, default=_json_default, indent=2, sort_keys=True))


def parse_pairs(pairs: Sequence[str], option: str) -> dict[str, str]:
    """``["k=v", ...]`` as a dict; an item without ``=`` is a usage error."""
    result: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"expected KEY=VALUE, got {pair!r}", param_hint=option)
        result[key] = value
    return result


def parse_sort(items: Sequence[str]) -> tuple[list[str] | None, list[str] | None]:
    """``["key[:dir]", ...]`` as (sort_key, sort_dir) for image_get_all."""
    if not items:
        return None, None
    keys: list[str] = []
    dirs: list[str] = []
    for item in items:
        key, _, direction = item.partition(":")
        keys.append(key)
        dirs.append(direction or "desc")
    return keys, dirs


def _cell(value: Any) -> Any:
    if isinstance(value, datetime.datetime):
        return value.isoformat(sep=" ")
    return value


def echo_image(image: Mapping[str, Any], output_format: str) -> None:
    """Print one image: a field/value table, or JSON."""
    if output_format == "json":
        echo_json(image)
        return
    rows: list[list[Any]] = [
        [key, _cell(value)]
        for key, value in image.items()
        if key not in ("properties", "locations", "tags")
    ]
    for prop in image.get("properties", []):
        if not prop["deleted"]:
            rows.append([f"property {prop['name']}", prop["value"]])
    for location in image.get("locations", []):
        rows.append(["location", f"{location['url']} ({location['status']})"])
    if "tags" in image:
        rows.append(["tags", ", ".join(image["tags"])])
    echo_table(["field", "value"], rows)


@image_group.command("list")
@click.option("--owner", help="Only images of this owner (project).")
@click.option(
    "--visibility",
    type=click.Choice(VISIBILITY_CHOICES),
    default="all",
    show_default=True,
    help="Only images with this visibility.",
)
@click.option("--status", help="Only images in this status (or in:a,b).")
@click.option("--property", "properties", multiple=True, metavar="KEY=VALUE", help="Repeatable.")
@click.option("--tag", "tags", multiple=True, metavar="TAG", help="Repeatable: every tag.")
@click.option("--sort", "sort", multiple=True, metavar="KEY[:asc|desc]", help="Repeatable.")
@click.option("--limit", type=click.IntRange(min=0), help="At most this many images.")
@click.option("--marker", metavar="ID", help="Start after this image.")
@click.option("--include-deleted", is_flag=True, help="Also list soft-deleted images.")
@FORMAT_OPTION
@pass_state
@handle_errors
def list_images(
    state: CLIState,
    owner: str | None,
    visibility: str,
    status: str | None,
    properties: tuple[str, ...],
    tags: tuple[str, ...],
    sort: tuple[str, ...],
    limit: int | None,
    marker: str | None,
    include_deleted: bool,
    output_format: str,
) -> None:
    """List images (as an admin), newest first."""
    filters: dict[str, Any] = {"visibility": visibility}
    if not include_deleted:
        filters["deleted"] = False
    if owner is not None:
        filters["owner"] = owner
    if status is not None:
        filters["status"] = status
    if properties:
        filters["properties"] = parse_pairs(properties, "--property")
    if tags:
        filters["tags"] = list(tags)
    sort_key, sort_dir = parse_sort(sort)
    images = state.database.image_get_all(
        get_admin_context(),
        filters=filters,
        marker=marker,
        limit=limit,
        sort_key=sort_key,
        sort_dir=sort_dir,
        return_tag=output_format == "json",
    )
    if output_format == "json":
        echo_json(images)
        return
    echo_table(
        list(LIST_COLUMNS),
        [[_cell(image[column]) for column in LIST_COLUMNS] for image in images],
    )


@image_group.command("show")
@click.argument("image_id")
@FORMAT_OPTION
@pass_state
@handle_errors
def show_image(state: CLIState, image_id: str, output_format: str) -> None:
    """Show one image with its properties, locations and tags."""
    context = get_admin_context()
    database = state.database

    @database.transaction(write=False)
    def read() -> Record:
        image = database.image_get(context, image_id, force_show_deleted=True)
        image["tags"] = database.image_tag_get_all(context, image_id)
        return image

    echo_image(read(), output_format)


@image_group.command("create")
@click.option("--id", "image_id", metavar="ID", help="The new image's id (default: a UUID).")
@click.option("--name", help="The image's name.")
@click.option("--status", default="queued", show_default=True, help="The image's status.")
@click.option(
    "--visibility",
    type=click.Choice(VISIBILITY_CHOICES[:-1]),
    default="shared",
    show_default=True,
    help="Who may see the image.",
)
@click.option("--disk-format", help="Disk format (qcow2, raw, ...).")
@click.option("--container-format", help="Container format (bare, ovf, ...).")
@click.option("--owner", help="The owning project.")
@click.option("--size", type=int, help="Size in bytes.")
@click.option("--min-disk", type=int, help="Minimum disk size (GB) to boot it.")
@click.option("--min-ram", type=int, help="Minimum RAM (MB) to boot it.")
@click.option("--protected", is_flag=True, help="Protect the image from deletion.")
@click.option("--property", "properties", multiple=True, metavar="KEY=VALUE", help="Repeatable.")
@click.option("--tag", "tags", multiple=True, metavar="TAG", help="Repeatable.")
@click.option("--location", "locations", multiple=True, metavar="URL", help="Repeatable.")
@FORMAT_OPTION
@pass_state
@handle_errors
def create_image(
    state: CLIState,
    image_id: str | None,
    name: str | None,
    status: str,
    visibility: str,
    disk_format: str | None,
    container_format: str | None,
    owner: str | None,
    size: int | None,
    min_disk: int | None,
    min_ram: int | None,
    protected: bool,
    properties: tuple[str, ...],
    tags: tuple[str, ...],
    locations: tuple[str, ...],
    output_format: str,
) -> None:
    """Create an image (with its properties, tags and locations) and print it."""
    values: dict[str, Any] = {"status": status, "visibility": visibility, "protected": protected}
    optional = {
        "id": image_id,
        "name": name,
        "disk_format": disk_format,
        "container_format": container_format,
        "owner": owner,
        "size": size,
        "min_disk": min_disk,
        "min_ram": min_ram,
    }
    values.update({key: value for key, value in optional.items() if value is not None})
    if properties:
        values["properties"] = parse_pairs(properties, "--property")
    if locations:
        values["locations"] = [
            {"url": url, "metadata": {}, "status": "active"} for url in locations
        ]
    context = get_admin_context()
    database = state.database

    # One transaction, retried as a whole: the image and its tags are
    # created together or not at all.
    @database.transaction()
    def create() -> Record:
        image = database.image_create(context, values)
        if tags:
            database.image_tag_set_all(context, image["id"], list(tags))
        image["tags"] = database.image_tag_get_all(context, image["id"])
        return image

    echo_image(create(), output_format)


@image_group.command("delete")
@click.argument("image_id")
@pass_state
@handle_errors
def delete_image(state: CLIState, image_id: str) -> None:
    """Soft-delete an image (and its properties, members, tags, locations)."""
    image = state.database.image_destroy(get_admin_context(), image_id)
    click.echo(f"Deleted image {image['id']}")
