"""``glancedb db ...``: schema (sync, version, check, history, upgrade, downgrade),
purge and copy."""

from __future__ import annotations

import click

from glancedb import migration
from glancedb.cli.base import CLIState, pass_state
from glancedb.cli.copy import copy_command
from glancedb.cli.purge import purge_command, purge_images_command

_SYNC_MESSAGES = {
    "created": "Schema created",
    "adopted": "Glance database adopted",
    "upgraded": "Schema upgraded",
    "current": "Schema already current",
}


@click.group("db", short_help="Schema, purge and copy of the database.")
def db_group() -> None:
    """The database itself: schema (sync, version, check, history, upgrade, downgrade),
    purge of deleted rows, and copy to another database."""


@db_group.command("sync", short_help="Create or upgrade the schema, adopting Glance's.")
@pass_state
def sync_command(state: CLIState) -> None:
    """Create or upgrade the schema to the head revision.

    An empty database gets the whole schema; a database created by Glance
    (2024.1) is checked and adopted without changing its data; a glancedb
    database is upgraded.  A schema that differs from glancedb's is an error
    that names every difference.  glancedb's indexes are built without
    blocking Glance's writes (PostgreSQL, MySQL); each build and its progress
    are printed.
    """
    database = state.open(write=True, create=True, check_schema=False)
    action = database.db_sync(progress=click.echo)
    revision = database.db_version()
    click.echo(f"{_SYNC_MESSAGES[action]}: database at revision {revision} (head).")


@db_group.command("version", short_help="Print the database's revisions.")
@pass_state
def version_command(state: CLIState) -> None:
    """Print the database's glancedb revision, the head revision and Glance's revision."""
    revisions = state.open(write=False, check_schema=False).db_revisions()
    click.echo(f"current: {revisions.current or 'none (not managed by glancedb)'}")
    click.echo(f"head:    {revisions.head}")
    if revisions.glance is not None:
        click.echo(f"glance:  {revisions.glance}")


@db_group.command("check", short_help="Check the schema is at head and has not drifted.")
@pass_state
def check_command(state: CLIState) -> None:
    """Check that the schema is at the head revision and matches glancedb's.

    Prints OK, or every problem (one per line, the first saying what to run)
    and exits 1.
    """
    problems = state.open(write=False, check_schema=False).db_check()
    if problems:
        for problem in problems:
            click.echo(problem)
        raise click.exceptions.Exit(1)
    click.echo("OK")


@db_group.command("history", short_help="List glancedb's schema revisions.")
@pass_state
def history_command(state: CLIState) -> None:
    """List glancedb's schema revisions, oldest first, marking the database's current one."""
    database = state.open(write=False, check_schema=False)
    for info in migration.history(database.engine):
        marks = [mark for mark, on in (("current", info.is_current), ("head", info.is_head)) if on]
        suffix = f" ({', '.join(marks)})" if marks else ""
        click.echo(f"{'*' if info.is_current else ' '} {info.revision}{suffix}  {info.description}")


@db_group.command("upgrade", short_help="Upgrade the schema to a revision.")
@click.argument("revision", default="head")
@click.option(
    "--sql",
    is_flag=True,
    help="Print the SQL the upgrade would run, for the database's dialect; change nothing.",
)
@pass_state
def upgrade_command(state: CLIState, revision: str, sql: bool) -> None:
    """Upgrade the schema to REVISION (default: head).

    With --sql nothing is changed: the SQL script from the database's current
    revision to REVISION is printed (Alembic's offline mode), for a DBA to
    review or run.
    """
    if sql:
        database = state.open(write=False, check_schema=False)
        click.echo(migration.upgrade_sql(database.engine, revision), nl=False)
        return
    database = state.open(write=True, check_schema=False)
    current = database.db_upgrade(revision, progress=click.echo)
    click.echo(f"Database at revision {current or 'base'}.")


@db_group.command("downgrade", short_help="Downgrade the schema to a revision.")
@click.argument("revision")
@pass_state
def downgrade_command(state: CLIState, revision: str) -> None:
    """Downgrade the schema to REVISION (base: remove glancedb's schema).

    On a database Glance shares, going to base only removes glancedb's stamp
    and additions: Glance's tables and rows stay.
    """
    database = state.open(write=True, check_schema=False)
    current = database.db_downgrade(revision, progress=click.echo)
    click.echo(f"Database at revision {current or 'base'}.")


db_group.add_command(purge_command)
db_group.add_command(purge_images_command)
db_group.add_command(copy_command)
