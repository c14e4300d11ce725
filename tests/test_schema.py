"""Migrations and schema management (SPEC 14): sync, adoption, drift, round trips.

Each test makes its own throwaway databases (``PristineDatabases``): these tests
need pristine, unsynced ones, not the shared ``db`` fixture.
"""

from __future__ import annotations

import datetime
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import DateTime, Engine, Index, inspect, text

from glancedb import Database, RequestContext, api, exception, migration
from glancedb.migrations import VERSION_TABLE
from glancedb.models import tables as t
from glancedb.schema_diff import (
    expression_indexes_understood,
    reflected_elements,
    sqlite_expression_indexes,
)
from tests.support.backends import count_statements
from tests.support.glance_fixtures import PristineDatabases, load_glance_schema

HEAD = migration.head_revision()
#: glancedb's revisions after Glance's schema, and the indexes each adds per
#: backend ("all" unless named): (table, name, elements) - an expression as
#: :func:`glancedb.schema_diff.expression_text` spells it.  Revision 0005
#: adds no index: it widens MySQL's timestamp columns to DATETIME(6).
Added = tuple[str, str, tuple[str, ...]]
NAME_ORDER = "expr:coalescename,''"
SIZE_ORDER = "expr:coalescesize,0"
MICROSECONDS_REVISION = "0005_mysql_microseconds"
BEFORE_MICROSECONDS = "0004_images_name"
#: Every timestamp column of the schema: (table, column).
TIMESTAMP_COLUMNS = sorted(
    (table.name, column.name)
    for table in t.DELETE_ORDER
    for column in table.columns
    if isinstance(column.type, DateTime)
)
#: What the walk indexes of revisions 0011 (MySQL) and 0012 (SQLite) hold after
#: the page order: the visibility test's columns, then the usual filters'.
WALK_FILTERS = (
    "deleted",
    "status",
    "visibility",
    "owner",
    "os_hidden",
    "disk_format",
    "container_format",
)
GLANCEDB_REVISIONS: dict[str, dict[str, list[Added]]] = {
    "0002_image_members_member": {
        "all": [
            ("image_members", "ix_glancedb_image_members_member_deleted", ("member", "deleted"))
        ],
    },
    "0003_image_properties_value": {
        "all": [("image_properties", "ix_glancedb_image_properties_name_value", ("name", "value"))],
    },
    "0004_images_name": {"all": [("images", "ix_glancedb_images_name", ("name",))]},
    MICROSECONDS_REVISION: {"all": []},
    "0006_images_sort_order": {
        "all": [
            (
                "images",
                "ix_glancedb_images_name_order",
                ("expr:coalescename,''", "created_at", "id"),
            ),
            (
                "images",
                "ix_glancedb_images_size_order",
                ("expr:coalescesize,0", "created_at", "id"),
            ),
        ],
        "mysql": [],  # MySQL/MariaDB cannot index an expression
    },
    # Only replaces the hash index earlier versions of 0003 built.
    "0007_image_properties_btree": {"all": []},
    "0008_mysql_images_sort_order": {
        "all": [],
        "mysql": [
            ("images", "ix_glancedb_images_name_order", ("name", "created_at", "id")),
            ("images", "ix_glancedb_images_size_order", ("size", "created_at", "id")),
        ],
    },
    "0009_image_members_access": {
        "all": [
            (
                "image_members",
                "ix_glancedb_image_members_member_access",
                ("member", "deleted", "status", "image_id"),
            )
        ],
    },
    "0010_mysql_images_walk": {
        "all": [],
        "mysql": [
            ("images", name, (*order, "deleted", "status", "visibility", "owner"))
            for name, order in (
                ("ix_glancedb_images_walk", ("created_at", "id")),
                ("ix_glancedb_images_name_walk", ("name", "created_at", "id")),
                ("ix_glancedb_images_size_walk", ("size", "created_at", "id")),
            )
        ],
    },
    "0011_mysql_images_walk_filters": {
        "all": [],
        "mysql": [
            ("images", name, (*order, *WALK_FILTERS))
            for name, order in (
                ("ix_glancedb_images_walk_filters", ("created_at", "id")),
                ("ix_glancedb_images_name_walk_filters", ("name", "created_at", "id")),
                ("ix_glancedb_images_size_walk_filters", ("size", "created_at", "id")),
            )
        ],
    },
    "0012_sqlite_images_walk": {
        "all": [],
        "sqlite": [
            ("images", "ix_glancedb_images_walk_filters", ("created_at", "id", *WALK_FILTERS))
        ],
    },
}
#: What ``db check`` says of a MySQL database before revision 0008: glancedb's
#: indexes of revisions 0009 and 0011 missing, 0002's still there.
LATER_INDEXES_PENDING_MYSQL = [
    "extra index ix_glancedb_image_members_member_deleted on image_members",
    "index ix_glancedb_image_members_member_access missing on image_members",
    "index ix_glancedb_images_walk_filters missing on images",
    "index ix_glancedb_images_name_walk_filters missing on images",
    "index ix_glancedb_images_size_walk_filters missing on images",
]
#: Indexes of earlier revisions that a revision drops (it supersedes them),
#: per backend as in GLANCEDB_REVISIONS.
SUPERSEDED_BY_REVISION: dict[str, dict[str, list[tuple[str, str]]]] = {
    "0009_image_members_access": {
        "all": [("image_members", "ix_glancedb_image_members_member_deleted")],
    },
    "0010_mysql_images_walk": {
        "all": [],
        "mysql": [
            ("images", "ix_glancedb_images_name_order"),
            ("images", "ix_glancedb_images_size_order"),
        ],
    },
    "0011_mysql_images_walk_filters": {
        "all": [],
        "mysql": [
            ("images", "ix_glancedb_images_walk"),
            ("images", "ix_glancedb_images_name_walk"),
            ("images", "ix_glancedb_images_size_walk"),
        ],
    },
}


