"""Purging soft-deleted rows in bounded batches (SPEC 10).

A purge never runs as one transaction over every row.  One query selects the
primary keys of the oldest purgeable rows (a window of a few batches); each
batch of at most :data:`PURGE_BATCH_SIZE` of those keys is then deleted in
its own short transaction, which re-checks that the rows still qualify.
Each batch is retried on its own after a deadlock or a lost connection;
batches already committed stay committed.  Selecting the keys first, then
``DELETE ... WHERE id IN (<keys>)``, sidesteps MySQL's refusal of ``LIMIT``
inside an ``IN`` subquery and keeps the statement identical on every backend.
"""

from __future__ import annotations

import datetime
import logging
import sqlite3
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Table,
    delete,
    exists,
    func,
    not_,
    or_,
    select,
    true,
)

from glancedb.context import ContextLike
from glancedb.driver_errors import translated_errors
from glancedb.exception import Invalid
from glancedb.models import tables as t
from glancedb.timeutils import utcnow
from glancedb.transactions import DatabaseCore, nested_too_deeply, retrying
from glancedb.validation import check_int32, check_max_rows, to_int

LOG = logging.getLogger("glancedb.purge")

#: Rows of one table deleted per transaction (fewer on a SQLite build whose
#: bound-parameter limit is lower): each commit has a fixed cost, while a
#: batch this size keeps every transaction short (benchmarks/purge_memory.py).
PURGE_BATCH_SIZE = 5000

#: Batches whose keys one query selects (bounds memory to this many batches'
#: keys while sparing a scan and sort of the table per batch).
WINDOW_BATCHES = 4

# Bound parameters a DELETE needs besides the keys (cutoff, flags).
_PARAMETER_MARGIN = 16

#: The image-side children purged by :meth:`PurgeAPI.purge_deleted_rows`, in order.
IMAGE_CHILD_TABLES: tuple[Table, ...] = (
    t.image_properties,
    t.image_locations,
    t.image_members,
    t.image_tags,
)

#: Key of the purge result counting images kept because rows still refer to them.
IMAGES_SKIPPED = "images_skipped"

#: ``progress(table_name, rows_in_batch)``, called after each committed batch
#: (or, in a dry run, once per table with the count).
ProgressCallback = Callable[[str, int], None]


def cutoff_for(age_in_days: Any) -> datetime.datetime:
    """The moment before which a soft-deleted row is old enough to purge."""
    days = to_int("age_in_days", age_in_days)
    if days < 0:
        raise Invalid(f"age_in_days must not be negative, got {days}")
    try:
        return utcnow() - datetime.timedelta(days=days)
    except OverflowError:
        raise Invalid(f"age_in_days {days} is out of range") from None


def _purgeable(table: Table, cutoff: datetime.datetime) -> list[ColumnElement[bool]]:
    # Both flags: a revived row (deleted=False) can keep an old deleted_at,
    # and must not be purged.
    return [table.c.deleted == true(), table.c.deleted_at < cutoff]


def _unreferenced_image() -> list[ColumnElement[bool]]:
    """No child row (deleted or not) refers to the image."""
    return [not_(exists().where(child.c.image_id == t.images.c.id)) for child in IMAGE_CHILD_TABLES]


def _referenced_image() -> ColumnElement[bool]:
    """Some child row (deleted or not) refers to the image."""
    return or_(*(exists().where(child.c.image_id == t.images.c.id) for child in IMAGE_CHILD_TABLES))


class _Plan:
    """Which rows of a table a purge targets: the table, its key, its filter."""

    def __init__(self, table: Table, where: list[ColumnElement[bool]]) -> None:
        self.table = table
        self.where = where
        self.key = table.c.id
        self.order = [table.c.deleted_at, table.c.id]


def _purge_options(
    age_in_days: Any, max_rows: Any, batch_size: Any, progress: Any
) -> tuple[datetime.datetime, int, int]:
    """The cutoff time, row limit and batch size of a purge call, checked
    (its progress callback too)."""
    try:
        cutoff = cutoff_for(age_in_days)
        limit = check_max_rows(max_rows)
        size = _batch_size(batch_size)
        _check_progress(progress)
    except RecursionError:
        # These calls are not @retrying, which turns it into Invalid elsewhere.
        raise nested_too_deeply() from None
    return cutoff, limit, size


