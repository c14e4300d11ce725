"""glancedb db commands: sync, version, check, upgrade, downgrade."""

from __future__ import annotations

import click

from glancedb import migration
from glancedb.cli.base import CLIState, db_group, handle_errors, pass_state


@db_group.command("sync")
@pass_state
@handle_errors
def sync_command(state: CLIState) -> None:
    """Create or upgrade the schema to the head revision.

    An empty database gets the whole schema; a database created by Glance
    (2024.1) is checked and adopted without changing its data.
    """
    engine = state.database.engine
    action = migration.sync(engine)
    done = {
        "created": "Schema created",
        "adopted": "Glance database adopted",
        "upgraded": "Schema upgraded",
        "current": "Schema already current",
    }[action]
    click.echo(f"{done}: database at revision {migration.current_revision(engine)} (head).")


@db_group.command("version")
@pass_state
@handle_errors
def version_command(state: CLIState) -> None:
    """Print the database's glancedb revision and the head revision."""
    engine = state.database.engine
    current = migration.current_revision(engine)
    click.echo(f"current: {current or 'none (not managed by glancedb)'}")
    click.echo(f"head:    {migration.head_revision()}")
    glance = migration.glance_revision(engine)
    if glance is not None:
        click.echo(f"glance:  {glance}")


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
    """Upgrade the schema to REVISION (default: head)."""
    engine = state.database.engine
    migration.upgrade(engine, revision)
    click.echo(f"Database at revision {migration.current_revision(engine) or 'base'}.")


@db_group.command("downgrade")
@click.argument("revision")
@pass_state
@handle_errors
def downgrade_command(state: CLIState, revision: str) -> None:
    """Downgrade the schema to REVISION (``base``: remove glancedb's schema).

    On a database Glance shares, going to ``base`` only removes glancedb's
    stamp: Glance's tables and rows stay.
    """
    engine = state.database.engine
    migration.downgrade(engine, revision)
    click.echo(f"Database at revision {migration.current_revision(engine) or 'base'}.")