def superseded_indexes(revision: str, backend: str) -> list[tuple[str, str]]:
    by_backend = SUPERSEDED_BY_REVISION.get(revision, {"all": []})
    return by_backend.get(backend, by_backend["all"])


def revision_indexes(revision: str, backend: str) -> list[Added]:
    by_backend = GLANCEDB_REVISIONS[revision]
    return by_backend.get(backend, by_backend["all"])


PG_STATISTICS = "st_glancedb_image_properties_name_value"
IMAGE_ID = "6b9e3c6c-3f3c-4d5e-9d52-6f0a2f4b5a11"


@pytest.fixture
def fresh(pristine: PristineDatabases) -> Iterator[Database]:
    """An empty database, not synced."""
    database = pristine.get("mig_fresh")
    yield database
    pristine.release(database)


@pytest.fixture
def glance(pristine: PristineDatabases, backend: str) -> Iterator[Database]:
    """A database as Glance 2024.1 creates it (the shared fixture dump), with one image."""
    database = pristine.get("mig_glance")
    load_glance_schema(database.engine, backend)
    insert_image(database.engine)
    yield database
    pristine.release(database)


def insert_image(engine: Engine) -> None:
    created = datetime.datetime(2024, 5, 1, 12, 0, 0)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO images (id, name, size, status, created_at, deleted, min_disk,"
                " min_ram, protected, visibility, os_hidden)"
                " VALUES (:id, 'cirros', 12345, 'active', :created, :f, 0, 0, :f, 'public', :f)"
            ),
            {"id": IMAGE_ID, "created": created, "f": False},
        )
        conn.execute(
            text(
                "INSERT INTO image_properties (image_id, name, value, created_at, deleted)"
                " VALUES (:id, 'os_distro', 'cirros', :created, :f)"
            ),
            {"id": IMAGE_ID, "created": created, "f": False},
        )


def image_rows(engine: Engine) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        images = conn.execute(
            text("SELECT id, name, size, status, visibility, created_at FROM images")
        ).all()
        props = conn.execute(text("SELECT image_id, name, value FROM image_properties")).all()
    return [tuple(row) for row in images] + [tuple(row) for row in props]


def glance_version_rows(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return [row[0] for row in conn.execute(text("SELECT version_num FROM alembic_version"))]


# --- reflection snapshot -------------------------------------------------------------


def snapshot(engine: Engine) -> dict[str, Any]:
    """Everything reflection tells about the schema (the version tables aside)."""
    inspector = inspect(engine)
    dialect = engine.dialect
    result: dict[str, Any] = {}
    for name in sorted(inspector.get_table_names()):
        if name in (VERSION_TABLE, "alembic_version"):
            continue
        columns = [
            (
                c["name"],
                c["type"].compile(dialect=dialect),
                c["nullable"],
                None if c.get("default") is None else str(c["default"]),
            )
            for c in inspector.get_columns(name)
        ]
        with expression_indexes_understood():
            reflected = inspector.get_indexes(name)
        indexes = sorted((i["name"], reflected_elements(i), bool(i["unique"])) for i in reflected)
        if dialect.name == "sqlite":
            with engine.connect() as conn:
                indexes = sorted(
                    [
                        *indexes,
                        *(
                            (index, elements, False)
                            for index, elements in sqlite_expression_indexes(conn, name)
                        ),
                    ]
                )
        with expression_indexes_understood():
            reflected_uniques = inspector.get_unique_constraints(name)
        uniques = sorted((u["name"], tuple(u["column_names"])) for u in reflected_uniques)
        fks = sorted(
            (
                # Names are generated by the backend (unnamed in both): they must agree.
                f.get("name") if dialect.name != "sqlite" else None,
                tuple(f["constrained_columns"]),
                f["referred_table"],
                tuple(f["referred_columns"]),
                tuple(sorted((f.get("options") or {}).items())),
            )
            for f in inspector.get_foreign_keys(name)
        )
        table: dict[str, Any] = {
            "columns": columns,
            "pk": inspector.get_pk_constraint(name)["constrained_columns"],
            "indexes": indexes,
            "uniques": uniques,
            "fks": fks,
        }
        if dialect.name != "postgresql":
            table["checks"] = sorted(
                (c.get("name"), " ".join(c["sqltext"].split()))
                for c in inspector.get_check_constraints(name)
            )
        if dialect.name in ("mysql", "mariadb"):
            options = inspector.get_table_options(name)
            table["options"] = sorted(
                (k, v)
                for k, v in options.items()
                if any(word in k for word in ("charset", "collate", "engine"))
            )
        result[name] = table
    if dialect.name == "postgresql":
        result["<enums>"] = [(e["name"], tuple(e["labels"])) for e in inspector.get_enums()]
    return result


def glancedb_indexes(backend: str) -> dict[str, list[tuple[str, tuple[str, ...], bool]]]:
    """Table -> the (snapshot-shaped) indexes glancedb's revisions add on ``backend``."""
    result: dict[str, list[tuple[str, tuple[str, ...], bool]]] = {}
    for revision in GLANCEDB_REVISIONS:
        for table, name in superseded_indexes(revision, backend):
            result[table] = [index for index in result[table] if index[0] != name]
        for table, name, elements in revision_indexes(revision, backend):
            result.setdefault(table, []).append((name, elements, False))
    return result


def widened_timestamps(schema: dict[str, Any], backend: str) -> dict[str, Any]:
    """``schema`` (a snapshot) with, on MySQL, its DATETIME columns as DATETIME(6)."""
    result = {
        name: dict(table) if isinstance(table, dict) else table for name, table in schema.items()
    }
    if backend == "mysql":
        for table in result.values():
            if isinstance(table, dict):
                table["columns"] = [
                    (name, "DATETIME(6)" if sql_type == "DATETIME" else sql_type, *rest)
                    for name, sql_type, *rest in table["columns"]
                ]
    return result


def with_glancedb_changes(schema: dict[str, Any], backend: str) -> dict[str, Any]:
    """``schema`` (a snapshot) plus the indexes of glancedb's later revisions and,
    on MySQL, its timestamp columns widened to DATETIME(6)."""
    result = widened_timestamps(schema, backend)
    for table, indexes in glancedb_indexes(backend).items():
        result[table]["indexes"] = sorted([*result[table]["indexes"], *indexes])
    return result


def timestamp_types(engine: Engine) -> dict[tuple[str, str], str]:
    """(table, column) -> the compiled type of every timestamp column."""
    inspector = inspect(engine)
    types = {}
    for table, column in TIMESTAMP_COLUMNS:
        found = [c for c in inspector.get_columns(table) if c["name"] == column]
        types[(table, column)] = found[0]["type"].compile(dialect=engine.dialect)
    return types


def pg_statistics(engine: Engine) -> list[tuple[str, str, bool]]:
    """PostgreSQL's extended statistics objects: (name, kinds, filled by ANALYZE)."""
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT s.stxname, s.stxkind::text, d.stxdmcv IS NOT NULL"
                " FROM pg_statistic_ext s LEFT JOIN pg_statistic_ext_data d ON d.stxoid = s.oid"
                " ORDER BY s.stxname"
            )
        ).all()
    return [(str(r[0]), str(r[1]), bool(r[2])) for r in rows]


