"""Schema drift: the differences between glancedb's models and a live database.

Alembic's autogenerate compares tables, columns, types, nullability and
(through :func:`_same_server_default`) server defaults.  Keys are compared
here instead — primary keys, indexes, unique constraints and foreign keys —
by name and columns, with each backend's spellings folded together: a unique
constraint and a unique index of the same name are the same thing, MySQL's
implicit foreign-key indexes and generated constraint names are ignored.
Alembic takes a ``DATETIME`` for a ``DATETIME(6)``, so the fractional-second
precision of MySQL's timestamp columns is compared here too.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Column, Connection, Index, MetaData, Table, UniqueConstraint, inspect
from sqlalchemy.dialects import mysql
from sqlalchemy.engine.reflection import Inspector

from glancedb.migrations import VERSION_TABLE

#: Tables that are not part of the schema proper: glancedb's and Glance's
#: version tables.
IGNORED_TABLES = frozenset({VERSION_TABLE, "alembic_version"})

# Alembic diff kinds replaced by this module's own key comparison.
_KEY_DIFFS = frozenset(
    {"add_index", "remove_index", "add_constraint", "remove_constraint", "add_fk", "remove_fk"}
)


@contextmanager
def expression_indexes_understood() -> Iterator[None]:
    """Silence the warnings about indexes on expressions, which this module compares itself."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*expression-based index.*")
        warnings.filterwarnings("ignore", message=".*functional index.*")
        yield


def compare_connection(connection: Connection, metadata: MetaData) -> list[str]:
    """Every difference between ``metadata`` and the database, one line each."""
    with expression_indexes_understood():
        return _compare_connection(connection, metadata)


def _compare_connection(connection: Connection, metadata: MetaData) -> list[str]:
    context = MigrationContext.configure(
        connection,
        opts={
            "include_object": include_object,
            "compare_type": True,
            "compare_server_default": _same_server_default_hook,
            "target_metadata": metadata,
        },
    )
    messages: list[str] = []
    dialect = connection.dialect
    for diff in _flatten(compare_metadata(context, metadata)):
        if diff[0] not in _KEY_DIFFS and not _is_precision_diff(diff, dialect):
            messages.append(_describe(diff))
    inspector = inspect(connection)
    existing = set(inspector.get_table_names())
    for table in metadata.sorted_tables:
        if table.name in existing:
            messages.extend(_compare_precision(inspector, table))
            messages.extend(_compare_keys(inspector, table))
    return messages


def is_missing(difference: str) -> bool:
    """Whether a line of :func:`compare_connection` reports an absent object."""
    return difference.endswith(" missing") or " missing on " in difference


def is_pending(difference: str) -> bool:
    """Whether a line of :func:`compare_connection` is something glancedb's own
    revisions after the first one bring: an absent object (an index), or a
    MySQL timestamp column still without microseconds (``DATETIME``, which
    revision ``0005_mysql_microseconds`` widens to ``DATETIME(6)``).

    A database Glance created differs from the head's models by exactly such
    lines; any other line is drift.
    """
    return is_missing(difference) or difference.endswith(_NARROW_TIMESTAMP)


def include_object(
    obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
) -> bool:
    """Alembic filter: everything except the version tables."""
    return not (type_ == "table" and name in IGNORED_TABLES)


def _flatten(diffs: Iterable[Any]) -> Iterable[tuple[Any, ...]]:
    for diff in diffs:
        if isinstance(diff, list):
            yield from diff
        else:
            yield diff


# --- columns -------------------------------------------------------------------


def _describe(diff: tuple[Any, ...]) -> str:
    kind = diff[0]
    if kind == "add_table":
        return f"table {diff[1].name} missing"
    if kind == "remove_table":
        return f"extra table {diff[1].name}"
    if kind == "add_column":
        return f"column {diff[2]}.{diff[3].name} missing"
    if kind == "remove_column":
        return f"extra column {diff[2]}.{diff[3].name}"
    if kind.startswith("modify_"):
        table, column, old, new = diff[2], diff[3], diff[5], diff[6]
        if kind == "modify_nullable":
            expected = "NULL" if new else "NOT NULL"
            actual = "NULL" if old else "NOT NULL"
            return f"column {table}.{column} is {actual}, expected {expected}"
        if kind == "modify_type":
            return f"column {table}.{column} has type {old}, expected {new}"
        if kind == "modify_default":
            return (
                f"column {table}.{column} has server default {_default_text(old)},"
                f" expected {_default_text(new)}"
            )
        if kind == "modify_comment":
            return f"column {table}.{column} has comment {old!r}, expected {new!r}"
    return f"difference: {diff!r}"


