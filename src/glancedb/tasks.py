"""Tasks and their info (SPEC 8).

A task is one row of ``tasks`` plus at most one row of ``task_info`` holding
its ``input`` and ``result`` (JSON text) and ``message`` (plain text).
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Mapping
from contextlib import AbstractContextManager
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    DateTime,
    Row,
    String,
    false,
    insert,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.sql.expression import Select

from glancedb.context import ContextLike, context_can_see_deleted, context_is_admin, context_owner
from glancedb.exception import Forbidden, Invalid, InvalidSortKey, TaskNotFound
from glancedb.keyset import OrderKey, check_direction, check_limit, paginate, with_tie_breakers
from glancedb.models import tables as t
from glancedb.records import Record, dump_json, load_json
from glancedb.timeutils import utcnow
from glancedb.transactions import DatabaseCore, retrying
from glancedb.validation import (
    check_datetime,
    check_lengths,
    check_mapping,
    check_scalar,
    check_text,
    filter_text,
    lookup_key,
    reject_unstorable_text,
)

TASK_COLUMNS: tuple[str, ...] = tuple(c.name for c in t.tasks.columns)
TASK_INFO_KEYS: tuple[str, ...] = ("input", "result", "message")
_REQUIRED_ON_CREATE = ("type", "status", "owner")
# Keys callers may pass but that task_update never writes as given.
_PROTECTED_ON_UPDATE = frozenset({"id", "created_at", "updated_at", "deleted_at"})


def _visible_clause(context: ContextLike) -> ColumnElement[bool] | None:
    """SQL form of task visibility: None when everything is visible."""
    if context_is_admin(context):
        return None
    owner = context_owner(context)
    if owner is None:
        # Only ownerless tasks (which the NOT NULL column cannot hold).
        return t.tasks.c.owner.is_(None)
    return t.tasks.c.owner == owner


def is_task_visible(context: ContextLike, task: Mapping[str, Any]) -> bool:
    """Admins see every task; others tasks without an owner or their own."""
    if context_is_admin(context) or task["owner"] is None:
        return True
    owner = context_owner(context)
    return owner is not None and owner == task["owner"]


def _task_record(row: Row[Any], with_info: bool) -> Record:
    mapping = row._mapping
    record = Record((c, mapping[c]) for c in TASK_COLUMNS)
    if with_info:
        record["input"] = load_json(mapping["input"])
        record["result"] = load_json(mapping["result"])
        record["message"] = mapping["message"]
    return record


def _select_tasks(with_info: bool) -> Select[Any]:
    if not with_info:
        return select(t.tasks)
    return select(
        t.tasks, t.task_info.c.input, t.task_info.c.result, t.task_info.c.message
    ).select_from(t.tasks.outerjoin(t.task_info, t.task_info.c.task_id == t.tasks.c.id))


_TIME_COLUMNS = frozenset(
    name for name, column in t.tasks.c.items() if isinstance(column.type, DateTime)
)


def _encode_info(key: str, value: Any) -> str | None:
    if key == "message":
        check_scalar("Task message", value)
        return None if value is None else str(value)
    try:
        return dump_json(value)
    except (TypeError, ValueError) as exc:
        raise Invalid(f"Task {key} cannot be encoded as JSON: {exc}") from None


def _info_values(values: Mapping[str, Any]) -> dict[str, Any]:
    """The task_info columns of ``values``, encoded and checked."""
    info: dict[str, Any] = {}
    for key in TASK_INFO_KEYS:
        if key not in values:
            continue
        info[key] = _encode_info(key, values[key])
    check_lengths(t.task_info, info)
    return info


def _task_values(values: Mapping[str, Any], *, creating: bool) -> dict[str, Any]:
    """The ``tasks`` columns of ``values`` (unknown keys ignored), checked.

    Text columns take strings, time columns datetimes, ``deleted`` any
    single value (as a bool).
    """
    columns = {k: v for k, v in values.items() if isinstance(k, str) and k in t.tasks.c}
    if not creating:
        columns = {k: v for k, v in columns.items() if k not in _PROTECTED_ON_UPDATE}
    for key in _REQUIRED_ON_CREATE:
        if (creating or key in columns) and columns.get(key) is None:
            raise Invalid(f"Task {key} is required, got {columns.get(key)!r}")
    for key, value in columns.items():
        if value is None:
            continue
        if key in _TIME_COLUMNS:
            columns[key] = check_datetime(f"Task {key}", value)
        elif key == "deleted":
            check_scalar("Task deleted", value)
            columns[key] = bool(value)
        else:
            check_text(f"Task {key}", value)
    check_lengths(t.tasks, columns)
    return columns


def _task_row(
    conn: Connection,
    context: ContextLike,
    task_id: str,
    *,
    force_show_deleted: bool = False,
    with_info: bool = True,
) -> Row[Any]:
    """The task row, checked for existence and visibility."""
    key = lookup_key(task_id, "task id")
    if key is None:
        raise TaskNotFound(f"No task found with ID {task_id!r}")
    query = _select_tasks(with_info).where(t.tasks.c.id == key)
    if not force_show_deleted and not context_can_see_deleted(context):
        query = query.where(t.tasks.c.deleted == false())
    row = conn.execute(query).first()
    if row is None:
        raise TaskNotFound(f"No task found with ID {task_id}")
    if not is_task_visible(context, dict(row._mapping)):
        raise Forbidden(f"Forbidding request, task {task_id} is not visible")
    return row


def _soft_delete_expired(conn: Connection, context: ContextLike, now: datetime.datetime) -> None:
    """Soft-delete the context owner's tasks expired at ``now`` (``expires_at <= now``)."""
    owner = context_owner(context)
    if owner is None:
        return
    conn.execute(
        update(t.tasks)
        .where(
            t.tasks.c.owner == owner,
            t.tasks.c.deleted == false(),
            t.tasks.c.expires_at <= now,
        )
        .values(deleted=True, deleted_at=now)
    )


