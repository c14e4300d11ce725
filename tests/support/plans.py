"""Query plans of the statements a call sends, as sent (bound parameters)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import event

from glancedb import Database


def explained_page(db: Database, call: Callable[[], Any], *, sorting: bool = False) -> str:
    """The plan of the page statement ``call()`` sends, as sent (bound parameters)."""
    sent: list[tuple[str, Any]] = []

    def keep(_conn: Any, _cursor: Any, statement: str, params: Any, *_args: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT IMAGES."):
            sent.append((statement, params))

    event.listen(db.engine, "before_cursor_execute", keep)
    try:
        call()
    finally:
        event.remove(db.engine, "before_cursor_execute", keep)
    statement, params = sent[-1]  # after the marker lookup, if any
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