def _default_text(default: Any) -> str:
    if default is None:
        return "none"
    arg = getattr(default, "arg", default)
    return str(getattr(arg, "text", arg))


def _normal_default(value: str | None) -> str | None:
    if value is None:
        return None
    text = value.strip()
    while text.startswith("(") and text.endswith(")"):
        text = text[1:-1].strip()
    text = re.sub(r"::[\w. ]+$", "", text)  # PostgreSQL casts: 'x'::character varying
    text = text.strip("'\"").lower()
    return {"false": "0", "true": "1"}.get(text, text)


def _same_server_default_hook(
    context: Any,
    inspected_column: Any,
    metadata_column: Column[Any],
    inspected_default: str | None,
    metadata_default: Any,
    rendered_metadata_default: str | None,
) -> bool:
    """Alembic hook: True when the two defaults differ beyond spelling."""
    if (
        inspected_default is not None
        and inspected_default.startswith("nextval(")
        and metadata_column.primary_key
    ):
        return False  # the sequence behind a serial primary key
    return _normal_default(inspected_default) != _normal_default(rendered_metadata_default)


# --- fractional seconds (MySQL) ------------------------------------------------

_NARROW_TIMESTAMP = " has type DATETIME, expected DATETIME(6)"


def _fsp(sql_type: Any) -> int:
    return int(getattr(sql_type, "fsp", None) or 0)


def _compare_precision(inspector: Inspector, table: Table) -> list[str]:
    """The timestamp columns whose fractional-second precision differs (MySQL only)."""
    dialect = inspector.bind.dialect
    if dialect.name not in ("mysql", "mariadb"):
        return []
    reflected = {c["name"]: c["type"] for c in inspector.get_columns(table.name)}
    messages = []
    for column in table.columns:
        expected = column.type.dialect_impl(dialect)
        actual = reflected.get(column.name)
        if not isinstance(expected, mysql.DATETIME) or not isinstance(actual, mysql.DATETIME):
            continue
        if _fsp(actual) != _fsp(expected):
            messages.append(
                f"column {table.name}.{column.name} has type {_datetime_text(actual)},"
                f" expected {_datetime_text(expected)}"
            )
    return messages


def _is_precision_diff(diff: tuple[Any, ...], dialect: Any) -> bool:
    """An Alembic type difference between two DATETIMEs: :func:`_compare_precision`'s."""
    if diff[0] != "modify_type":
        return False
    old, new = diff[5], diff[6]
    return isinstance(old, mysql.DATETIME) and isinstance(new.dialect_impl(dialect), mysql.DATETIME)


def _datetime_text(sql_type: Any) -> str:
    fsp = _fsp(sql_type)
    return f"DATETIME({fsp})" if fsp else "DATETIME"


# --- keys ------------------------------------------------------------------------


def _compare_keys(inspector: Inspector, table: Table) -> list[str]:
    name = table.name
    messages: list[str] = []
    expected_pk = [c.name for c in table.primary_key.columns]
    actual_pk = inspector.get_pk_constraint(name).get("constrained_columns") or []
    if list(actual_pk) != expected_pk:
        messages.append(
            f"primary key of {name} is ({', '.join(actual_pk)}),"
            f" expected ({', '.join(expected_pk)})"
        )

    foreign_keys = inspector.get_foreign_keys(name)
    messages.extend(_compare_indexes(inspector, table, foreign_keys))

    expected_fks = {
        (
            tuple(fk.column_keys),
            fk.elements[0].column.table.name,
            tuple(e.column.name for e in fk.elements),
        )
        for fk in table.foreign_key_constraints
    }
    actual_fks = {
        (tuple(fk["constrained_columns"]), fk["referred_table"], tuple(fk["referred_columns"]))
        for fk in foreign_keys
    }
    for cols, referred, ref_cols in sorted(expected_fks - actual_fks):
        messages.append(
            f"foreign key {name}({', '.join(cols)}) -> {referred}({', '.join(ref_cols)}) missing"
        )
    for cols, referred, ref_cols in sorted(actual_fks - expected_fks):
        messages.append(
            f"extra foreign key {name}({', '.join(cols)}) -> {referred}({', '.join(ref_cols)})"
        )
    return messages