def narrow_timestamps(backend: str) -> list[str]:
    """What :func:`migration.compare_schema` says of timestamp columns without
    microseconds: every one on MySQL, none elsewhere."""
    if backend != "mysql":
        return []
    return sorted(
        f"column {table}.{column} has type DATETIME, expected DATETIME(6)"
        for table, column in TIMESTAMP_COLUMNS
    )


def pending_glancedb_changes(backend: str) -> list[str]:
    """What :func:`migration.compare_schema` says of a Glance database glancedb has not
    upgraded yet: its indexes missing, and on MySQL its timestamps narrow."""
    indexes = [
        f"index {name} missing on {table}"
        for table, indexes in glancedb_indexes(backend).items()
        for name, _c, _u in indexes
    ]
    return sorted(indexes + narrow_timestamps(backend))


def assert_same_schema(ours: dict[str, Any], theirs: dict[str, Any]) -> None:
    assert sorted(ours) == sorted(theirs)
    for name in theirs:
        if isinstance(theirs[name], dict):
            for part in theirs[name]:
                assert ours[name][part] == theirs[name][part], f"{name}: {part}"
        else:
            assert ours[name] == theirs[name], name


# --- fresh databases -------------------------------------------------------------------


def test_first_revision_creates_exactly_glances_schema(
    fresh: Database, glance: Database, backend: str
) -> None:
    migration.upgrade(fresh.engine, migration.FIRST_REVISION)
    ours, theirs = snapshot(fresh.engine), snapshot(glance.engine)
    assert len(theirs) >= 15
    assert_same_schema(ours, theirs)
    if backend != "postgresql":
        # The CHECKs are where Glance's history left them: none on SQLite's images.
        checks = {name: t["checks"] for name, t in ours.items()}
        assert checks["image_tags"]
        assert bool(checks["images"]) is (backend == "mysql")


def test_fresh_sync_is_glances_schema_plus_glancedbs_indexes(
    fresh: Database, glance: Database, backend: str
) -> None:
    fresh.db_sync()
    ours, theirs = snapshot(fresh.engine), snapshot(glance.engine)
    assert ours != theirs
    assert_same_schema(ours, with_glancedb_changes(theirs, backend))
    if backend == "postgresql":
        assert [s[:2] for s in pg_statistics(fresh.engine)] == [(PG_STATISTICS, "{f,m}")]


def without_indexes(schema: dict[str, Any]) -> dict[str, Any]:
    return {
        name: {part: value for part, value in table.items() if part != "indexes"}
        for name, table in schema.items()
        if isinstance(table, dict)
    }


def test_each_later_revision_adds_its_indexes_or_widens_mysql_timestamps(
    fresh: Database, backend: str
) -> None:
    assert migration.head_revision() == list(GLANCEDB_REVISIONS)[-1]
    migration.upgrade(fresh.engine, migration.FIRST_REVISION)
    previous = snapshot(fresh.engine)
    for revision in GLANCEDB_REVISIONS:
        migration.upgrade(fresh.engine, revision)
        assert fresh.db_version() == revision
        current = snapshot(fresh.engine)
        if revision == MICROSECONDS_REVISION:
            # Column types only, and only MySQL's timestamps.
            assert current == widened_timestamps(previous, backend)
            assert (current != previous) is (backend == "mysql")
            previous = current
            continue
        added = sorted(
            (name, index[0], index[1])
            for name in current
            if isinstance(current[name], dict)
            for index in set(current[name]["indexes"]) - set(previous[name]["indexes"])
        )
        assert added == sorted(revision_indexes(revision, backend)), revision
        removed = sorted(
            (name, index[0])
            for name in current
            if isinstance(current[name], dict)
            for index in set(previous[name]["indexes"]) - set(current[name]["indexes"])
        )
        assert removed == sorted(superseded_indexes(revision, backend)), revision
        unchanged = {
            name: {k: v for k, v in t.items() if k != "indexes"}
            for name, t in current.items()
            if isinstance(t, dict)
        }
        assert unchanged == {
            name: {k: v for k, v in t.items() if k != "indexes"}
            for name, t in previous.items()
            if isinstance(t, dict)
        }
        previous = current
    assert fresh.db_check() == []


def test_downgrade_to_first_revision_leaves_glances_schema(
    fresh: Database, glance: Database, backend: str
) -> None:
    fresh.db_sync()
    migration.downgrade(fresh.engine, migration.FIRST_REVISION)
    assert fresh.db_version() == migration.FIRST_REVISION
    assert_same_schema(snapshot(fresh.engine), snapshot(glance.engine))
    if backend == "postgresql":
        assert pg_statistics(fresh.engine) == []
    assert sorted(migration.compare_schema(fresh.engine)) == pending_glancedb_changes(backend)
    fresh.db_sync()
    assert fresh.db_check() == []


