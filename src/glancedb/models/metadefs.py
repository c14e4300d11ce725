"""Models of the metadata-definition tables (no soft delete)."""

from __future__ import annotations

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from glancedb.models.base import MYSQL_TABLE_ARGS, Base, TimestampMixin


class MetadefNamespace(TimestampMixin, Base):
    """A namespace grouping metadata definitions."""

    __tablename__ = "metadef_namespaces"
    __table_args__ = (
        UniqueConstraint("namespace", name="uq_metadef_namespaces_namespace"),
        Index("ix_metadef_namespaces_owner", "owner"),
        MYSQL_TABLE_ARGS,
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    namespace: Mapped[str] = mapped_column(String(80), nullable=False)
    display_name: Mapped[str | None] = mapped_column(String(80))
    description: Mapped[str | None] = mapped_column(Text)
    visibility: Mapped[str | None] = mapped_column(String(32))
    protected: Mapped[bool | None] = mapped_column(Boolean)
    owner: Mapped[str] = mapped_column(String(255), nullable=False)


class MetadefObject(TimestampMixin, Base):
    """An object definition (a named group of properties) in a namespace."""

    __tablename__ = "metadef_objects"
    __table_args__ = (
        UniqueConstraint("namespace_id", "name", name="uq_metadef_objects_namespace_id_name"),
        Index("ix_metadef_objects_name", "name"),
        MYSQL_TABLE_ARGS,
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    namespace_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("metadef_namespaces.id"), nullable=False
    )
    name: Mapped[str] = mapped_column(String(80), nullable=False)
    description: Mapped[str | None] = mapped_column(Text)
    required: Mapped[str | None] = mapped_column(Text)
    json_schema: Mapped[str] = mapped_column(Text, nullable=False)


class MetadefProperty(TimestampMixin, Base):
    """A property definition in a namespace."""

    __tablename__ = "metadef_properties"
    __table_args__ = (
        UniqueConstraint("namespace_id", "name", name="uq_metadef_properties_namespace_id_name"),
        Index("ix_metadef_properties_name", "name"),
        MYSQL_TABLE_ARGS,
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    namespace_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("metadef_namespaces.id"), nullable=False
    )
    name: Mapped[str] = mapped_column(String(80), nullable=False)
    json_schema: Mapped[str] = mapped_column(Text, nullable=False)


class MetadefTag(TimestampMixin, Base):
    """A tag definition in a namespace."""

    __tablename__ = "metadef_tags"
    __table_args__ = (
        UniqueConstraint("namespace_id", "name", name="uq_metadef_tags_namespace_id_name"),
        Index("ix_metadef_tags_name", "name"),
        MYSQL_TABLE_ARGS,
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    namespace_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("metadef_namespaces.id"), nullable=False
    )
    name: Mapped[str] = mapped_column(String(80), nullable=False)


class MetadefResourceType(TimestampMixin, Base):
    """A resource type (``OS::Glance::Image``, ...) namespaces apply to."""

    __tablename__ = "metadef_resource_types"
    __table_args__ = (
        UniqueConstraint("name", name="uq_metadef_resource_types_name"),
        MYSQL_TABLE_ARGS,
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(80), nullable=False)
    protected: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)


class MetadefNamespaceResourceType(TimestampMixin, Base):
    """The association of a namespace with a resource type."""

    __tablename__ = "metadef_namespace_resource_types"
    __table_args__ = (
        Index("ix_metadef_ns_res_types_namespace_id", "namespace_id"),
        MYSQL_TABLE_ARGS,
    )

    resource_type_id: Mapped[int] = mapped_column(
        Integer,
        ForeignKey("metadef_resource_types.id"),
        primary_key=True,
        autoincrement=False,
    )
    namespace_id: Mapped[int] = mapped_column(
        Integer,
        ForeignKey("metadef_namespaces.id"),
        primary_key=True,
        autoincrement=False,
    )
    properties_target: Mapped[str | None] = mapped_column(String(80))
    prefix: Mapped[str | None] = mapped_column(String(80))