Key = tuple[tuple[str, ...], bool]

#: How an index stores its entries beyond its columns: MySQL prefix lengths
#: (``value(255)``), PostgreSQL's access method (``hash``), predicate and
#: included columns (``INCLUDE (image_id)``).
Form = tuple[tuple[tuple[str, int], ...], str, str, tuple[str, ...]]
_PLAIN: Form = ((), "btree", "", ())


def index_applies(index: Index, dialect: str) -> bool:
    """Whether a model index exists on ``dialect`` (see ``Index.ddl_if``).

    Some of glancedb's indexes differ by backend; each is declared once per
    shape, restricted to the backends that get it.
    """
    condition = getattr(index, "_ddl_if", None)
    wanted = getattr(condition, "dialect", None)
    if wanted is None:
        return True
    names = {wanted} if isinstance(wanted, str) else set(wanted)
    return dialect in names or (dialect == "mariadb" and "mysql" in names)


def _expected_form(index: Index, dialect: str) -> Form:
    if dialect in ("mysql", "mariadb"):
        lengths = index.dialect_options["mysql"]["length"] or {}
        if isinstance(lengths, dict):
            return (tuple(sorted((str(k), int(v)) for k, v in lengths.items())), "btree", "", ())
        return (tuple((c.name, int(lengths)) for c in index.columns), "btree", "", ())
    if dialect == "postgresql":
        options = index.dialect_options["postgresql"]
        where = options["where"]
        return (
            (),
            str(options["using"] or "btree").lower(),
            _predicate_text(None if where is None else str(where)),
            tuple(str(column) for column in options["include"] or ()),
        )
    return _PLAIN


def _actual_form(index_info: Any) -> Form:
    options = index_info.get("dialect_options") or {}
    lengths = options.get("mysql_length") or {}
    if not isinstance(lengths, dict):
        lengths = {c: lengths for c in index_info["column_names"]}
    using = str(options.get("postgresql_using") or "btree").lower()
    # SQLite's partial indexes too: glancedb wants none there, so one is drift.
    where = options.get("postgresql_where", options.get("sqlite_where"))
    return (
        tuple(sorted((str(k), int(v)) for k, v in lengths.items())),
        using,
        _predicate_text(None if where is None else str(where)),
        tuple(str(column) for column in options.get("postgresql_include") or ()),
    )


def _predicate_text(predicate: str | None) -> str:
    """A partial index's predicate, PostgreSQL's spelling folded (casts, parentheses, case)."""
    if not predicate:
        return ""
    text = " ".join(re.sub(r"::[a-z_]+( [a-z_]+)*", "", predicate.lower()).split())
    while text.startswith("(") and text.endswith(")") and _balanced(text[1:-1]):
        text = text[1:-1].strip()
    return text


def _balanced(text: str) -> bool:
    depth = 0
    for char in text:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth < 0:
            return False
    return depth == 0


def _form_text(form: Form) -> str:
    lengths, using, where, include = form
    parts = [f"{column}({length})" for column, length in lengths]
    return (
        f"using {using}"
        + (f", prefixes {', '.join(parts)}" if parts else "")
        + (f", where {where}" if where else "")
        + (f", including {', '.join(include)}" if include else "")
    )


def expression_text(expression: str) -> str:
    """An index expression in a form that compares across backends' spellings.

    ``COALESCE(name, ''::character varying)`` (PostgreSQL), ``(coalesce(name,
    ''))`` (SQLite's DDL) and ``coalesce(name, '')`` (the models) are the same.
    """
    text = re.sub(r"::[a-z_]+( [a-z_]+)*", "", expression.lower())  # PostgreSQL casts
    return "expr:" + re.sub(r"[\s()]", "", text)


def _model_elements(index: Index) -> tuple[str, ...]:
    return tuple(
        element.name if isinstance(element, Column) else expression_text(str(element))
        for element in index.expressions
    )


def reflected_elements(index_info: Any) -> tuple[str, ...]:
    """A reflected index's columns, an expression as :func:`expression_text` spells it."""
    expressions = index_info.get("expressions")
    if not expressions:
        return tuple(str(c) for c in index_info["column_names"])
    return tuple(
        str(column) if column is not None else expression_text(str(expression))
        for column, expression in zip(index_info["column_names"], expressions, strict=True)
    )