@pytest.mark.backends("postgresql")
def test_sync_fills_the_property_statistics(fresh: Database) -> None:
    fresh.db_sync()
    admin = RequestContext(is_admin=True)
    for i in range(40):
        fresh.image_create(
            admin,
            {
                "status": "active",
                "owner": "tenant-a",
                "properties": {"os_distro": ("fedora", "ubuntu")[i % 2], "build_id": f"b{i}"},
            },
        )
    assert pg_statistics(fresh.engine) == [(PG_STATISTICS, "{f,m}", False)]
    assert migration.sync(fresh.engine) == "current"  # and ANALYZE, as after every sync
    assert pg_statistics(fresh.engine) == [(PG_STATISTICS, "{f,m}", True)]


def test_statistics_objects_are_not_schema_differences(fresh: Database, backend: str) -> None:
    fresh.db_sync()
    if backend == "postgresql":
        with fresh.engine.begin() as conn:
            conn.exec_driver_sql(f"DROP STATISTICS {PG_STATISTICS}")
            conn.exec_driver_sql(
                "CREATE STATISTICS st_other (ndistinct) ON owner, name FROM images"
            )
    else:
        with fresh.engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE TABLE images" if backend == "mysql" else "ANALYZE images")
    assert fresh.db_check() == []


def test_long_property_values_fit_the_property_index(fresh: Database) -> None:
    # Incompressible and far above PostgreSQL's ~2.7 kB B-tree entry limit
    # (and MySQL's 255-character prefix): must be stored and found.
    long_value = "".join(f"{(i * 2654435761) % 4294967291:010x}" for i in range(1500))
    fresh.db_sync()
    owner = RequestContext(project_id="tenant-a")
    image = fresh.image_create(
        owner, {"status": "active", "owner": "tenant-a", "properties": {"blob": long_value}}
    )
    other = fresh.image_create(
        owner,
        {"status": "active", "owner": "tenant-a", "properties": {"blob": long_value[:-1] + "x"}},
    )
    assert other["id"] != image["id"]
    found = fresh.image_get_all(owner, filters={"deleted": False, "blob": long_value})
    assert [i["id"] for i in found] == [image["id"]]


@pytest.mark.parametrize(
    ("tamper", "difference"),
    [
        pytest.param(
            "DROP INDEX ix_glancedb_image_properties_name_value ON image_properties;"
            " CREATE INDEX ix_glancedb_image_properties_name_value"
            " ON image_properties (name, value(100))",
            "index ix_glancedb_image_properties_name_value on image_properties is using btree,"
            " prefixes value(100), expected using btree, prefixes value(255)",
            marks=pytest.mark.backends("mysql"),
            id="mysql-prefix",
        ),
        pytest.param(
            "DROP INDEX ix_glancedb_image_properties_name_value;"
            " CREATE INDEX ix_glancedb_image_properties_name_value"
            " ON image_properties USING hash (name)",
            "index ix_glancedb_image_properties_name_value on image_properties has columns"
            " (name), expected (name, value)",
            marks=pytest.mark.backends("postgresql"),
            id="postgresql-columns",
        ),
        pytest.param(
            "DROP INDEX ix_glancedb_image_properties_name_value;"
            " CREATE INDEX ix_glancedb_image_properties_name_value"
            " ON image_properties (name, value) WHERE octet_length(value) < 2000",
            "index ix_glancedb_image_properties_name_value on image_properties is using btree,"
            " where octet_length(value) < 2000, expected using btree,"
            " where octet_length(value) < 1000",
            marks=pytest.mark.backends("postgresql"),
            id="postgresql-predicate",
        ),
        pytest.param(
            "DROP INDEX ix_glancedb_image_properties_name_value;"
            " CREATE INDEX ix_glancedb_image_properties_name_value"
            " ON image_properties (name, value) INCLUDE (image_id)"
            " WHERE octet_length(value) < 1000",
            "index ix_glancedb_image_properties_name_value on image_properties is using btree,"
            " where octet_length(value) < 1000, including image_id, expected using btree,"
            " where octet_length(value) < 1000",
            marks=pytest.mark.backends("postgresql"),
            id="postgresql-include",
        ),
        pytest.param(
            "DROP INDEX ix_glancedb_image_properties_name_value;"
            " CREATE INDEX ix_glancedb_image_properties_name_value ON image_properties (name)",
            "index ix_glancedb_image_properties_name_value on image_properties has columns"
            " (name), expected (name, value)",
            marks=pytest.mark.backends("sqlite"),
            id="sqlite-columns",
        ),
    ],
)
def test_changed_glancedb_index_is_reported(fresh: Database, tamper: str, difference: str) -> None:
    fresh.db_sync()
    with fresh.engine.begin() as conn:
        for statement in tamper.split("; "):
            conn.exec_driver_sql(statement)
    assert fresh.db_check() == [difference]


def test_fresh_sync_is_at_head_and_clean(fresh: Database) -> None:
    assert fresh.db_version() is None
    assert migration.sync(fresh.engine) == "created"
    assert fresh.db_version() == HEAD == migration.current_revision(fresh.engine)
    assert fresh.db_check() == []
    assert migration.compare_schema(fresh.engine) == []
    assert "alembic_version" not in inspect(fresh.engine).get_table_names()
    fresh.db_sync()  # idempotent
    assert fresh.db_check() == []


def test_sync_refreshes_statistics(fresh: Database) -> None:
    with count_statements(fresh) as counter:
        fresh.db_sync()
    analyzed = [s for s in counter.statements if s.strip().upper().startswith("ANALYZE")]
    assert analyzed
    if fresh.backend != "sqlite":
        assert "images" in analyzed[0] and "image_properties" in analyzed[0]


def test_check_reports_unmanaged_empty_database(fresh: Database) -> None:
    problems = fresh.db_check()
    assert "not managed by glancedb" in problems[0]
    assert "table images missing" in problems


