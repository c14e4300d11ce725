"""Hot reads run on the driver's cursor: compiled once per dialect, rows as tuples.

``Connection.execute`` costs about 11 us per statement above the driver's
own work on SQLite (its execution context, result object and row objects),
as much as the driver and the database spend on a one-row read.  The
statements of the hot paths are built once per shape, so they can be
compiled once as well: :func:`fetch_all` sends the compiled SQL straight to
the DBAPI cursor of the call's connection (in the call's transaction),
applies the same bind and result conversions SQLAlchemy would, and returns
the driver's tuples.  What stays SQLAlchemy's: the connection, its pool and
transaction, the SQL text, the types' conversions and the errors (a driver
error leaves as SQLAlchemy's own wrapping of it, with the disconnect check
of the dialect).  ``execute`` still runs a statement that SQLAlchemy must
re-render on every execution (an expanding ``IN``), and every statement of
an engine that has event listeners (tracing, statement counters, the
benchmark's recorder: they get the execution context they expect) or whose
SQL SQLAlchemy logs (``echo``).
"""

from __future__ import annotations

import contextlib
import functools
import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import CompoundSelect, Connection, Dialect, Select, exc

Query = Select[Any] | CompoundSelect[Any]

Processor = Callable[[Any], Any]


@dataclass(frozen=True, slots=True)
class _Compiled:
    """A statement compiled for one dialect, with what its execution needs."""

    sql: str
    # Positional paramstyles: the parameter values in placeholder order, as
    # one tuple, read from the mapping of all values by name.
    positional: Callable[[Mapping[str, Any]], tuple[Any, ...]] | None
    # Named paramstyles: the parameter names as the SQL text spells them.
    spelled: Mapping[str, str]
    # The values the statement itself carries (literals bound as parameters).
    own_values: Mapping[str, Any]
    binds: Mapping[str, Processor]
    # Converts the driver's rows when a result column needs converting.
    convert_rows: Callable[[Sequence[Sequence[Any]]], list[tuple[Any, ...]]] | None


@functools.lru_cache(maxsize=512)
def _compiled(statement: Query, dialect: Dialect) -> _Compiled | None:
    compiled: Any = statement.compile(dialect=dialect)
    if compiled.post_compile_params or compiled.literal_execute_params:
        return None
    binds: dict[str, Processor] = {}
    for name, bind in compiled.binds.items():
        processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
        if processor is not None:
            binds[name] = processor
    results = tuple(
        (position, processor)
        for position, column in enumerate(statement.selected_columns)
        if (processor := column.type.dialect_impl(dialect).result_processor(dialect, None))
        is not None
    )
    width = len(statement.selected_columns)
    return _Compiled(
        sql=compiled.string,
        positional=_in_order(tuple(compiled.positiontup)) if compiled.positional else None,
        spelled=dict(compiled.escaped_bind_names or {}),
        own_values={
            name: bind.effective_value for name, bind in compiled.binds.items() if not bind.required
        },
        binds=binds,
        convert_rows=_row_converter(width, results) if results else None,
    )


def _row_converter(
    width: int, results: Sequence[tuple[int, Processor]]
) -> Callable[[Sequence[Sequence[Any]]], list[tuple[Any, ...]]]:
    """A function converting rows of ``width`` columns, each ``(position,
    converter)`` of ``results`` applied.

    Generated (as :func:`collections.namedtuple` generates its class), so that
    a row is unpacked once and rebuilt as one tuple with a direct call per
    converted column: the generic loop over the pairs took a third longer,
    on every row of every hot read.  Only column positions go into the source.
    """
    columns = [f"c{position}" for position in range(width)]
    converters = {position: f"convert_{position}" for position, _convert in results}
    items = ", ".join(
        f"{converters[position]}({column})" if position in converters else column
        for position, column in enumerate(columns)
    )
    source = (
        f"def convert_rows(rows):\n    return [({items},) for ({', '.join(columns)},) in rows]\n"
    )
    namespace: dict[str, Any] = {converters[position]: convert for position, convert in results}
    exec(source, namespace)
    function: Callable[[Sequence[Sequence[Any]]], list[tuple[Any, ...]]] = namespace["convert_rows"]
    return function


