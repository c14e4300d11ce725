"""MySQL/MariaDB: every timestamp column becomes DATETIME(6) (microseconds).

Revision ID: 0005_mysql_microseconds
Revises: 0004_images_name

Glance creates its timestamp columns as ``DATETIME``, which on MySQL and
MariaDB has no fractional seconds: an update in the same second as the
create leaves ``updated_at == created_at``, an update after a create with
microseconds moves ``updated_at`` backwards, and ``created_at`` ties make
pages ordered by time differ from PostgreSQL's.  This revision widens every
one of them to ``DATETIME(6)``, keeping each column's nullability (none has
a server default).  SQLite and PostgreSQL already keep microseconds: there it
changes nothing.

One ``ALTER TABLE`` per table, all its columns at once: a change of
fractional precision rebuilds the table (a copy), so each table is copied
once, not once per column.  The server's copy blocks writes to the table
while it runs, so a large table is copied online instead, through a shadow
table kept in step by triggers (:mod:`glancedb.migrations.online_copy`).
A Glance server sharing the database keeps working: it writes and reads
``datetime`` values with microseconds anyway.
The downgrade narrows the columns back to ``DATETIME`` (the fractions are
dropped).  Explicit DDL, independent of :mod:`glancedb.models`.
"""

from __future__ import annotations

from collections.abc import Callable

from alembic import op
from sqlalchemy import Connection, text

from glancedb.migrations import online_copy
from glancedb.migrations.online import progress_callback

revision = "0005_mysql_microseconds"
down_revision = "0004_images_name"
branch_labels = None
depends_on = None

#: Every timestamp column of Glance's schema, per table: (name, nullable).
TIMESTAMP_COLUMNS: dict[str, tuple[tuple[str, bool], ...]] = {
    "images": (("created_at", False), ("updated_at", True), ("deleted_at", True)),
    "image_properties": (("created_at", False), ("updated_at", True), ("deleted_at", True)),
    "image_locations": (("created_at", False), ("updated_at", True), ("deleted_at", True)),
    "image_members": (("created_at", False), ("updated_at", True), ("deleted_at", True)),
    "image_tags": (("created_at", False), ("updated_at", True), ("deleted_at", True)),
    "tasks": (
        ("expires_at", True),
        ("created_at", False),
        ("updated_at", True),
        ("deleted_at", True),
    ),
    "metadef_namespaces": (("created_at", False), ("updated_at", True)),
    "metadef_objects": (("created_at", False), ("updated_at", True)),
    "metadef_properties": (("created_at", False), ("updated_at", True)),
    "metadef_tags": (("created_at", False), ("updated_at", True)),
    "metadef_resource_types": (("created_at", False), ("updated_at", True)),
    "metadef_namespace_resource_types": (("created_at", False), ("updated_at", True)),
    "cached_images": (("last_accessed", False), ("last_modified", False)),
}


def _set_type(sql_type: str, why: str) -> None:
    context = op.get_context()
    if context.dialect.name not in ("mysql", "mariadb"):
        return
    for table, columns in TIMESTAMP_COLUMNS.items():
        clauses = ", ".join(
            f"MODIFY `{name}` {sql_type} {'NULL' if nullable else 'NOT NULL'}"
            for name, nullable in columns
        )
        if context.as_sql:
            op.execute(f"ALTER TABLE `{table}` {clauses}")
            continue
        # The server changes a column's fractional precision only by copying
        # the table under a shared lock; a large table is copied online instead.
        with context.autocommit_block():
            online_copy.alter_table(
                op.get_bind(),
                table,
                clauses,
                progress_callback(),
                why=why,
                done=_has_type(table, columns, sql_type),
            )


def _has_type(
    table: str, columns: tuple[tuple[str, bool], ...], sql_type: str
) -> Callable[[Connection], bool]:
    """Whether every timestamp column of ``table`` is ``sql_type`` already."""

    def check(conn: Connection) -> bool:
        types = conn.execute(
            text(
                "SELECT COLUMN_NAME, COLUMN_TYPE FROM information_schema.COLUMNS"
                " WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = :table"
            ),
            {"table": table},
        ).all()
        current = {name: str(kind).lower() for name, kind in types}
        return all(current.get(name) == sql_type.lower() for name, _nullable in columns)

    return check


def upgrade() -> None:
    _set_type("DATETIME(6)", "to widen its timestamps")


def downgrade() -> None:
    _set_type("DATETIME", "to narrow its timestamps")