# --- adopting Glance's databases -----------------------------------------------------------


def test_glance_database_is_recognised_and_stamped(glance: Database, backend: str) -> None:
    before = image_rows(glance.engine)
    schema_before = snapshot(glance.engine)
    assert sorted(migration.compare_schema(glance.engine)) == pending_glancedb_changes(backend)
    assert glance.db_version() is None
    assert migration.sync(glance.engine) == "adopted"
    assert glance.db_version() == HEAD
    assert glance_version_rows(glance.engine) == [migration.GLANCE_REVISION]
    assert migration.glance_revision(glance.engine) == migration.GLANCE_REVISION
    assert image_rows(glance.engine) == before
    assert glance.db_check() == []
    assert_same_schema(snapshot(glance.engine), with_glancedb_changes(schema_before, backend))
    if backend == "postgresql":
        assert [s[0] for s in pg_statistics(glance.engine)] == [PG_STATISTICS]
    if backend == "mysql":
        assert set(timestamp_types(glance.engine).values()) == {"DATETIME(6)"}
    glance.db_sync()  # a second sync is a no-op upgrade
    assert glance.db_version() == HEAD and image_rows(glance.engine) == before


def test_api_facade_syncs_and_checks_a_glance_database(glance: Database) -> None:
    try:
        api.configure(glance.engine.url)
        assert api.db_version() is None
        api.db_sync()
        assert api.db_version() == HEAD
        assert api.db_check() == []
    finally:
        api.configure("sqlite://")


@pytest.mark.parametrize(
    ("tamper", "difference"),
    [
        ("DROP INDEX ix_images_deleted{on_images}", "index ix_images_deleted missing on images"),
        ("ALTER TABLE images ADD COLUMN foo INTEGER", "extra column images.foo"),
        ("CREATE INDEX ix_extra ON image_tags (value)", "extra index ix_extra on image_tags"),
        ("CREATE TABLE foo (id INTEGER PRIMARY KEY)", "extra table foo"),
    ],
)
def test_tampered_glance_database_is_refused(
    glance: Database, backend: str, tamper: str, difference: str
) -> None:
    with glance.engine.begin() as conn:
        conn.exec_driver_sql(tamper.format(on_images=" ON images" if backend == "mysql" else ""))
    before = image_rows(glance.engine)
    assert difference in migration.compare_schema(glance.engine)
    with pytest.raises(exception.SchemaError) as info:
        glance.db_sync()
    assert difference in str(info.value)
    assert glance.db_version() is None
    assert VERSION_TABLE not in inspect(glance.engine).get_table_names() or (
        glance.db_version() is None
    )
    assert image_rows(glance.engine) == before
    assert difference in glance.db_check()


def _drop_index(name: str, backend: str) -> str:
    return f"DROP INDEX {name}" + (" ON image_tags" if backend == "mysql" else "")


#: Changes to keys and to what an index is (not which columns it has), the
#: statements by backend (SQLite alters no key of an existing table), and the
#: difference each one is.
KEY_TAMPERING: list[tuple[str, Callable[[str], list[str]], str, tuple[str, ...]]] = [
    (
        "primary key",
        lambda backend: (
            [
                "ALTER TABLE image_tags DROP CONSTRAINT image_tags_pkey",
                "ALTER TABLE image_tags ADD PRIMARY KEY (id, image_id)",
            ]
            if backend == "postgresql"
            else ["ALTER TABLE image_tags DROP PRIMARY KEY, ADD PRIMARY KEY (id, image_id)"]
        ),
        "primary key of image_tags is (id, image_id), expected (id)",
        ("postgresql", "mysql"),
    ),
    (
        "foreign key dropped",
        lambda backend: [
            "ALTER TABLE image_tags DROP "
            + (
                "CONSTRAINT image_tags_image_id_fkey"
                if backend == "postgresql"
                else "FOREIGN KEY image_tags_ibfk_1"
            )
        ],
        "foreign key image_tags(image_id) -> images(id) missing",
        ("postgresql", "mysql"),
    ),
    (
        "foreign key added",
        lambda _backend: [
            "ALTER TABLE image_tags ADD CONSTRAINT extra_fk"
            " FOREIGN KEY (value) REFERENCES images (id)"
        ],
        "extra foreign key image_tags(value) -> images(id)",
        ("postgresql", "mysql"),
    ),
    (
        "index made unique",
        lambda backend: [
            _drop_index("ix_image_tags_image_id_tag_value", backend),
            "CREATE UNIQUE INDEX ix_image_tags_image_id_tag_value ON image_tags (image_id, value)",
        ],
        "index ix_image_tags_image_id_tag_value on image_tags is unique",
        ("sqlite", "postgresql", "mysql"),
    ),
    (
        "index made partial",
        lambda backend: [
            _drop_index("ix_image_tags_image_id", backend),
            "CREATE INDEX ix_image_tags_image_id ON image_tags (image_id) WHERE deleted = false",
        ],
        "index ix_image_tags_image_id on image_tags is using btree, where deleted = false,"
        " expected using btree",
        ("sqlite", "postgresql"),
    ),
]


@pytest.mark.parametrize(
    ("statements", "difference"),
    [
        pytest.param(statements, difference, id=name, marks=pytest.mark.backends(*backends))
        for name, statements, difference, backends in KEY_TAMPERING
    ],
)
def test_changed_keys_and_index_kinds_are_refused(
    glance: Database, backend: str, statements: Callable[[str], list[str]], difference: str
) -> None:
    with glance.engine.begin() as conn:
        for statement in statements(backend):
            conn.exec_driver_sql(statement)
    assert difference in migration.compare_schema(glance.engine)
    with pytest.raises(exception.SchemaError, match=re.escape(difference)):
        glance.db_sync()
    assert glance.db_version() is None


