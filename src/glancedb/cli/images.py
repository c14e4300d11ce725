"""``glancedb image ...``: images as Glance's API treats them, as an admin.

The library keeps Glance's *driver* semantics (it stores any format, deletes
a protected image, lets an admin read a deleted one); these commands add
what Glance's API layer adds on top: formats and sizes are validated with
Glance's defaults, a protected image cannot be deleted, a deleted image's
status becomes ``deleted`` and it is then not found (``image show
--show-deleted`` still shows it).  Work spanning several library calls runs
in one :meth:`~glancedb.Database.transaction`, retried as a whole.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, TypeVar

import click

from glancedb.cli.base import CLIState, pages, pass_state
from glancedb.cli.output import Output, output_options
from glancedb.context import get_admin_context
from glancedb.database import Database
from glancedb.exception import Forbidden, ImageNotFound, NotFound
from glancedb.images.records import IMAGE_COLUMNS
from glancedb.records import Record
from glancedb.validation import IMAGE_STATUSES, MEMBER_STATUSES

#: Glance's API defaults (``[image_format] disk_formats`` / ``container_formats``).
DISK_FORMATS = ("ami", "ari", "aki", "vhd", "vhdx", "vmdk", "raw", "qcow2", "vdi", "iso", "ploop")
CONTAINER_FORMATS = ("ami", "ari", "aki", "bare", "ovf", "ova", "docker", "compressed")
VISIBILITIES = ("public", "private", "shared", "community")
STATUSES = tuple(sorted(IMAGE_STATUSES))

LIST_COLUMNS = ("id", "name", "status", "visibility", "owner", "size", "disk_format", "created_at")
#: The fields of an image as printed: its columns, live properties (name ->
#: value), locations and tags.
IMAGE_FIELDS = (*IMAGE_COLUMNS, "properties", "locations", "tags")
#: ``image list`` prints this many images unless told otherwise.
DEFAULT_LIMIT = 25
#: Images fetched per query while streaming a listing.
PAGE_SIZE = 500

FC = TypeVar("FC", bound=Callable[..., Any])

MAX_INT32 = 2**31 - 1
MAX_INT64 = 2**63 - 1


def image_view(image: Mapping[str, Any]) -> dict[str, Any]:
    """An image as printed: live properties as a ``name -> value`` dict (as Glance's API)."""
    view = {key: image[key] for key in IMAGE_COLUMNS if key in image}
    view["properties"] = {
        prop["name"]: prop["value"] for prop in image.get("properties", []) if not prop["deleted"]
    }
    view["locations"] = [
        {
            "id": location.get("id"),
            "url": location["url"],
            "metadata": location["metadata"],
            "status": location["status"],
        }
        for location in image.get("locations", [])
    ]
    if "tags" in image:
        view["tags"] = list(image["tags"])
    return view


def live_image(
    database: Database, context: Any, image_id: str, *, show_deleted: bool = False
) -> Record:
    """The image, or ImageNotFound when it is deleted (as Glance's API, unless asked)."""
    image = database.image_get(context, image_id, force_show_deleted=show_deleted)
    if image["deleted"] and not show_deleted:
        raise ImageNotFound(f"No image found with ID {image_id}")
    return image


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


def _size(name: str, maximum: int) -> Any:
    return click.option(
        name,
        type=click.IntRange(0, maximum),
        help={
            "--size": "Size of the image data in bytes.",
            "--virtual-size": "Virtual size of the disk in bytes.",
            "--min-disk": "Disk space (GB) needed to boot the image.",
            "--min-ram": "RAM (MB) needed to boot the image.",
        }[name],
    )


def _image_value_options(*, create: bool) -> Callable[[FC], FC]:
    """The options setting image columns, shared by create and update."""

    def decorate(command: FC) -> FC:
        options = [
            click.option("--name", help="The image's name."),
            click.option(
                "--disk-format",
                type=click.Choice(DISK_FORMATS),
                help="Disk format (Glance's defaults).",
            ),
            click.option(
                "--container-format",
                type=click.Choice(CONTAINER_FORMATS),
                help="Container format (Glance's defaults).",
            ),
            click.option("--owner", metavar="PROJECT", help="The owning project's id."),
            _size("--size", MAX_INT64),
            _size("--virtual-size", MAX_INT64),
            _size("--min-disk", MAX_INT32),
            _size("--min-ram", MAX_INT32),
        ]
        if create:
            options += [
                click.option(
                    "--status",
                    type=click.Choice(STATUSES),
                    default="queued",
                    help="The image's status.",
                ),
                click.option(
                    "--visibility",
                    type=click.Choice(VISIBILITIES),
                    default="shared",
                    help="Who may see the image.",
                ),
                click.option("--protected", is_flag=True, help="Protect the image from deletion."),
                click.option("--hidden", is_flag=True, help="Hide the image from default lists."),
            ]
        else:
            options += [
                click.option(
                    "--status", type=click.Choice(STATUSES), help="Set the image's status."
                ),
                click.option(
                    "--visibility", type=click.Choice(VISIBILITIES), help="Who may see the image."
                ),
                click.option(
                    "--protected/--unprotected",
                    default=None,
                    show_default=False,
                    help="Protect the image from deletion, or lift the protection.",
                ),
                click.option(
                    "--hidden/--unhidden",
                    default=None,
                    show_default=False,
                    help="Hide the image from default lists, or show it again.",
                ),
            ]
        for option in reversed(options):
            command = option(command)
        return command

    return decorate


def _column_values(params: Mapping[str, Any]) -> dict[str, Any]:
    """The image columns among a command's parameters (the ones given)."""
    names = {
        "name": "name",
        "disk_format": "disk_format",
        "container_format": "container_format",
        "owner": "owner",
        "size": "size",
        "virtual_size": "virtual_size",
        "min_disk": "min_disk",
        "min_ram": "min_ram",
        "status": "status",
        "visibility": "visibility",
        "protected": "protected",
        "hidden": "os_hidden",
    }
    return {column: params[key] for key, column in names.items() if params.get(key) is not None}


@click.group("image", short_help="Inspect and change images, as an admin.")
def image_group() -> None:
    """Inspect and change images, as an admin, with the rules of Glance's API."""


# --- list / show --------------------------------------------------------------------------


def image_pages(
    database: Database,
    *,
    filters: dict[str, Any],
    sort_key: list[str] | None,
    sort_dir: list[str] | None,
    marker: str | None,
    limit: int | None,
    return_tag: bool,
) -> Iterator[list[Record]]:
    """Pages of ``image_get_all``, each starting after the last image of the previous one."""
    context = get_admin_context()

    def fetch(after: str | None, size: int) -> list[Record]:
        return database.image_get_all(
            context,
            filters=filters,
            marker=after,
            limit=size,
            sort_key=sort_key,
            sort_dir=sort_dir,
            return_tag=return_tag,
        )

    return pages(fetch, limit=limit, page_size=PAGE_SIZE, marker=marker)


@image_group.command("list", short_help="List images, newest first.")
@click.option("--owner", metavar="PROJECT", help="Only images of this project.")
@click.option(
    "--visibility",
    type=click.Choice((*VISIBILITIES, "all")),
    default="all",
    help="Only images with this visibility.",
)
@click.option("--status", help="Only images in this status (or in:a,b for several).")
@click.option("--name", help="Only images with this name (or in:a,b for several).")
@click.option(
    "--property",
    "properties",
    multiple=True,
    metavar="KEY=VALUE",
    help="Only images with this property value; repeatable (all must match).",
)
@click.option(
    "--tag", "tags", multiple=True, metavar="TAG", help="Only images with this tag; repeatable."
)
@click.option(
    "--sort",
    "sort",
    multiple=True,
    metavar="KEY[:asc|desc]",
    help="Sort by this image column; repeatable.  [default: created_at:desc]",
)
@click.option(
    "--limit",
    type=click.IntRange(min=0),
    default=DEFAULT_LIMIT,
    help="Print at most this many images.",
)
@click.option("--all", "all_images", is_flag=True, help="Print every image (no --limit).")
@click.option("--marker", metavar="ID", help="Start after this image (the last one printed).")
@click.option("--include-deleted", is_flag=True, help="Also list soft-deleted images.")
@output_options()
@pass_state
def list_images(
    state: CLIState,
    owner: str | None,
    visibility: str,
    status: str | None,
    name: str | None,
    properties: tuple[str, ...],
    tags: tuple[str, ...],
    sort: tuple[str, ...],
    limit: int,
    all_images: bool,
    marker: str | None,
    include_deleted: bool,
    output_format: str,
    columns: tuple[str, ...],
    no_headers: bool,
) -> None:
    """List images, newest first, streaming them page by page.

    At most --limit images (25 by default) are printed; --all prints every
    one.  When more images match, a note on stderr says how to see them.
    """
    source = click.get_current_context().get_parameter_source("limit")
    if all_images and source is not click.core.ParameterSource.DEFAULT:
        raise click.UsageError("--all and --limit cannot be used together")
    filters: dict[str, Any] = {"visibility": visibility}
    if not include_deleted:
        filters["deleted"] = False
    for key, value in (("owner", owner), ("status", status), ("name", name)):
        if value is not None:
            filters[key] = value
    if properties:
        filters["properties"] = parse_pairs(properties, "--property")
    if tags:
        filters["tags"] = list(tags)
    sort_key, sort_dir = parse_sort(sort)
    output = Output(output_format, columns, no_headers)
    wanted = set(columns) if columns else set(LIST_COLUMNS)
    if output_format in ("json", "ndjson") and not columns:
        wanted = set(IMAGE_FIELDS)
    database = state.open(write=False)
    last: list[str] = []

    def pages() -> Iterator[list[dict[str, Any]]]:
        for page in image_pages(
            database,
            filters=filters,
            sort_key=sort_key,
            sort_dir=sort_dir,
            marker=marker,
            limit=None if all_images else limit,
            return_tag="tags" in wanted,
        ):
            last[:] = [page[-1]["id"]]
            yield [image_view(image) for image in page]

    default = IMAGE_FIELDS if output_format in ("json", "ndjson") else LIST_COLUMNS
    shown = output.records(pages(), default, IMAGE_FIELDS)
    if not all_images and limit and shown == limit and last:
        more = database.image_get_all(
            get_admin_context(),
            filters=filters,
            marker=last[0],
            limit=1,
            sort_key=sort_key,
            sort_dir=sort_dir,
        )
        if more:
            click.echo(
                f"(first {shown} images shown; more match: --marker {last[0]} continues,"
                " --all prints every one)",
                err=True,
            )


@image_group.command("show", short_help="Show an image with its properties and tags.")
@click.argument("image_id")
@click.option(
    "--show-deleted",
    "--include-deleted",
    "show_deleted",
    is_flag=True,
    help="Show the image even if it was deleted.",
)
@output_options()
@pass_state
def show_image(
    state: CLIState,
    image_id: str,
    show_deleted: bool,
    output_format: str,
    columns: tuple[str, ...],
    no_headers: bool,
) -> None:
    """Show one image with its live properties, locations and tags."""
    database = state.open(write=False)
    context = get_admin_context()

    @database.transaction(write=False)
    def read() -> Record:
        image = live_image(database, context, image_id, show_deleted=show_deleted)
        image["tags"] = database.image_tag_get_all(context, image_id)
        return image

    Output(output_format, columns, no_headers).record(image_view(read()), IMAGE_FIELDS)


# --- create / update / delete / restore ----------------------------------------------------


@image_group.command("create", short_help="Create an image and print it.")
@click.option("--id", "image_id", metavar="ID", help="The new image's id.  [default: a UUID]")
@_image_value_options(create=True)
@click.option(
    "--property",
    "properties",
    multiple=True,
    metavar="KEY=VALUE",
    help="Set this property; repeatable.",
)
@click.option("--tag", "tags", multiple=True, metavar="TAG", help="Add this tag; repeatable.")
@click.option(
    "--location",
    "locations",
    multiple=True,
    metavar="URL",
    help="Add a location (status active); repeatable.",
)
@output_options()
@pass_state
def create_image(
    state: CLIState,
    /,
    image_id: str | None,
    properties: tuple[str, ...],
    tags: tuple[str, ...],
    locations: tuple[str, ...],
    output_format: str,
    columns: tuple[str, ...],
    no_headers: bool,
    **params: Any,
) -> None:
    """Create an image with its properties, tags and locations, and print it.

    Formats and sizes are checked as Glance's API checks them (its default
    format lists; sizes not negative).
    """
    values: dict[str, Any] = {
        "protected": bool(params.pop("protected")),
        "os_hidden": bool(params.pop("hidden")),
    }
    values.update(_column_values(params))
    if image_id is not None:
        values["id"] = image_id
    if properties:
        values["properties"] = parse_pairs(properties, "--property")
    if locations:
        values["locations"] = [
            {"url": url, "metadata": {}, "status": "active"} for url in locations
        ]
    context = get_admin_context()
    database = state.open(write=True)

    # The image and its tags are created together or not at all.
    @database.transaction()
    def create() -> Record:
        image = database.image_create(context, values)
        if tags:
            database.image_tag_set_all(context, image["id"], list(tags))
        image["tags"] = database.image_tag_get_all(context, image["id"])
        return image

    Output(output_format, columns, no_headers).record(image_view(create()), IMAGE_FIELDS)


@image_group.command("update", short_help="Change an image's fields and print it.")
@click.argument("image_id")
@_image_value_options(create=False)
@output_options()
@pass_state
def update_image(
    state: CLIState,
    /,
    image_id: str,
    output_format: str,
    columns: tuple[str, ...],
    no_headers: bool,
    **params: Any,
) -> None:
    """Change the given fields of an image (not deleted) and print it."""
    values = _column_values(params)
    if not values:
        raise click.UsageError("nothing to change: give at least one option")
    context = get_admin_context()
    database = state.open(write=True)

    @database.transaction()
    def update() -> Record:
        live_image(database, context, image_id)
        image = database.image_update(context, image_id, values)
        image["tags"] = database.image_tag_get_all(context, image_id)
        return image

    Output(output_format, columns, no_headers).record(image_view(update()), IMAGE_FIELDS)


@image_group.command("delete", short_help="Delete an image (not a protected one).")
@click.argument("image_id")
@pass_state
def delete_image(state: CLIState, image_id: str) -> None:
    """Delete an image as Glance's API does: refused when protected, else status deleted.

    The image and its properties, members, tags and locations are
    soft-deleted (db purge removes them later); a deleted image is then not
    found.
    """
    context = get_admin_context()
    database = state.open(write=True)

    @database.transaction()
    def delete() -> Record:
        image = live_image(database, context, image_id)
        if image["protected"]:
            raise Forbidden(
                f"Image {image_id} is protected: unprotect it first"
                f" (glancedb image update --unprotected {image_id})"
            )
        database.image_update(context, image_id, {"status": "deleted"})
        return database.image_destroy(context, image_id)

    click.echo(f"Deleted image {delete()['id']}")


@image_group.command("restore", short_help="Restore an image pending deletion.")
@click.argument("image_id")
@pass_state
def restore_image(state: CLIState, image_id: str) -> None:
    """Make an image in status pending_delete active again."""
    state.open(write=True).image_restore(get_admin_context(), image_id)
    click.echo(f"Restored image {image_id}")


# --- properties ----------------------------------------------------------------------------


@image_group.group("property", short_help="Set or unset image properties.")
def property_group() -> None:
    """Set or unset an image's properties."""


@property_group.command("set", short_help="Set properties of an image.")
@click.argument("image_id")
@click.argument("pairs", nargs=-1, required=True, metavar="KEY=VALUE...")
@pass_state
def property_set(state: CLIState, image_id: str, pairs: tuple[str, ...]) -> None:
    """Create or change properties of an image (others are kept)."""
    properties = parse_pairs(pairs, "KEY=VALUE")
    context = get_admin_context()
    database = state.open(write=True)

    @database.transaction()
    def set_properties() -> None:
        live_image(database, context, image_id)
        database.image_update(context, image_id, {"properties": properties})

    set_properties()
    click.echo(f"Set {len(properties)} propert{'y' if len(properties) == 1 else 'ies'}")


@property_group.command("unset", short_help="Remove properties from an image.")
@click.argument("image_id")
@click.argument("names", nargs=-1, required=True, metavar="KEY...")
@pass_state
def property_unset(state: CLIState, image_id: str, names: tuple[str, ...]) -> None:
    """Remove (soft-delete) properties of an image; an unknown one is an error."""
    context = get_admin_context()
    database = state.open(write=True)

    @database.transaction()
    def unset() -> None:
        live_image(database, context, image_id)
        for name in dict.fromkeys(names):
            database.image_property_delete(context, name, image_id)

    unset()
    click.echo(f"Unset {len(set(names))} propert{'y' if len(set(names)) == 1 else 'ies'}")


# --- tags ------------------------------------------------------------------------------------


@image_group.group("tag", short_help="Add or remove image tags.")
def tag_group() -> None:
    """Add or remove an image's tags."""


@tag_group.command("add", short_help="Add tags to an image.")
@click.argument("image_id")
@click.argument("tags", nargs=-1, required=True, metavar="TAG...")
@pass_state
def tag_add(state: CLIState, image_id: str, tags: tuple[str, ...]) -> None:
    """Add tags to an image (a tag it already has is kept once)."""
    context = get_admin_context()
    database = state.open(write=True)

    @database.transaction()
    def add() -> list[str]:
        live_image(database, context, image_id)
        current = database.image_tag_get_all(context, image_id)
        database.image_tag_set_all(context, image_id, [*current, *tags])
        return database.image_tag_get_all(context, image_id)

    click.echo(f"Tags: {', '.join(add())}")


@tag_group.command("remove", short_help="Remove tags from an image.")
@click.argument("image_id")
@click.argument("tags", nargs=-1, required=True, metavar="TAG...")
@pass_state
def tag_remove(state: CLIState, image_id: str, tags: tuple[str, ...]) -> None:
    """Remove tags from an image; a tag it does not have is an error."""
    context = get_admin_context()
    database = state.open(write=True)

    @database.transaction()
    def remove() -> list[str]:
        live_image(database, context, image_id)
        for tag in dict.fromkeys(tags):
            database.image_tag_delete(context, image_id, tag)
        return database.image_tag_get_all(context, image_id)

    click.echo(f"Tags: {', '.join(remove())}")


# --- members -------------------------------------------------------------------------------

MEMBER_COLUMNS = ("member", "status", "can_share", "created_at", "updated_at")
MEMBER_FIELDS = ("id", "image_id", *MEMBER_COLUMNS, "deleted")


@image_group.group("member", short_help="List and change who an image is shared with.")
def member_group() -> None:
    """List, add, accept or reject, and remove the projects an image is shared with."""


def _find_member(database: Database, context: Any, image_id: str, member: str) -> Record:
    found = database.image_member_find(context, image_id=image_id, member=member)
    if not found:
        raise NotFound(f"Project {member} is not a member of image {image_id}")
    return found[0]


@member_group.command("list", short_help="List the members of an image.")
@click.argument("image_id")
@output_options()
@pass_state
def member_list(
    state: CLIState, image_id: str, output_format: str, columns: tuple[str, ...], no_headers: bool
) -> None:
    """List the projects an image is shared with, and their answers."""
    context = get_admin_context()
    database = state.open(write=False)

    @database.transaction(write=False)
    def find() -> list[Record]:
        live_image(database, context, image_id)
        return database.image_member_find(context, image_id=image_id)

    Output(output_format, columns, no_headers).records([find()], MEMBER_COLUMNS, MEMBER_FIELDS)


@member_group.command("add", short_help="Share an image with a project.")
@click.argument("image_id")
@click.argument("member", metavar="PROJECT")
@click.option("--can-share", is_flag=True, help="Let the member share the image further.")
@click.option(
    "--status",
    type=click.Choice(sorted(MEMBER_STATUSES)),
    default="pending",
    help="The membership's status.",
)
@pass_state
def member_add(state: CLIState, image_id: str, member: str, can_share: bool, status: str) -> None:
    """Share an image with a project (a pending membership, unless --status)."""
    context = get_admin_context()
    database = state.open(write=True)

    @database.transaction()
    def add() -> Record:
        live_image(database, context, image_id)
        return database.image_member_create(
            context,
            {"image_id": image_id, "member": member, "can_share": can_share, "status": status},
        )

    created = add()
    click.echo(f"Added member {created['member']} ({created['status']}) to image {image_id}")


@member_group.command("set-status", short_help="Accept or reject a membership.")
@click.argument("image_id")
@click.argument("member", metavar="PROJECT")
@click.argument("status", type=click.Choice(sorted(MEMBER_STATUSES)))
@pass_state
def member_set_status(state: CLIState, image_id: str, member: str, status: str) -> None:
    """Set a membership's status: pending, accepted or rejected."""
    context = get_admin_context()
    database = state.open(write=True)

    @database.transaction()
    def update() -> Record:
        live_image(database, context, image_id)
        found = _find_member(database, context, image_id, member)
        return database.image_member_update(
            context, found["id"], {"status": status, "can_share": found["can_share"]}
        )

    updated = update()
    click.echo(f"Member {updated['member']} of image {image_id} is {updated['status']}")


@member_group.command("remove", short_help="Stop sharing an image with a project.")
@click.argument("image_id")
@click.argument("member", metavar="PROJECT")
@pass_state
def member_remove(state: CLIState, image_id: str, member: str) -> None:
    """Remove (soft-delete) a project's membership of an image."""
    context = get_admin_context()
    database = state.open(write=True)

    @database.transaction()
    def remove() -> None:
        live_image(database, context, image_id)
        found = _find_member(database, context, image_id, member)
        database.image_member_delete(context, found["id"])

    remove()
    click.echo(f"Removed member {member} from image {image_id}")


# --- locations -----------------------------------------------------------------------------

LOCATION_COLUMNS = ("id", "url", "status", "metadata")


@image_group.group("location", short_help="List, add and remove image locations.")
def location_group() -> None:
    """List, add and remove the locations of an image's data."""


@location_group.command("list", short_help="List the locations of an image.")
@click.argument("image_id")
@output_options()
@pass_state
def location_list(
    state: CLIState, image_id: str, output_format: str, columns: tuple[str, ...], no_headers: bool
) -> None:
    """List the live locations of an image, in insertion order."""
    database = state.open(write=False)
    image = live_image(database, get_admin_context(), image_id)
    Output(output_format, columns, no_headers).records(
        [image_view(image)["locations"]], LOCATION_COLUMNS, LOCATION_COLUMNS
    )


@location_group.command("add", short_help="Add a location to an image.")
@click.argument("image_id")
@click.argument("url")
@click.option(
    "--metadata",
    metavar="JSON",
    default="{}",
    help="The location's metadata, a JSON object.",
)
@click.option(
    "--status",
    type=click.Choice(("active", "pending_delete", "deleted")),
    default="active",
    help="The location's status.",
)
@pass_state
def location_add(state: CLIState, image_id: str, url: str, metadata: str, status: str) -> None:
    """Add a location (URL of the image's data) to an image."""
    try:
        meta = json.loads(metadata)
    except ValueError as exc:
        raise click.BadParameter(f"not JSON: {exc}", param_hint="--metadata") from None
    if not isinstance(meta, dict):
        raise click.BadParameter("must be a JSON object", param_hint="--metadata")
    context = get_admin_context()
    database = state.open(write=True)

    @database.transaction()
    def add() -> None:
        live_image(database, context, image_id)
        database.image_location_add(
            context, image_id, {"url": url, "metadata": meta, "status": status}
        )

    add()
    click.echo(f"Added location {url} to image {image_id}")


@location_group.command("remove", short_help="Remove a location from an image.")
@click.argument("image_id")
@click.argument("location_id", type=int)
@pass_state
def location_remove(state: CLIState, image_id: str, location_id: int) -> None:
    """Remove (soft-delete, status deleted) a location of an image by its id."""
    context = get_admin_context()
    database = state.open(write=True)

    @database.transaction()
    def remove() -> None:
        image = live_image(database, context, image_id)
        if location_id not in {location["id"] for location in image["locations"]}:
            raise NotFound(f"Image {image_id} has no live location with id {location_id}")
        database.image_location_delete(context, image_id, location_id, "deleted")

    remove()
    click.echo(f"Removed location {location_id} from image {image_id}")
