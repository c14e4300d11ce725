"""Models of the image-cache tables (``node_reference``, ``cached_images``)."""

from __future__ import annotations

import datetime

from sqlalchemy import BigInteger, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from glancedb.models.base import MYSQL_TABLE_ARGS, Base, BigIntForSQLite, Timestamp


class NodeReference(Base):
    """A cache node, identified by its URL."""

    __tablename__ = "node_reference"
    __table_args__ = (
        UniqueConstraint("node_reference_url", name="uq_node_reference_node_reference_url"),
        MYSQL_TABLE_ARGS,
    )

    node_reference_id: Mapped[int] = mapped_column(
        BigIntForSQLite, primary_key=True, autoincrement=True
    )
    node_reference_url: Mapped[str] = mapped_column(String(255), nullable=False)


class CachedImage(Base):
    """An image cached on a node, with its hit count and access times."""

    __tablename__ = "cached_images"
    __table_args__ = (
        UniqueConstraint(
            "image_id",
            "node_reference_id",
            name="ix_cached_images_image_id_node_reference_id",
        ),
        MYSQL_TABLE_ARGS,
    )

    id: Mapped[int] = mapped_column(BigIntForSQLite, primary_key=True, autoincrement=True)
    image_id: Mapped[str] = mapped_column(String(36), nullable=False)
    last_accessed: Mapped[datetime.datetime] = mapped_column(Timestamp, nullable=False)
    last_modified: Mapped[datetime.datetime] = mapped_column(Timestamp, nullable=False)
    size: Mapped[int] = mapped_column(BigInteger, nullable=False)
    hits: Mapped[int] = mapped_column(Integer, nullable=False)
    checksum: Mapped[str | None] = mapped_column(String(32))
    node_reference_id: Mapped[int] = mapped_column(
        BigIntForSQLite, ForeignKey("node_reference.node_reference_id"), nullable=False
    )
