"""Glance's 2024.1 schema, as Glance itself creates it.

Revision ID: 0001_glance_2024_1
Revises: (none)

Explicit DDL, deliberately independent of :mod:`glancedb.models`: this
revision must keep producing exactly the schema of Glance's revision
``2024_1_contract01`` on each backend (names, types, defaults, indexes and
the boolean CHECK constraints where Glance's history left them), whatever
later revisions and the models become.  A database created by Glance is not
upgraded by this revision but stamped with it (see :func:`glancedb.migration.sync`).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0001_glance_2024_1"
down_revision = None
branch_labels = None
depends_on = None

VISIBILITIES = ("private", "public", "shared", "community")

# Glance's tables are InnoDB with the 3-byte utf8 charset on MySQL.
MYSQL_OPTIONS: dict[str, Any] = {"mysql_engine": "InnoDB", "mysql_charset": "utf8"}

# Glance's ids and sizes: BIGINT, except on SQLite where its history left
# INTEGER (the only type that auto-increments there).
BIG_INT = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _bool(name: str, *, nullable: bool = False, check: bool = True, **kw: Any) -> sa.Column[Any]:
    """A boolean column; ``check`` adds the ``IN (0, 1)`` CHECK of non-native backends."""
    return sa.Column(name, sa.Boolean(create_constraint=check), nullable=nullable, **kw)


def _timestamps() -> list[sa.Column[Any]]:
    return [
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=True),
    ]


def _soft_delete() -> list[sa.Column[Any]]:
    return [
        *_timestamps(),
        sa.Column("deleted_at", sa.DateTime(), nullable=True),
        _bool("deleted"),
    ]


def _create_images(dialect: str) -> None:
    # Glance rebuilt ``images`` on SQLite (batch migrations) and lost its
    # CHECKs there; on MySQL two of them survive under MariaDB's generated
    # names, os_hidden has none.
    checks: list[sa.CheckConstraint] = []
    if dialect in ("mysql", "mariadb"):
        checks = [
            sa.CheckConstraint("`deleted` in (0,1)", name="CONSTRAINT_2"),
            sa.CheckConstraint("`protected` in (0,1)", name="CONSTRAINT_3"),
        ]
    op.create_table(
        "images",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("name", sa.String(255), nullable=True),
        sa.Column("size", BIG_INT, nullable=True),
        sa.Column("status", sa.String(30), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=True),
        sa.Column("deleted_at", sa.DateTime(), nullable=True),
        _bool("deleted", check=False),
        sa.Column("disk_format", sa.String(20), nullable=True),
        sa.Column("container_format", sa.String(20), nullable=True),
        sa.Column("checksum", sa.String(32), nullable=True),
        sa.Column("owner", sa.String(255), nullable=True),
        sa.Column("min_disk", sa.Integer(), nullable=False),
        sa.Column("min_ram", sa.Integer(), nullable=False),
        _bool("protected", check=False, server_default=sa.false()),
        sa.Column("virtual_size", BIG_INT, nullable=True),
        sa.Column(
            "visibility",
            sa.Enum(*VISIBILITIES, name="image_visibility", create_constraint=False),
            nullable=False,
            server_default="shared",
        ),
        _bool("os_hidden", check=False, server_default=sa.false()),
        sa.Column("os_hash_algo", sa.String(64), nullable=True),
        sa.Column("os_hash_value", sa.String(128), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        *checks,
        **MYSQL_OPTIONS,
    )
    for name, column in (
        ("checksum_image_idx", "checksum"),
        ("ix_images_deleted", "deleted"),
        ("owner_image_idx", "owner"),
        ("created_at_image_idx", "created_at"),
        ("updated_at_image_idx", "updated_at"),
        ("visibility_image_idx", "visibility"),
        ("os_hidden_image_idx", "os_hidden"),
        ("os_hash_value_image_idx", "os_hash_value"),
    ):
        op.create_index(name, "images", [column])


def _create_image_children() -> None:
    image_fk = sa.ForeignKeyConstraint(["image_id"], ["images.id"])
    op.create_table(
        "image_properties",
        sa.Column("id", sa.Integer(), nullable=False, autoincrement=True),
        sa.Column("image_id", sa.String(36), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("value", sa.Text(), nullable=True),
        *_soft_delete(),
        sa.PrimaryKeyConstraint("id"),
        image_fk,
        sa.UniqueConstraint("image_id", "name", name="ix_image_properties_image_id_name"),
        **MYSQL_OPTIONS,
    )
    op.create_index("ix_image_properties_deleted", "image_properties", ["deleted"])
    op.create_index("ix_image_properties_image_id", "image_properties", ["image_id"])

    op.create_table(
        "image_tags",
        sa.Column("id", sa.Integer(), nullable=False, autoincrement=True),
        sa.Column("image_id", sa.String(36), nullable=False),
        sa.Column("value", sa.String(255), nullable=False),
        *_soft_delete(),
        sa.PrimaryKeyConstraint("id"),
        sa.ForeignKeyConstraint(["image_id"], ["images.id"]),
        **MYSQL_OPTIONS,
    )
    op.create_index("ix_image_tags_image_id", "image_tags", ["image_id"])
    op.create_index("ix_image_tags_image_id_tag_value", "image_tags", ["image_id", "value"])

    op.create_table(
        "image_locations",
        sa.Column("id", sa.Integer(), nullable=False, autoincrement=True),
        sa.Column("image_id", sa.String(36), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        *_soft_delete(),
        sa.Column("meta_data", sa.Text(), nullable=True),
        sa.Column("status", sa.String(30), nullable=False, server_default="active"),
        sa.PrimaryKeyConstraint("id"),
        sa.ForeignKeyConstraint(["image_id"], ["images.id"]),
        **MYSQL_OPTIONS,
    )
    op.create_index("ix_image_locations_deleted", "image_locations", ["deleted"])
    op.create_index("ix_image_locations_image_id", "image_locations", ["image_id"])

    op.create_table(
        "image_members",
        sa.Column("id", sa.Integer(), nullable=False, autoincrement=True),
        sa.Column("image_id", sa.String(36), nullable=False),
        sa.Column("member", sa.String(255), nullable=False),
        _bool("can_share"),
        *_soft_delete(),
        sa.Column("status", sa.String(20), nullable=False, server_default="pending"),
        sa.PrimaryKeyConstraint("id"),
        sa.ForeignKeyConstraint(["image_id"], ["images.id"]),
        sa.UniqueConstraint(
            "image_id",
            "member",
            "deleted_at",
            name="image_members_image_id_member_deleted_at_key",
        ),
        **MYSQL_OPTIONS,
    )
    op.create_index("ix_image_members_deleted", "image_members", ["deleted"])
    op.create_index("ix_image_members_image_id", "image_members", ["image_id"])
    op.create_index("ix_image_members_image_id_member", "image_members", ["image_id", "member"])


def _create_tasks() -> None:
    op.create_table(
        "tasks",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("type", sa.String(30), nullable=False),
        sa.Column("status", sa.String(30), nullable=False),
        sa.Column("owner", sa.String(255), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=True),
        *_soft_delete(),
        sa.Column("image_id", sa.String(36), nullable=True),
        sa.Column("request_id", sa.String(64), nullable=True),
        sa.Column("user_id", sa.String(64), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        **MYSQL_OPTIONS,
    )
    for column in ("deleted", "owner", "status", "type", "updated_at", "image_id"):
        op.create_index(f"ix_tasks_{column}", "tasks", [column])

    op.create_table(
        "task_info",
        sa.Column("task_id", sa.String(36), nullable=False),
        sa.Column("input", sa.Text(), nullable=True),
        sa.Column("result", sa.Text(), nullable=True),
        sa.Column("message", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("task_id"),
        sa.ForeignKeyConstraint(["task_id"], ["tasks.id"]),
        **MYSQL_OPTIONS,
    )


def _create_metadefs() -> None:
    namespace_fk = sa.ForeignKeyConstraint(["namespace_id"], ["metadef_namespaces.id"])
    op.create_table(
        "metadef_namespaces",
        sa.Column("id", sa.Integer(), nullable=False, autoincrement=True),
        sa.Column("namespace", sa.String(80), nullable=False),
        sa.Column("display_name", sa.String(80), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("visibility", sa.String(32), nullable=True),
        _bool("protected", nullable=True),
        sa.Column("owner", sa.String(255), nullable=False),
        *_timestamps(),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("namespace", name="uq_metadef_namespaces_namespace"),
        **MYSQL_OPTIONS,
    )
    op.create_index("ix_metadef_namespaces_owner", "metadef_namespaces", ["owner"])

    op.create_table(
        "metadef_resource_types",
        sa.Column("id", sa.Integer(), nullable=False, autoincrement=True),
        sa.Column("name", sa.String(80), nullable=False),
        _bool("protected"),
        *_timestamps(),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name", name="uq_metadef_resource_types_name"),
        **MYSQL_OPTIONS,
    )

    op.create_table(
        "metadef_namespace_resource_types",
        sa.Column("resource_type_id", sa.Integer(), nullable=False, autoincrement=False),
        sa.Column("namespace_id", sa.Integer(), nullable=False, autoincrement=False),
        sa.Column("properties_target", sa.String(80), nullable=True),
        sa.Column("prefix", sa.String(80), nullable=True),
        *_timestamps(),
        sa.PrimaryKeyConstraint("resource_type_id", "namespace_id"),
        sa.ForeignKeyConstraint(["namespace_id"], ["metadef_namespaces.id"]),
        sa.ForeignKeyConstraint(["resource_type_id"], ["metadef_resource_types.id"]),
        **MYSQL_OPTIONS,
    )
    op.create_index(
        "ix_metadef_ns_res_types_namespace_id",
        "metadef_namespace_resource_types",
        ["namespace_id"],
    )

    op.create_table(
        "metadef_objects",
        sa.Column("id", sa.Integer(), nullable=False, autoincrement=True),
        sa.Column("namespace_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(80), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("required", sa.Text(), nullable=True),
        sa.Column("json_schema", sa.Text(), nullable=False),
        *_timestamps(),
        sa.PrimaryKeyConstraint("id"),
        namespace_fk,
        sa.UniqueConstraint("namespace_id", "name", name="uq_metadef_objects_namespace_id_name"),
        **MYSQL_OPTIONS,
    )
    op.create_index("ix_metadef_objects_name", "metadef_objects", ["name"])

    op.create_table(
        "metadef_properties",
        sa.Column("id", sa.Integer(), nullable=False, autoincrement=True),
        sa.Column("namespace_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(80), nullable=False),
        sa.Column("json_schema", sa.Text(), nullable=False),
        *_timestamps(),
        sa.PrimaryKeyConstraint("id"),
        sa.ForeignKeyConstraint(["namespace_id"], ["metadef_namespaces.id"]),
        sa.UniqueConstraint("namespace_id", "name", name="uq_metadef_properties_namespace_id_name"),
        **MYSQL_OPTIONS,
    )
    op.create_index("ix_metadef_properties_name", "metadef_properties", ["name"])

    op.create_table(
        "metadef_tags",
        sa.Column("id", sa.Integer(), nullable=False, autoincrement=True),
        sa.Column("namespace_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(80), nullable=False),
        *_timestamps(),
        sa.PrimaryKeyConstraint("id"),
        sa.ForeignKeyConstraint(["namespace_id"], ["metadef_namespaces.id"]),
        sa.UniqueConstraint("namespace_id", "name", name="uq_metadef_tags_namespace_id_name"),
        **MYSQL_OPTIONS,
    )
    op.create_index("ix_metadef_tags_name", "metadef_tags", ["name"])


def _create_cache() -> None:
    op.create_table(
        "node_reference",
        sa.Column("node_reference_id", BIG_INT, nullable=False, autoincrement=True),
        sa.Column("node_reference_url", sa.String(255), nullable=False),
        sa.PrimaryKeyConstraint("node_reference_id"),
        sa.UniqueConstraint("node_reference_url", name="uq_node_reference_node_reference_url"),
        **MYSQL_OPTIONS,
    )
    op.create_table(
        "cached_images",
        sa.Column("id", BIG_INT, nullable=False, autoincrement=True),
        sa.Column("image_id", sa.String(36), nullable=False),
        sa.Column("last_accessed", sa.DateTime(), nullable=False),
        sa.Column("last_modified", sa.DateTime(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("hits", sa.Integer(), nullable=False),
        sa.Column("checksum", sa.String(32), nullable=True),
        sa.Column("node_reference_id", BIG_INT, nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.ForeignKeyConstraint(["node_reference_id"], ["node_reference.node_reference_id"]),
        sa.UniqueConstraint(
            "image_id",
            "node_reference_id",
            name="ix_cached_images_image_id_node_reference_id",
        ),
        **MYSQL_OPTIONS,
    )


# Children before parents.
_TABLES_DROP_ORDER = (
    "cached_images",
    "node_reference",
    "metadef_tags",
    "metadef_properties",
    "metadef_objects",
    "metadef_namespace_resource_types",
    "metadef_resource_types",
    "metadef_namespaces",
    "task_info",
    "tasks",
    "image_members",
    "image_locations",
    "image_tags",
    "image_properties",
    "images",
)


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    _create_images(dialect)
    _create_image_children()
    _create_tasks()
    _create_metadefs()
    _create_cache()


def downgrade() -> None:
    bind = op.get_bind()
    for table in _TABLES_DROP_ORDER:
        op.drop_table(table)
    if bind.dialect.name == "postgresql":
        sa.Enum(name="image_visibility").drop(bind, checkfirst=True)
