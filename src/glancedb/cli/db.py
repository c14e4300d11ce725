"""``glancedb db ...``: schema (sync, version, check, upgrade, downgrade) and purge."""

from __future__ import annotations

import click

from glancedb.cli.base import CLIState, handle_errors, pass_state
from glancedb.cli.purge import purge_command, purge_images_command

_SYNC_MESSAGES = {
    "created": "Schema created",
    "adopted": "Glance database adopted",
    "upgraded": "Schema upgraded",
    "current": "Schema already current",
}


@click.group("db")
def db_group() -> None:
    """Schema and maintenance: sync, version, check, upgrade, downgrade, purge."""


@db_group.command("sync")
@pass_state
@handle_errors
def sync_command(state: CLIState) -> None:
    """Create or upgrade the schema to the head revision.

    An empty database gets the whole schema; a database created by Glance
    (2024.1) is checked and adopted without changing its data.  glancedb's
    indexes are built without blocking Glance's writes (PostgreSQL, MySQL);
    each build and its progress are printed.
    """
    database = state.database
    action = database.db_sync(progress=click.echo)
    revision = database.db_version()
    click.echo(f"{_SYNC_MESSAGES[action]}: database at revision {revision} (head).")


@db_group.command("version")
@pass_state
@handle_errors
def version_command(state: CLIState) -> None:
    """Print the database's glancedb revision and the head revision."""
    revisions = state.database.db_revisions()
    click.echo(f"current: {revisions.current or 'none (not managed by glancedb)'}")
    click.echo(f"head:    {revisions.head}")
    if revisions.glance is not None:
        click.echo(f"glance:  {revisions.glance}")


@db_group.command("check")
@pass_state
@handle_errors
def check_command(state: CLIState) -> None:
    """Exit 1, listing every problem, when the schema is not at head or drifted."""
    problems = state.database.db_check()
    if problems:
        for problem in problems:
            click.echo(problem)
        raise click.exceptions.Exit(1)
    click.echo("OK")


@db_group.command("upgrade")
@click.argument("revision", default="head")
@pass_state
@handle_errors
def upgrade_command(state: CLIState, revision: str) -> None:
    """Upgrade the schema to REVISION (default: head), printing index builds."""
    current = state.database.db_upgrade(revision, progress=click.echo)
    click.echo(f"Database at revision {current or 'base'}.")


@db_group.command("downgrade")
@click.argument("revision")
@pass_state
@handle_errors
def downgrade_command(state: CLIState, revision: str) -> None:
    """Downgrade the schema to REVISION (``base``: remove glancedb's schema).

    On a database Glance shares, going to ``base`` only removes glancedb's
    stamp: Glance's tables and rows stay.
    """
    current = state.database.db_downgrade(revision)
    click.echo(f"Database at revision {current or 'base'}.")


db_group.add_command(purge_command)
db_group.add_command(purge_images_command)