def _filter_conditions(filters: Any) -> list[ColumnElement[bool]] | None:
    """``task_get_all``'s filters as conditions; None when no task can match.

    ``deleted`` compares as a flag, time columns take datetimes, text columns
    compare as text; None values and keys that are not task columns are
    ignored (Glance).
    """
    if filters is None:
        return []
    check_mapping("filters", filters)
    conditions: list[ColumnElement[bool]] = []
    for key, value in filters.items():
        if value is None or not isinstance(key, str) or key not in t.tasks.c:
            continue
        check_scalar(f"Filter {key!r}", value)
        column = t.tasks.c[key]
        if key == "deleted":
            conditions.append(column == (true() if value else false()))
        elif isinstance(column.type, DateTime):
            conditions.append(column == check_datetime(f"Filter {key!r}", value))
        elif isinstance(column.type, String):
            text = filter_text(key, value if isinstance(value, str) else str(value))
            if text is None:
                return None
            conditions.append(column == text)
    return conditions


def _fetch_task(conn: Connection, task_id: str) -> Record:
    row = conn.execute(_select_tasks(True).where(t.tasks.c.id == task_id)).one()
    return _task_record(row, with_info=True)


# --- public API ------------------------------------------------------------


class TasksAPI(DatabaseCore):
    """Tasks and their info (SPEC 8)."""

    # --- internals -------------------------------------------------------------

    @retrying
    def task_create(self, context: ContextLike, values: Mapping[str, Any]) -> Record:
        """Create a task from ``values`` and return the task dict.

        ``input``, ``result`` and ``message`` go to ``task_info``; the other
        keys naming a ``tasks`` column are stored (``type``, ``status`` and
        ``owner`` are required); unknown keys are ignored.  A given ``id``,
        ``created_at``, ``updated_at``, ``deleted`` and ``deleted_at`` are
        stored as given.
        """
        check_mapping("task values", values)
        reject_unstorable_text(dict(values), "task")
        columns = _task_values(values, creating=True)
        info = _info_values(values)
        now = utcnow()
        if columns.get("id") is None:
            columns["id"] = str(uuid.uuid4())
        for key, default in (("created_at", now), ("updated_at", now), ("deleted", False)):
            if columns.get(key) is None:
                columns[key] = default
        with self._writing() as conn:
            conn.execute(insert(t.tasks).values(**columns))
            conn.execute(insert(t.task_info).values(task_id=columns["id"], **info))
            return _fetch_task(conn, columns["id"])

    @retrying
    def task_update(self, context: ContextLike, task_id: str, values: Mapping[str, Any]) -> Record:
        """Update the task ``task_id`` with ``values``; return the task dict.

        The task must be visible (``TaskNotFound`` / ``Forbidden``).
        ``updated_at`` is set to now; ``deleted`` becomes False unless
        ``values`` gives it; ``id`` and the other timestamps are ignored.
        """
        check_mapping("task values", values)
        reject_unstorable_text(dict(values), "task")
        columns = _task_values(values, creating=False)
        info = _info_values(values)
        now = utcnow()
        columns["updated_at"] = now
        columns["deleted"] = bool(columns.get("deleted"))
        if columns["deleted"]:
            columns["deleted_at"] = now
        with self._writing() as conn:
            task_id = _task_row(conn, context, task_id, with_info=False).id
            conn.execute(update(t.tasks).where(t.tasks.c.id == task_id).values(**columns))
            if info:
                result = conn.execute(
                    update(t.task_info).where(t.task_info.c.task_id == task_id).values(**info)
                )
                if result.rowcount == 0:
                    conn.execute(insert(t.task_info).values(task_id=task_id, **info))
            return _fetch_task(conn, task_id)

    @retrying
    def task_get(
        self, context: ContextLike, task_id: str, force_show_deleted: bool = False
    ) -> Record:
        """The task dict of ``task_id`` (with ``input``, ``result``, ``message``).

        Deleted tasks are found only with ``force_show_deleted`` or a context
        that can see deleted records; else ``TaskNotFound``.  A task of
        another owner → ``Forbidden`` (admins see every task).
        """
        with self._reading() as conn:
            row = _task_row(conn, context, task_id, force_show_deleted=force_show_deleted)
            return _task_record(row, with_info=True)

    @retrying
    def task_delete(self, context: ContextLike, task_id: str) -> Record:
        """Soft-delete the task ``task_id`` and return its task dict."""
        now = utcnow()
        with self._writing() as conn:
            task_id = _task_row(conn, context, task_id, with_info=False).id
            conn.execute(
                update(t.tasks)
                .where(t.tasks.c.id == task_id)
                .values(deleted=True, deleted_at=now, updated_at=now)
            )
            return _fetch_task(conn, task_id)

    def _expiring(self, context: ContextLike) -> AbstractContextManager[Connection]:
        """A write transaction when the caller has expired tasks to soft-delete.

        A context without an owner (an admin's) expires nothing, so its
        listing is a plain read (it works on a read-only database too).
        """
        if context_owner(context) is None:
            return self._reading()
        return self._writing()

    @retrying
    def task_get_all(
        self,
        context: ContextLike,
        filters: Mapping[str, Any] | None = None,
        marker: str | None = None,
        limit: int | None = None,
        sort_key: str = "created_at",
        sort_dir: str = "desc",
        admin_as_user: bool = False,
    ) -> list[Record]:
        """List task dicts (without ``input``, ``result``, ``message``).

        ``filters``: ``deleted`` and any other task column, by equality (None
        values and unknown keys ignored); no implicit ``deleted`` filter.
        ``marker``: the task id the page starts after, in the order
        ``[sort_key, created_at, id]`` all in ``sort_dir``.  A non-admin (or an
        admin with ``admin_as_user``) that has an owner sees only its own
        tasks.  The caller's expired tasks are soft-deleted first.
        """
        if not isinstance(sort_key, str) or sort_key not in t.tasks.c:
            raise InvalidSortKey(f"Invalid sort key {sort_key!r} for tasks")
        direction = check_direction(sort_dir)
        page_limit = check_limit(limit)
        tasks = t.tasks.c
        columns = with_tie_breakers([tasks[sort_key]], [tasks.created_at, tasks.id])
        keys = [OrderKey(column, direction) for column in columns]
        conditions = _filter_conditions(filters)
        showing_deleted = bool(filters.get("deleted")) if filters else False
        with self._expiring(context) as conn:
            _soft_delete_expired(conn, context, utcnow())
            if conditions is None:
                return []
            query = select(t.tasks).where(*conditions)
            owner = context_owner(context)
            if (not context_is_admin(context) or admin_as_user) and owner is not None:
                query = query.where(t.tasks.c.owner == owner)
            marker_row = (
                None
                if marker is None
                else _task_row(
                    conn, context, marker, force_show_deleted=showing_deleted, with_info=False
                )._mapping
            )
            query = paginate(query, keys, marker_row, page_limit)
            return [_task_record(row, with_info=False) for row in conn.execute(query)]

    @retrying
    def tasks_get_by_image(self, context: ContextLike, image_id: str) -> list[Record]:
        """The non-expired task dicts of ``image_id`` visible to ``context``.

        Deleted tasks are included only for contexts that can see deleted
        records.  The caller's expired tasks are soft-deleted first.  Both
        use one "now": a task whose ``expires_at`` is at or before it is
        expired (and soft-deleted when it is the caller's), any other is
        returned.
        """
        key = lookup_key(image_id, "image id")
        now = utcnow()
        with self._expiring(context) as conn:
            _soft_delete_expired(conn, context, now)
            if key is None:
                return []
            query = _select_tasks(True).where(
                t.tasks.c.image_id == key,
                or_(t.tasks.c.expires_at.is_(None), t.tasks.c.expires_at > now),
            )
            if not context_can_see_deleted(context):
                query = query.where(t.tasks.c.deleted == false())
            visible = _visible_clause(context)
            if visible is not None:
                query = query.where(visible)
            query = query.order_by(t.tasks.c.created_at, t.tasks.c.id)
            return [_task_record(row, with_info=True) for row in conn.execute(query)]