def test_every_difference_is_named(glance: Database, backend: str) -> None:
    with glance.engine.begin() as conn:
        conn.exec_driver_sql(
            "DROP INDEX owner_image_idx" + (" ON images" if backend == "mysql" else "")
        )
        conn.exec_driver_sql("ALTER TABLE tasks ADD COLUMN bar VARCHAR(10)")
    with pytest.raises(exception.SchemaError) as info:
        glance.db_sync()
    assert "index owner_image_idx missing on images" in str(info.value)
    assert "extra column tasks.bar" in str(info.value)


def test_older_glance_revision_is_refused(glance: Database) -> None:
    with glance.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '2023_1_contract01'"))
    with pytest.raises(exception.SchemaError, match="2023_1_contract01"):
        glance.db_sync()
    assert glance.db_version() is None
    assert glance_version_rows(glance.engine) == ["2023_1_contract01"]


def test_tables_without_any_version_table_are_refused(fresh: Database) -> None:
    with fresh.engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE images (id VARCHAR(36) PRIMARY KEY)")
    with pytest.raises(exception.SchemaError, match="images"):
        fresh.db_sync()
    with pytest.raises(exception.SchemaError, match="sync"):
        migration.upgrade(fresh.engine)


def test_upgrade_refuses_an_unadopted_glance_database(glance: Database) -> None:
    with pytest.raises(exception.SchemaError, match="db sync"):
        migration.upgrade(glance.engine)
    assert glance.db_version() is None


def test_drift_after_sync_is_reported(fresh: Database) -> None:
    fresh.db_sync()
    with fresh.engine.begin() as conn:
        conn.exec_driver_sql(
            "DROP INDEX ix_tasks_owner" + (" ON tasks" if fresh.backend == "mysql" else "")
        )
    assert fresh.db_check() == ["index ix_tasks_owner missing on tasks"]


@pytest.mark.backends("postgresql", "mysql")  # SQLite cannot alter a column in place
def test_changed_column_is_reported(fresh: Database, backend: str) -> None:
    fresh.db_sync()
    alter = {
        "postgresql": "ALTER TABLE images ALTER COLUMN name DROP NOT NULL,"
        " ALTER COLUMN status DROP NOT NULL, ALTER COLUMN checksum TYPE VARCHAR(40)",
        "mysql": "ALTER TABLE images MODIFY status VARCHAR(30) NULL,"
        " MODIFY checksum VARCHAR(40) NULL",
    }[backend]
    with fresh.engine.begin() as conn:
        conn.exec_driver_sql(alter)
        conn.exec_driver_sql("ALTER TABLE images ALTER COLUMN os_hidden DROP DEFAULT")
    problems = fresh.db_check()
    assert "column images.status is NULL, expected NOT NULL" in problems
    assert any(p.startswith("column images.checksum has type VARCHAR(40)") for p in problems)
    assert "column images.os_hidden has server default none, expected false" in problems
    assert len(problems) == 3


# --- MySQL's timestamps with microseconds (revision 0005) -----------------------------------


def test_glances_timestamp_columns_are_the_models(glance: Database, backend: str) -> None:
    """Every DATETIME/timestamp column Glance creates is one the revision widens."""
    glances = sorted(
        (table, column[0])
        for table, schema in snapshot(glance.engine).items()
        if isinstance(schema, dict)
        for column in schema["columns"]
        if column[1].startswith(("DATETIME", "TIMESTAMP"))
    )
    assert glances == TIMESTAMP_COLUMNS
    assert len(TIMESTAMP_COLUMNS) == 33


@pytest.mark.backends("mysql")
def test_microseconds_revision_widens_every_table_in_one_statement(fresh: Database) -> None:
    migration.upgrade(fresh.engine, BEFORE_MICROSECONDS)
    assert set(timestamp_types(fresh.engine).values()) == {"DATETIME"}
    created = datetime.datetime(2024, 5, 1, 12, 0, 7)
    with fresh.engine.begin() as conn:
        conn.execute(
            t.images.insert().values(
                id=IMAGE_ID,
                status="active",
                created_at=created,
                deleted=False,
                min_disk=0,
                min_ram=0,
                protected=False,
                os_hidden=False,
            )
        )
    with count_statements(fresh) as counter:
        migration.upgrade(fresh.engine, MICROSECONDS_REVISION)
    alters = [s.split("`")[1] for s in counter.statements if s.startswith("ALTER TABLE")]
    assert sorted(alters) == sorted({table for table, _column in TIMESTAMP_COLUMNS})
    assert set(timestamp_types(fresh.engine).values()) == {"DATETIME(6)"}
    # Only later revisions are pending (0008's and 0010's indexes are superseded
    # by 0011's).
    assert sorted(fresh.db_check()) == sorted(
        [
            f"database is at revision {MICROSECONDS_REVISION}, head is {HEAD}",
            *LATER_INDEXES_PENDING_MYSQL,
        ]
    )
    exact = datetime.datetime(2024, 5, 1, 12, 0, 7, 123456)
    with fresh.engine.begin() as conn:
        assert conn.execute(text("SELECT created_at FROM images")).scalar() == created
        conn.execute(t.images.update().values(updated_at=exact))
        assert conn.execute(text("SELECT updated_at FROM images")).scalar() == exact


@pytest.mark.backends("mysql")
def test_microseconds_revision_downgrades_to_datetime(fresh: Database) -> None:
    fresh.db_sync()
    exact = datetime.datetime(2024, 5, 1, 12, 0, 7, 654321)
    with fresh.engine.begin() as conn:
        conn.execute(
            t.images.insert().values(
                id=IMAGE_ID,
                status="active",
                created_at=exact,
                deleted=False,
                min_disk=0,
                min_ram=0,
                protected=False,
                os_hidden=False,
            )
        )
    migration.downgrade(fresh.engine, BEFORE_MICROSECONDS)
    assert set(timestamp_types(fresh.engine).values()) == {"DATETIME"}
    with fresh.engine.connect() as conn:
        narrowed = conn.execute(text("SELECT created_at FROM images")).scalar()
    # MariaDB truncates the fraction, MySQL rounds it.
    assert narrowed.microsecond == 0 and abs(narrowed - exact) < datetime.timedelta(seconds=1)
    pending = f"database is at revision {BEFORE_MICROSECONDS}, head is {HEAD}"
    assert sorted(fresh.db_check()) == sorted(
        [pending, *LATER_INDEXES_PENDING_MYSQL, *narrow_timestamps("mysql")]
    )
    fresh.db_sync()
    assert set(timestamp_types(fresh.engine).values()) == {"DATETIME(6)"}
    assert fresh.db_check() == []


