"""Declarative base and the column shapes shared by Glance's tables."""

from __future__ import annotations

import datetime

from sqlalchemy import BigInteger, Boolean, DateTime, Integer, MetaData
from sqlalchemy.dialects import mysql
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from glancedb.timeutils import utcnow

# Glance's primary keys and sizes are BIGINT on MySQL and PostgreSQL but
# INTEGER on SQLite, where only INTEGER PRIMARY KEY auto-increments.
BigIntForSQLite = BigInteger().with_variant(Integer(), "sqlite")

# Every timestamp column.  Glance's are DATETIME everywhere, which on MySQL
# and MariaDB has no fractional seconds; glancedb's revision
# 0005_mysql_microseconds widens them there to DATETIME(6), so that times keep
# their microseconds on every backend (SPEC 1.4).  SQLite stores the text
# SQLAlchemy writes (``YYYY-MM-DD HH:MM:SS.ffffff``), PostgreSQL a
# microsecond ``timestamp``: both as Glance created them.
Timestamp = DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")

# Tables are created by Glance with InnoDB and the 3-byte utf8 charset; ours
# match so that a database can be shared.
MYSQL_TABLE_ARGS = {"mysql_engine": "InnoDB", "mysql_charset": "utf8"}


class Base(DeclarativeBase):
    """Declarative base of every glancedb model."""

    metadata = MetaData()


class TimestampMixin:
    """``created_at`` / ``updated_at`` as every Glance table has them."""

    created_at: Mapped[datetime.datetime] = mapped_column(Timestamp, nullable=False, default=utcnow)
    updated_at: Mapped[datetime.datetime | None] = mapped_column(
        Timestamp, nullable=True, default=utcnow, onupdate=utcnow
    )


class SoftDeleteMixin(TimestampMixin):
    """Timestamps plus Glance's soft-delete columns."""

    deleted_at: Mapped[datetime.datetime | None] = mapped_column(Timestamp, nullable=True)
    deleted: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
