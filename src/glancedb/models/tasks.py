"""Models of the task tables (``tasks`` and ``task_info``)."""

from __future__ import annotations

import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from glancedb.models.base import MYSQL_TABLE_ARGS, Base, SoftDeleteMixin, Timestamp


class Task(SoftDeleteMixin, Base):
    """An asynchronous task (import, export, ...)."""

    __tablename__ = "tasks"
    __table_args__ = (
        Index("ix_tasks_type", "type"),
        Index("ix_tasks_status", "status"),
        Index("ix_tasks_owner", "owner"),
        Index("ix_tasks_deleted", "deleted"),
        Index("ix_tasks_updated_at", "updated_at"),
        Index("ix_tasks_image_id", "image_id"),
        MYSQL_TABLE_ARGS,
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    type: Mapped[str] = mapped_column(String(30), nullable=False)
    status: Mapped[str] = mapped_column(String(30), nullable=False)
    owner: Mapped[str] = mapped_column(String(255), nullable=False)
    expires_at: Mapped[datetime.datetime | None] = mapped_column(Timestamp)
    image_id: Mapped[str | None] = mapped_column(String(36))
    request_id: Mapped[str | None] = mapped_column(String(64))
    user_id: Mapped[str | None] = mapped_column(String(64))


class TaskInfo(Base):
    """A task's input, result and message (JSON text for the first two)."""

    __tablename__ = "task_info"
    __table_args__ = (MYSQL_TABLE_ARGS,)

    task_id: Mapped[str] = mapped_column(String(36), ForeignKey("tasks.id"), primary_key=True)
    input: Mapped[str | None] = mapped_column(Text)
    result: Mapped[str | None] = mapped_column(Text)
    message: Mapped[str | None] = mapped_column(Text)
