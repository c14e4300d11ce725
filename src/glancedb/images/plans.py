"""Query shapes that keep each backend's planner on the selective index.

Glance's schema indexes columns with one or two values (``deleted`` on every
image table, ``visibility``).  Given an equality on such a column, SQLite and
MySQL/MariaDB use its index (or merge it with others) and read a large share
of the table, where walking the page's order index or an ``image_id`` index
would stop after a few rows.  Comparing the column through an expression
keeps that index out of reach without changing the result.  PostgreSQL
estimates plain comparisons from its statistics and picks well by itself; an
opaque expression would only spoil its row estimates, so its queries use the
plain forms.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, String, cast, false, func

#: Backends whose planners are kept away from the low-selectivity indexes.
OPAQUE_FLAG_DIALECTS = frozenset({"sqlite", "mysql", "mariadb"})


def uses_opaque_flags(dialect: str) -> bool:
    """Whether queries for ``dialect`` compare flag columns through expressions."""
    return dialect in OPAQUE_FLAG_DIALECTS


def not_deleted(deleted: ColumnElement[Any], *, opaque: bool = True) -> ColumnElement[bool]:
    """The row is live: ``deleted`` is false, written out of the index's reach if ``opaque``."""
    if opaque:
        return func.coalesce(deleted, false()) == false()
    return deleted == false()


def flag_text(column: ColumnElement[Any], *, opaque: bool = True) -> ColumnElement[Any]:
    """An enum/flag column compared as text when ``opaque`` (its index then never applies)."""
    return cast(column, String(9)) if opaque else column
