"""Models of the image tables: images and their properties, locations,
members and tags (Glance 2024.1 schema)."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Enum,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from glancedb.models.base import MYSQL_TABLE_ARGS, Base, BigIntForSQLite, SoftDeleteMixin

IMAGE_VISIBILITIES = ("private", "public", "shared", "community")

#: The sort expressions of the nullable ``name`` and ``size`` columns (see
#: :func:`glancedb.keyset.sort_expression`), as glancedb's order indexes
#: spell them.
NAME_ORDER = "coalesce(name, '')"
SIZE_ORDER = "coalesce(size, 0)"
#: The property values glancedb's (name, value) index holds on PostgreSQL,
#: whose B-tree entries are limited to about 2.7 kB.
PROPERTY_VALUE_MAX_BYTES = 1000
PROPERTY_VALUE_INDEXED = f"octet_length(value) < {PROPERTY_VALUE_MAX_BYTES}"
#: The backends that can index those expressions (SQLAlchemy accepts a tuple
#: of dialects for ``Index.ddl_if``; its annotation says str).
ORDER_INDEX_DIALECTS = ("sqlite", "postgresql")
#: The backends that index the plain columns instead.
PLAIN_ORDER_INDEX_DIALECTS = ("mysql", "mariadb")
#: The columns after the order in the walk indexes (revisions
#: 0011_mysql_images_walk_filters and 0012_sqlite_images_walk): what a
#: regular context's visibility test reads of an image, then the columns
#: listing pages filter on most.
WALK_COLUMNS = (
    "deleted",
    "status",
    "visibility",
    "owner",
    "os_hidden",
    "disk_format",
    "container_format",
)
#: The created_at walk index, and the backends that have it.
WALK_INDEX = "ix_glancedb_images_walk_filters"
WALK_INDEX_DIALECTS = (*PLAIN_ORDER_INDEX_DIALECTS, "sqlite")

# A native enum on PostgreSQL and MySQL; a plain VARCHAR(9) without CHECK on
# SQLite, exactly as Glance creates it.
ImageVisibility = Enum(*IMAGE_VISIBILITIES, name="image_visibility", create_constraint=False)


class Image(SoftDeleteMixin, Base):
    """An image: one row of ``images``."""

    __tablename__ = "images"
    __table_args__ = (
        Index("checksum_image_idx", "checksum"),
        Index("ix_images_deleted", "deleted"),
        Index("owner_image_idx", "owner"),
        Index("created_at_image_idx", "created_at"),
        Index("updated_at_image_idx", "updated_at"),
        Index("visibility_image_idx", "visibility"),
        Index("os_hidden_image_idx", "os_hidden"),
        Index("os_hash_value_image_idx", "os_hash_value"),
        # glancedb's (revision 0004_images_name): name filters.
        Index("ix_glancedb_images_name", "name"),
        # glancedb's (revision 0006_images_sort_order): pages sorted by name
        # or size walk these instead of sorting every match; the expressions
        # are the ones glancedb.keyset sorts nullable columns by.
        Index("ix_glancedb_images_name_order", text(NAME_ORDER), "created_at", "id").ddl_if(
            dialect=ORDER_INDEX_DIALECTS  # type: ignore[arg-type]
        ),
        Index("ix_glancedb_images_size_order", text(SIZE_ORDER), "created_at", "id").ddl_if(
            dialect=ORDER_INDEX_DIALECTS  # type: ignore[arg-type]
        ),
        # glancedb's (revision 0011_mysql_images_walk_filters, superseding
        # 0010's and, through them, 0008's plain (name, created_at, id) and
        # (size, created_at, id)): MySQL and MariaDB cannot index an
        # expression, so these index the plain columns and a sorted page
        # reads the NULLs apart; and InnoDB stores rows in (random) id order,
        # so each order is followed by what the visibility test and the
        # usual filters read: a page walks the index, not the rows
        # (glancedb.images.listing).  The created_at one on SQLite too
        # (revision 0012_sqlite_images_walk): a walked image's tests read
        # the index entry, and only the images that pass seek their row.
        Index(WALK_INDEX, "created_at", "id", *WALK_COLUMNS).ddl_if(
            dialect=WALK_INDEX_DIALECTS  # type: ignore[arg-type]
        ),
        *(
            Index(name, *order, *WALK_COLUMNS).ddl_if(
                dialect=PLAIN_ORDER_INDEX_DIALECTS  # type: ignore[arg-type]
            )
            for name, order in (
                ("ix_glancedb_images_name_walk_filters", ("name", "created_at", "id")),
                ("ix_glancedb_images_size_walk_filters", ("size", "created_at", "id")),
            )
        ),
        MYSQL_TABLE_ARGS,
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str | None] = mapped_column(String(255))
    disk_format: Mapped[str | None] = mapped_column(String(20))
    container_format: Mapped[str | None] = mapped_column(String(20))
    size: Mapped[int | None] = mapped_column(BigIntForSQLite)
    virtual_size: Mapped[int | None] = mapped_column(BigIntForSQLite)
    status: Mapped[str] = mapped_column(String(30), nullable=False)
    visibility: Mapped[str] = mapped_column(
        ImageVisibility, nullable=False, server_default="shared"
    )
    checksum: Mapped[str | None] = mapped_column(String(32))
    os_hash_algo: Mapped[str | None] = mapped_column(String(64))
    os_hash_value: Mapped[str | None] = mapped_column(String(128))
    min_disk: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    min_ram: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    owner: Mapped[str | None] = mapped_column(String(255))
    protected: Mapped[bool] = mapped_column(
        Boolean, nullable=False, default=False, server_default=false()
    )
    os_hidden: Mapped[bool] = mapped_column(
        Boolean, nullable=False, default=False, server_default=false()
    )


class ImageProperty(SoftDeleteMixin, Base):
    """A key/value property of an image (``image_properties``)."""

    __tablename__ = "image_properties"
    __table_args__ = (
        Index("ix_image_properties_image_id", "image_id"),
        Index("ix_image_properties_deleted", "deleted"),
        UniqueConstraint("image_id", "name", name="ix_image_properties_image_id_name"),
        # glancedb's (revisions 0003_image_properties_value and, on
        # PostgreSQL, 0007_image_properties_btree): property filters.  A
        # prefix index on MySQL (value is TEXT); on PostgreSQL a partial one
        # over the values short enough for a B-tree entry (longer values must
        # still insert; a filter on one is not served by an index).
        Index(
            "ix_glancedb_image_properties_name_value",
            "name",
            "value",
            mysql_length={"value": 255},
            postgresql_where=text(PROPERTY_VALUE_INDEXED),
        ),
        MYSQL_TABLE_ARGS,
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    image_id: Mapped[str] = mapped_column(String(36), ForeignKey("images.id"), nullable=False)
    name: Mapped[str] = mapped_column(String(255), nullable=False)
    value: Mapped[str | None] = mapped_column(Text)


class ImageTag(SoftDeleteMixin, Base):
    """A tag of an image (``image_tags``)."""

    __tablename__ = "image_tags"
    __table_args__ = (
        Index("ix_image_tags_image_id", "image_id"),
        Index("ix_image_tags_image_id_tag_value", "image_id", "value"),
        MYSQL_TABLE_ARGS,
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    image_id: Mapped[str] = mapped_column(String(36), ForeignKey("images.id"), nullable=False)
    value: Mapped[str] = mapped_column(String(255), nullable=False)


class ImageLocation(SoftDeleteMixin, Base):
    """A storage location of an image's data (``image_locations``).

    The URL lives in column ``value`` and the metadata, as JSON text, in
    ``meta_data`` (Glance's column names).
    """

    __tablename__ = "image_locations"
    __table_args__ = (
        Index("ix_image_locations_image_id", "image_id"),
        Index("ix_image_locations_deleted", "deleted"),
        MYSQL_TABLE_ARGS,
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    image_id: Mapped[str] = mapped_column(String(36), ForeignKey("images.id"), nullable=False)
    value: Mapped[str] = mapped_column(Text, nullable=False)
    meta_data: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(
        String(30), nullable=False, default="active", server_default="active"
    )


class ImageMember(SoftDeleteMixin, Base):
    """A project an image is shared with (``image_members``)."""

    __tablename__ = "image_members"
    __table_args__ = (
        Index("ix_image_members_deleted", "deleted"),
        Index("ix_image_members_image_id", "image_id"),
        Index("ix_image_members_image_id_member", "image_id", "member"),
        UniqueConstraint(
            "image_id",
            "member",
            "deleted_at",
            name="image_members_image_id_member_deleted_at_key",
        ),
        # glancedb's (revision 0009_image_members_access, superseding
        # 0002_image_members_member's (member, deleted)): a project's
        # memberships, read from the index alone.
        Index("ix_glancedb_image_members_member_access", "member", "deleted", "status", "image_id"),
        MYSQL_TABLE_ARGS,
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    image_id: Mapped[str] = mapped_column(String(36), ForeignKey("images.id"), nullable=False)
    member: Mapped[str] = mapped_column(String(255), nullable=False)
    can_share: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    status: Mapped[str] = mapped_column(
        String(20), nullable=False, default="pending", server_default="pending"
    )