class PurgeAPI(DatabaseCore):
    """Purging soft-deleted rows in bounded batches (SPEC 10).

    The public calls are deliberately not one ``@retrying`` transaction:
    every batch is its own short, separately retried transaction.
    """

    def purge_deleted_rows(
        self,
        context: ContextLike,
        age_in_days: int,
        max_rows: int,
        *,
        dry_run: bool = False,
        progress: ProgressCallback | None = None,
        batch_size: int = PURGE_BATCH_SIZE,
    ) -> dict[str, int]:
        """Physically remove rows soft-deleted more than ``age_in_days`` ago.

        Every soft-delete table except ``images``: the ``task_info`` rows of
        purged tasks with their tasks, then image properties, locations,
        members and tags; oldest first, at most ``max_rows`` per table
        (``-1``: no limit).  Returns ``{table name: rows deleted}``.  With
        ``dry_run`` nothing is deleted and the counts say what would be.
        ``progress(table, rows)`` is called after each batch.
        """
        cutoff, limit, size = _purge_options(age_in_days, max_rows, batch_size, progress)
        result: dict[str, int] = {}
        if dry_run:
            result.update(self._count_tasks(cutoff, limit))
            for table in IMAGE_CHILD_TABLES:
                result[table.name] = self._count(_Plan(table, _purgeable(table, cutoff)), limit)
            if progress is not None:
                for name, count in result.items():
                    progress(name, count)
            return result
        tasks = _Plan(t.tasks, _purgeable(t.tasks, cutoff))
        done = self._purge_rows(tasks, limit, size, progress, self._delete_tasks)
        result[t.task_info.name] = done.get(t.task_info.name, 0)
        result[t.tasks.name] = done.get(t.tasks.name, 0)
        for table in IMAGE_CHILD_TABLES:
            plan = _Plan(table, _purgeable(table, cutoff))
            done = self._purge_rows(plan, limit, size, progress, self._delete_rows)
            result[table.name] = done.get(table.name, 0)
        LOG.info("Purged rows deleted more than %s days ago: %s", age_in_days, result)
        return result

    def purge_deleted_rows_from_images(
        self,
        context: ContextLike,
        age_in_days: int,
        max_rows: int,
        *,
        dry_run: bool = False,
        progress: ProgressCallback | None = None,
        batch_size: int = PURGE_BATCH_SIZE,
    ) -> dict[str, int]:
        """Physically remove images soft-deleted more than ``age_in_days`` ago.

        Oldest first, at most ``max_rows`` (``-1``: no limit).  An image that
        child rows (properties, locations, members, tags) still refer to is
        skipped — run :meth:`purge_deleted_rows` first — and counted under
        ``images_skipped``.  Returns ``{'images': deleted, 'images_skipped':
        kept}``; ``dry_run`` and ``progress`` as for
        :meth:`purge_deleted_rows`.
        """
        cutoff, limit, size = _purge_options(age_in_days, max_rows, batch_size, progress)
        plan = _Plan(t.images, [*_purgeable(t.images, cutoff), *_unreferenced_image()])
        if dry_run:
            deleted = self._count(plan, limit)
            if progress is not None:
                progress(t.images.name, deleted)
        else:
            done = self._purge_rows(plan, limit, size, progress, self._delete_rows)
            deleted = done.get(t.images.name, 0)
            LOG.info("Purged %d image(s) deleted more than %s days ago", deleted, age_in_days)
        skipped = self._count(
            _Plan(t.images, [*_purgeable(t.images, cutoff), _referenced_image()]), -1
        )
        if skipped:
            LOG.info(
                "Kept %d deleted image(s) that other rows still refer to; "
                "purge those rows first (glancedb db purge)",
                skipped,
            )
        return {t.images.name: deleted, IMAGES_SKIPPED: skipped}

    # --- batches -------------------------------------------------------------------

    def _purge_rows(
        self,
        plan: _Plan,
        limit: int,
        size: int,
        progress: ProgressCallback | None,
        delete_batch: Callable[[_Plan, Sequence[Any]], dict[str, int]],
    ) -> dict[str, int]:
        """Purge ``plan``'s rows, oldest first: windows of keys, batches of deletes.

        One query selects the keys of the next oldest rows (a window of
        :data:`WINDOW_BATCHES` batches, so that the table is not scanned and
        sorted again for every batch); each batch of ``size`` keys is then
        deleted in its own transaction.
        """
        main = plan.table.name
        size = self._bounded_batch_size(size)
        totals: dict[str, int] = {}
        while limit == -1 or totals.get(main, 0) < limit:
            window = size * WINDOW_BATCHES
            wanted = window if limit == -1 else min(window, limit - totals.get(main, 0))
            keys = self._select_window(plan, wanted)
            deleted_in_window = 0
            for start in range(0, len(keys), size):
                counts = delete_batch(plan, keys[start : start + size])
                deleted_in_window += counts[main]
                for table, rows in counts.items():
                    totals[table] = totals.get(table, 0) + rows
                    if rows and progress is not None:
                        progress(table, rows)
            # A window that deleted nothing means concurrent changes won:
            # stop rather than spin.
            if len(keys) < wanted or deleted_in_window == 0:
                break
        return totals

    def _bounded_batch_size(self, size: int) -> int:
        """``size``, lowered to fit SQLite's bound-parameter limit if needed."""
        if self.backend != "sqlite":
            return size
        with translated_errors(), self.engine.connect() as conn:
            raw: Any = conn.connection.dbapi_connection
            limit = int(raw.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER))
        return max(1, min(size, limit - _PARAMETER_MARGIN))

    @retrying
    def _select_window(self, plan: _Plan, wanted: int) -> Sequence[Any]:
        # On the primary (not a replica): the keys must be current.
        with self._writing() as conn:
            query = select(plan.key).where(*plan.where).order_by(*plan.order).limit(wanted)
            return list(conn.execute(query).scalars())

    @retrying
    def _delete_rows(self, plan: _Plan, keys: Sequence[Any]) -> dict[str, int]:
        """One transaction: delete the rows of ``keys`` that still qualify."""
        with self._writing() as conn:
            statement = delete(plan.table).where(plan.key.in_(keys), *plan.where)
            return {plan.table.name: conn.execute(statement).rowcount}

    @retrying
    def _delete_tasks(self, plan: _Plan, keys: Sequence[Any]) -> dict[str, int]:
        """One transaction: the info rows of the tasks of ``keys``, then the tasks."""
        still_purgeable = select(t.tasks.c.id).where(t.tasks.c.id.in_(keys), *plan.where)
        with self._writing() as conn:
            info = conn.execute(
                delete(t.task_info).where(t.task_info.c.task_id.in_(still_purgeable))
            )
            tasks = conn.execute(delete(t.tasks).where(t.tasks.c.id.in_(keys), *plan.where))
            return {t.task_info.name: info.rowcount, t.tasks.name: tasks.rowcount}

    # --- dry-run counts --------------------------------------------------------------

    @retrying
    def _count(self, plan: _Plan, limit: int) -> int:
        query = select(func.count()).select_from(plan.table).where(*plan.where)
        with self._reading() as conn:
            count = int(conn.execute(query).scalar() or 0)
        return count if limit == -1 else min(count, limit)

    @retrying
    def _count_tasks(self, cutoff: datetime.datetime, limit: int) -> dict[str, int]:
        # The tasks a real run would take (oldest first, at most ``limit``),
        # as a derived table: MySQL accepts LIMIT there, unlike in IN (...).
        chosen = select(t.tasks.c.id).where(*_purgeable(t.tasks, cutoff))
        if limit != -1:
            chosen = chosen.order_by(t.tasks.c.deleted_at, t.tasks.c.id).limit(limit)
        picked = chosen.subquery("picked")
        tasks_query = select(func.count()).select_from(picked)
        info_query = select(func.count()).select_from(
            picked.join(t.task_info, t.task_info.c.task_id == picked.c.id)
        )
        with self._reading() as conn:
            tasks = int(conn.execute(tasks_query).scalar() or 0)
            info = int(conn.execute(info_query).scalar() or 0)
        return {t.task_info.name: info, t.tasks.name: tasks}


def _batch_size(value: Any) -> int:
    size = check_int32("batch_size", value)
    if size < 1:
        raise Invalid(f"batch_size must be positive, got {size}")
    return size


def _check_progress(progress: Any) -> None:
    if progress is not None and not callable(progress):
        raise Invalid(f"progress must be a callable or None, got {progress!r}")


__all__ = [
    "IMAGES_SKIPPED",
    "IMAGE_CHILD_TABLES",
    "PURGE_BATCH_SIZE",
    "ProgressCallback",
    "PurgeAPI",
    "cutoff_for",
]