def sqlite_expression_indexes(connection: Any, table: str) -> list[tuple[str, tuple[str, ...]]]:
    """SQLite's indexes of ``table`` that have an expression, with their elements."""
    found = []
    rows = connection.exec_driver_sql(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ?"
        " AND sql IS NOT NULL",
        (table,),
    ).all()
    for index_name, sql in rows:
        columns = connection.exec_driver_sql(f'PRAGMA index_info("{index_name}")').all()
        if all(column[2] is not None for column in columns):
            continue
        body = sql[sql.index("(", sql.upper().index(" ON ")) + 1 : sql.rindex(")")]
        found.append((str(index_name), tuple(_sqlite_element(e) for e in _split_top(body))))
    return found


def _split_top(body: str) -> list[str]:
    """``body`` split at the commas outside parentheses and quotes."""
    parts, depth, quoted, start = [], 0, False, 0
    for i, char in enumerate(body):
        if char == "'":
            quoted = not quoted
        elif not quoted and char == "(":
            depth += 1
        elif not quoted and char == ")":
            depth -= 1
        elif not quoted and depth == 0 and char == ",":
            parts.append(body[start:i])
            start = i + 1
    parts.append(body[start:])
    return [part.strip() for part in parts]


def _sqlite_element(element: str) -> str:
    name = element.strip('"`[] ')
    if re.fullmatch(r"\w+", name):
        return name
    return expression_text(element)


def _compare_indexes(inspector: Inspector, table: Table, foreign_keys: list[Any]) -> list[str]:
    name = table.name
    dialect = inspector.bind.dialect.name
    expected: dict[str, Key] = {}
    kinds: dict[str, str] = {}
    forms: dict[str, Form] = {}
    for constraint in table.constraints:
        if isinstance(constraint, UniqueConstraint) and constraint.name:
            expected[str(constraint.name)] = (tuple(c.name for c in constraint.columns), True)
            kinds[str(constraint.name)] = "unique constraint"
    for index in table.indexes:
        if isinstance(index, Index) and index.name and index_applies(index, dialect):
            expected[str(index.name)] = (_model_elements(index), bool(index.unique))
            kinds[str(index.name)] = "unique index" if index.unique else "index"
            forms[str(index.name)] = _expected_form(index, dialect)

    actual: dict[str, Key] = {}
    actual_forms: dict[str, Form] = {}
    for index_info in inspector.get_indexes(name):
        actual[str(index_info["name"])] = (
            reflected_elements(index_info),
            bool(index_info["unique"]),
        )
        actual_forms[str(index_info["name"])] = _actual_form(index_info)
    if dialect == "sqlite":
        # SQLAlchemy does not reflect SQLite's indexes on expressions.
        for index_name, elements in sqlite_expression_indexes(inspector.bind, name):
            actual[index_name] = (elements, False)
    for unique in inspector.get_unique_constraints(name):
        if unique.get("name"):
            actual[str(unique["name"])] = (tuple(unique["column_names"]), True)

    if dialect in ("mysql", "mariadb"):
        # InnoDB adds an index for a foreign key that no index covers, named
        # after the constraint or its first column.
        for fk in foreign_keys:
            columns = tuple(fk["constrained_columns"])
            for implicit in {fk.get("name"), columns[0]}:
                if implicit not in expected and actual.get(str(implicit)) == (columns, False):
                    del actual[str(implicit)]

    messages = []
    for key in sorted(expected.keys() - actual.keys()):
        messages.append(f"{kinds[key]} {key} missing on {name}")
    for key in sorted(actual.keys() - expected.keys()):
        kind = "unique index" if actual[key][1] else "index"
        messages.append(f"extra {kind} {key} on {name}")
    for key in sorted(expected.keys() & actual.keys()):
        (want_cols, want_unique), (have_cols, have_unique) = expected[key], actual[key]
        want_form = forms.get(key, _PLAIN)
        have_form = actual_forms.get(key, _PLAIN)
        if want_cols != have_cols:
            messages.append(
                f"{kinds[key]} {key} on {name} has columns ({', '.join(have_cols)}),"
                f" expected ({', '.join(want_cols)})"
            )
        elif want_unique != have_unique:
            actual_kind = "unique" if have_unique else "not unique"
            messages.append(f"{kinds[key]} {key} on {name} is {actual_kind}")
        elif key in forms and want_form != have_form:
            messages.append(
                f"{kinds[key]} {key} on {name} is {_form_text(have_form)},"
                f" expected {_form_text(want_form)}"
            )
    return messages