def _in_order(names: tuple[str, ...]) -> Callable[[Mapping[str, Any]], tuple[Any, ...]]:
    """A function of a mapping returning its values of ``names``, in order, as a tuple."""
    if len(names) > 1:
        return operator.itemgetter(*names)  # a tuple already, read in C
    if names:
        single = operator.itemgetter(names[0])
        return lambda values: (single(values),)
    return lambda _values: ()


def fetch_all(
    conn: Connection, statement: Query, params: Mapping[str, Any] | None = None
) -> Sequence[Sequence[Any]]:
    """The rows of ``statement`` with ``params``, as tuples, in ``conn``'s transaction.

    ``statement`` must be built once and reused (it is the key of the
    compiled form).  The transaction must have begun (every glancedb call's
    has: :mod:`glancedb.transactions`).
    """
    compiled = _compiled(statement, conn.dialect)
    if compiled is None or conn._echo or conn._has_events or conn.engine._has_events:
        # SQLAlchemy's SQL log (echo) and its events come from its own
        # execution path: listeners (tracing, statement counters) get the
        # execution context they expect.
        return conn.execute(statement, params).all()
    values: Mapping[str, Any]
    if compiled.own_values or compiled.binds or not params:
        merged = {**compiled.own_values, **params} if params else dict(compiled.own_values)
        for name, processor in compiled.binds.items():
            merged[name] = processor(merged[name])
        values = merged
    else:
        values = params  # the common case: nothing to add or convert
    driver_params: Any
    if compiled.positional is not None:
        driver_params = compiled.positional(values)
    elif compiled.spelled:
        driver_params = {compiled.spelled.get(name, name): value for name, value in values.items()}
    else:
        driver_params = values
    rows = _run(conn, compiled.sql, driver_params)
    if compiled.convert_rows is None or not rows:
        return rows
    # SQLAlchemy's processors take NULL (None) too, as its own execution
    # hands it to them.
    return compiled.convert_rows(rows)


def fetch_one(
    conn: Connection, statement: Query, params: Mapping[str, Any] | None = None
) -> Sequence[Any] | None:
    """The first row of ``statement`` (see :func:`fetch_all`), or None."""
    rows = fetch_all(conn, statement, params)
    return rows[0] if rows else None


def _run(conn: Connection, sql: str, params: Any) -> Sequence[Any]:
    fairy = conn.connection
    cursor = fairy.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(sql, params)
        rows = cursor.fetchall() if cursor.description is not None else ()
    except conn.dialect.loaded_dbapi.Error as error:
        failure = driver_error(conn, sql, params, error, cursor)
        _close_cursor(conn, cursor)
        raise failure from error
    except BaseException:
        _close_cursor(conn, cursor)
        raise
    cursor.close()
    return rows


def driver_error(
    conn: Connection, sql: str, params: Any, error: Any, cursor: Any = None
) -> exc.StatementError:
    """SQLAlchemy's wrapping of a driver ``error`` raised on ``conn``, as its own
    execution would raise it: a lost session is flagged and ``conn`` invalidated."""
    dialect = conn.dialect
    lost = dialect.is_disconnect(error, conn.connection.dbapi_connection, cursor)
    if lost:
        conn.invalidate(error)
    wrapped: exc.StatementError = exc.DBAPIError.instance(
        sql,
        params,
        error,
        dialect.loaded_dbapi.Error,
        connection_invalidated=lost,
        dialect=dialect,
    )
    return wrapped


def _close_cursor(conn: Connection, cursor: Any) -> None:
    # A failed connection may refuse to close the cursor: it goes anyway.
    with contextlib.suppress(conn.dialect.loaded_dbapi.Error):
        cursor.close()