@pytest.mark.backends("mysql")
def test_narrowed_timestamp_at_head_is_drift(fresh: Database) -> None:
    fresh.db_sync()
    with fresh.engine.begin() as conn:
        conn.exec_driver_sql("ALTER TABLE tasks MODIFY expires_at DATETIME NULL")
    assert fresh.db_check() == ["column tasks.expires_at has type DATETIME, expected DATETIME(6)"]


@pytest.mark.backends("mysql")
def test_glance_database_with_other_timestamp_precision_is_refused(glance: Database) -> None:
    with glance.engine.begin() as conn:
        conn.exec_driver_sql("ALTER TABLE tasks MODIFY expires_at DATETIME(3) NULL")
    difference = "column tasks.expires_at has type DATETIME(3), expected DATETIME(6)"
    assert difference in migration.compare_schema(glance.engine)
    with pytest.raises(exception.SchemaError) as info:
        glance.db_sync()
    assert difference in str(info.value)
    assert glance.db_version() is None


# --- round trips ------------------------------------------------------------------------


def test_downgrade_base_and_sync_round_trip(fresh: Database, backend: str) -> None:
    fresh.db_sync()
    first = snapshot(fresh.engine)
    migration.downgrade(fresh.engine, "base")
    assert fresh.db_version() is None
    assert set(inspect(fresh.engine).get_table_names()) <= {VERSION_TABLE}
    if backend == "postgresql":
        assert inspect(fresh.engine).get_enums() == []
    fresh.db_sync()
    assert fresh.db_version() == HEAD
    assert snapshot(fresh.engine) == first
    assert fresh.db_check() == []


def test_upgrade_and_downgrade_by_revision(fresh: Database) -> None:
    migration.upgrade(fresh.engine, migration.FIRST_REVISION)
    assert fresh.db_version() == migration.FIRST_REVISION
    migration.downgrade(fresh.engine, "base")
    migration.upgrade(fresh.engine)
    assert fresh.db_version() == HEAD
    with pytest.raises(exception.SchemaError, match="nosuchrev"):
        migration.upgrade(fresh.engine, "nosuchrev")
    with pytest.raises(exception.SchemaError, match="nosuchrev"):
        migration.downgrade(fresh.engine, "nosuchrev")
    assert fresh.db_version() == HEAD


def test_downgrade_base_of_a_glance_database_keeps_glances_tables(
    glance: Database, backend: str
) -> None:
    schema_before = snapshot(glance.engine)
    before = image_rows(glance.engine)
    migration.downgrade(glance.engine, "base")  # not adopted yet: nothing to do
    assert image_rows(glance.engine) == before
    glance.db_sync()
    with pytest.raises(exception.SchemaError, match="-1"):
        migration.downgrade(glance.engine, "-1")
    assert glance.db_version() == HEAD
    migration.downgrade(glance.engine, "base")
    assert glance.db_version() is None
    assert image_rows(glance.engine) == before
    assert glance_version_rows(glance.engine) == [migration.GLANCE_REVISION]
    assert sorted(migration.compare_schema(glance.engine)) == pending_glancedb_changes(backend)
    assert_same_schema(snapshot(glance.engine), schema_before)
    if backend == "postgresql":
        assert pg_statistics(glance.engine) == []
    glance.db_sync()
    assert glance.db_version() == HEAD and image_rows(glance.engine) == before


# --- a later, additive revision ------------------------------------------------------------

LATER_REVISION = f"""
from alembic import op

revision = "0099_test_index"
down_revision = "{HEAD}"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_test_images_name", "images", ["name"])


def downgrade() -> None:
    op.drop_index("ix_test_images_name", table_name="images")
"""


