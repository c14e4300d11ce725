"""Query plans of the statements a call sends, as sent (bound parameters)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from sqlalchemy import event

from glancedb import Database

#: How the statements that read ``images`` rows begin (a split page selects
#: from its merged walks, ``page``).
LISTING_STATEMENTS = ("SELECT IMAGES.", "SELECT PAGE.")


def listing_statements(db: Database, call: Callable[[], Any]) -> list[tuple[str, Any]]:
    """The statements reading ``images`` rows that ``call()`` sends, with their parameters."""
    sent: list[tuple[str, Any]] = []

    def keep(_conn: Any, _cursor: Any, statement: str, params: Any, *_args: Any) -> None:
        if statement.lstrip().upper().startswith(LISTING_STATEMENTS):
            sent.append((statement, params))

    event.listen(db.engine, "before_cursor_execute", keep)
    try:
        call()
    finally:
        event.remove(db.engine, "before_cursor_execute", keep)
    return sent


def explained_page(db: Database, call: Callable[[], Any], *, sorting: bool = False) -> str:
    """The plan of the page statement ``call()`` sends, as sent (bound parameters)."""
    statement, params = listing_statements(db, call)[-1]  # after the marker lookup, if any
    raw = db.engine.raw_connection()
    try:
        cursor = raw.cursor()
        if db.backend == "sqlite":
            cursor.execute("EXPLAIN QUERY PLAN " + statement, params)
            plan = " / ".join(str(row[3]) for row in cursor.fetchall())
        else:
            if not sorting:
                # Costs aside (a few hundred rows), an index must be able to
                # deliver the order: no Sort node once sorting is discouraged.
                cursor.execute("SET enable_sort = off")
            cursor.execute("EXPLAIN " + statement, params)
            plan = " / ".join(str(row[0]) for row in cursor.fetchall())
        cursor.close()
        raw.rollback()
    finally:
        raw.close()
    return plan


def rows_read_per_listing_statement(db: Database, call: Callable[[], Any]) -> list[int]:
    """MySQL/MariaDB: the ``images`` rows each listing statement of ``call()``
    actually read (``ANALYZE FORMAT=JSON``, the statements replayed as sent)."""
    return [
        sum(access["rows"] for access in _images_accesses(plan))
        for plan in _analysed(db, listing_statements(db, call))
    ]


def images_accesses(db: Database, call: Callable[[], Any]) -> list[dict[str, Any]]:
    """MySQL/MariaDB: each access to ``images`` in the analysed plan of the
    page statement ``call()`` sends: its ``key``, ``using_index`` and the rows
    it read (``r_rows`` times its loops)."""
    (plan,) = _analysed(db, listing_statements(db, call)[-1:])
    return _images_accesses(plan)


def _analysed(db: Database, sent: list[tuple[str, Any]]) -> list[Any]:
    """MySQL/MariaDB: the ``ANALYZE FORMAT=JSON`` plans of ``sent`` statements, replayed."""
    plans: list[Any] = []
    raw = db.engine.raw_connection()
    try:
        cursor = raw.cursor()
        for statement, params in sent:
            cursor.execute("ANALYZE FORMAT=JSON " + statement, params)
            plans.append(json.loads(cursor.fetchone()[0]))
        cursor.close()
        raw.rollback()
    finally:
        raw.close()
    return plans


def _images_accesses(node: Any) -> list[dict[str, Any]]:
    """The accesses to ``images`` in an analysed plan: key, whether from the
    index alone, rows read (each access's rows times its loops)."""
    if isinstance(node, list):
        return [access for item in node for access in _images_accesses(item)]
    if not isinstance(node, dict):
        return []
    found: list[dict[str, Any]] = []
    if node.get("table_name") == "images" and "r_rows" in node:
        rows = float(node["r_rows"] or 0) * float(node.get("r_loops") or 1)
        found.append(
            {
                "key": node.get("key"),
                "using_index": bool(node.get("using_index")),
                "rows": round(rows),
            }
        )
    for value in node.values():
        found.extend(_images_accesses(value))
    return found