@pytest.fixture
def later_revision(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """An additive second revision (an index on images.name), and the models' index."""
    versions = tmp_path / "versions"
    versions.mkdir()
    (versions / "0099_test_index.py").write_text(LATER_REVISION, encoding="utf-8")
    original = migration.alembic_config

    def config(connection: Any = None, progress: Any = None) -> Any:
        result = original(connection, progress)
        result.set_main_option("path_separator", "os")
        result.set_main_option("version_path_separator", "os")
        locations = [str(migration.MIGRATIONS_DIR / "versions"), str(versions)]
        result.set_main_option("version_locations", os.pathsep.join(locations))
        return result

    monkeypatch.setattr(migration, "alembic_config", config)
    index = Index("ix_test_images_name", t.images.c.name)
    try:
        yield "0099_test_index"
    finally:
        t.images.indexes.discard(index)


def image_index_names(engine: Engine) -> set[str]:
    with expression_indexes_understood():
        return {str(i["name"]) for i in inspect(engine).get_indexes("images")}


def test_glance_database_is_adopted_then_upgraded(glance: Database, later_revision: str) -> None:
    assert migration.head_revision() == later_revision
    before = image_rows(glance.engine)
    glance.db_sync()
    assert glance.db_version() == later_revision
    assert "ix_test_images_name" in image_index_names(glance.engine)
    assert glance_version_rows(glance.engine) == [migration.GLANCE_REVISION]
    assert image_rows(glance.engine) == before
    assert glance.db_check() == []


def test_drifted_glance_database_is_left_as_it_was(
    glance: Database, backend: str, later_revision: str
) -> None:
    with glance.engine.begin() as conn:
        conn.exec_driver_sql(
            "DROP INDEX ix_images_deleted" + (" ON images" if backend == "mysql" else "")
        )
    with pytest.raises(exception.SchemaError, match="index ix_images_deleted missing on images"):
        glance.db_sync()
    assert "ix_test_images_name" not in image_index_names(glance.engine)
    assert VERSION_TABLE not in inspect(glance.engine).get_table_names()
    assert glance_version_rows(glance.engine) == [migration.GLANCE_REVISION]


def test_check_reports_a_pending_revision(fresh: Database, later_revision: str) -> None:
    fresh.db_sync()
    assert fresh.db_version() == later_revision and fresh.db_check() == []
    migration.downgrade(fresh.engine, HEAD)
    assert migration.sync(fresh.engine) == "upgraded"
    migration.downgrade(fresh.engine, HEAD)
    assert fresh.db_check() == [
        f"database is at revision {HEAD}, head is {later_revision}",
        "index ix_test_images_name missing on images",
    ]
    migration.upgrade(fresh.engine)
    assert fresh.db_check() == []


def test_api_works_on_an_adopted_glance_database(glance: Database) -> None:
    admin = RequestContext(is_admin=True)
    owner = RequestContext(project_id="tenant-a")
    glance.db_sync()
    image = glance.image_get(admin, IMAGE_ID)
    assert (image["name"], image["size"], image["visibility"]) == ("cirros", 12345, "public")
    assert [(p["name"], p["value"]) for p in image["properties"]] == [("os_distro", "cirros")]
    created = glance.image_create(
        owner,
        {"status": "queued", "owner": "tenant-a", "visibility": "community", "size": 2**40},
    )
    updated = glance.image_update(owner, created["id"], {"status": "active", "name": "big"})
    assert (updated["status"], updated["size"], updated["visibility"]) == (
        "active",
        2**40,
        "community",
    )
    listed = glance.image_get_all(admin, filters={"deleted": False, "visibility": "all"})
    assert {i["id"] for i in listed} == {IMAGE_ID, created["id"]}


# --- every difference, for any tampering (SQLite in memory: fast) ----------------------------

GLANCE_INDEXES = sorted(
    (str(index.name), table.name)
    for table in t.DELETE_ORDER
    for index in table.indexes
    if not str(index.name).startswith("ix_glancedb_")
)


@settings(max_examples=25, deadline=None)
@given(
    dropped=st.sets(st.sampled_from(GLANCE_INDEXES), max_size=5),
    added=st.sets(
        st.tuples(
            st.sampled_from([table.name for table in t.DELETE_ORDER]),
            st.sampled_from(["extra_a", "extra_b"]),
        ),
        max_size=3,
    ),
)
def test_compare_schema_names_exactly_the_differences(
    dropped: set[tuple[str, str]], added: set[tuple[str, str]]
) -> None:
    database = Database("sqlite://")
    try:
        load_glance_schema(database.engine, "sqlite")
        with database.engine.begin() as conn:
            for index, _table in dropped:
                conn.exec_driver_sql(f"DROP INDEX {index}")
            for table, column in added:
                conn.exec_driver_sql(f"ALTER TABLE {table} ADD COLUMN {column} INTEGER")
        tampered = {f"index {index} missing on {table}" for index, table in dropped} | {
            f"extra column {table}.{column}" for table, column in added
        }
        expected = tampered | set(pending_glancedb_changes("sqlite"))
        differences = migration.compare_schema(database.engine)
        assert sorted(differences) == sorted(expected)
        if tampered:
            with pytest.raises(exception.SchemaError) as info:
                database.db_sync()
            assert all(difference in str(info.value) for difference in tampered)
            assert database.db_version() is None
        else:
            database.db_sync()
            assert database.db_check() == []
    finally:
        database.dispose()


# Glance's own tenant-page query, as its driver writes it: plain comparisons
# on the indexed one-valued columns, which only right statistics keep the
# planner from using.
GLANCE_TENANT_PAGE = (
    "SELECT images.id FROM images WHERE images.deleted = 0 AND images.status != 'killed'"
    " AND (images.visibility = 'public' OR images.owner = 'tenant-07'"
    " OR (images.visibility = 'shared' AND EXISTS (SELECT 1 FROM image_members"
    " WHERE image_members.image_id = images.id AND image_members.member = 'tenant-07'"
    " AND image_members.deleted = 0 AND image_members.status = 'accepted')))"
    " AND images.visibility != 'community'"
    " ORDER BY images.created_at DESC, images.id DESC LIMIT 25"
)


@pytest.mark.backends("sqlite")
def test_sync_statistics_keep_raw_queries_off_the_deleted_index(fresh: Database) -> None:
    """db sync analyses SQLite in full: sampled statistics (``analysis_limit``)
    describe the one-valued ``deleted`` index as selective, and then any query
    not shaped against it - Glance's, an operator's - walks it and sorts."""
    fresh.db_sync()
    start = datetime.datetime(2020, 1, 1)
    visibilities = ("public", "private", "shared", "shared", "private")
    with fresh.engine.begin() as conn:
        conn.execute(
            t.images.insert(),
            [
                {
                    "id": f"{i:08d}-0000-4000-8000-000000000000",
                    "status": "active",
                    "visibility": visibilities[i % len(visibilities)],
                    "owner": f"tenant-{i % 50:02d}",
                    "created_at": start + datetime.timedelta(minutes=i),
                    "deleted": i % 97 == 0,
                    "min_disk": 0,
                    "min_ram": 0,
                    "protected": False,
                    "os_hidden": False,
                }
                for i in range(6000)  # well above any sampling limit
            ],
        )
    fresh.db_sync()
    fresh.dispose()  # new connections: the planner reads the new statistics
    with fresh.engine.connect() as conn:
        plan = " / ".join(
            str(row[3]) for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + GLANCE_TENANT_PAGE)
        )
    assert "ix_images_deleted" not in plan, plan
    # Revision 0012's walk index: its entries answer the query's tests.
    assert plan.startswith("SCAN images USING COVERING INDEX ix_glancedb_images_walk_filters"), plan
