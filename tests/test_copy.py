"""``glancedb.copy`` and ``glancedb db copy``: a whole database from one engine to another."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, inspect, select, text

from glancedb import Database, copy, exception
from glancedb.context import get_admin_context
from glancedb.models import tables as t
from tests.conftest import require_backend
from tests.support.backends import BACKENDS, make_database
from tests.support.catalogue import PRECISE, UNICODE, dump, fill, row_counts
from tests.support.cli import invoke, run_console, url_of
from tests.support.glance_fixtures import load_glance_schema

ADMIN = get_admin_context()
PAIRS = [pair for pair in itertools.permutations(BACKENDS, 2)]


def open_database(backend: str, tmp_root: str, name: str) -> Database:
    require_backend(backend)
    database = make_database(backend, tmp_root, name=name)
    if backend == "sqlite":
        database.engine.connect().close()
    return database


@pytest.fixture
def databases(request: pytest.FixtureRequest, tmp_root: str) -> Iterator[tuple[Database, Database]]:
    source_backend, target_backend = request.param
    source = open_database(source_backend, tmp_root, "copy_src")
    target = open_database(target_backend, tmp_root, "copy_dst")
    yield source, target
    source.dispose()
    target.dispose()


def keeps_microseconds(database: Database) -> bool:
    if database.backend not in ("mysql", "mariadb"):
        return True
    column = next(
        c for c in inspect(database.engine).get_columns("images") if c["name"] == "created_at"
    )
    return bool(getattr(column["type"], "fsp", None))


@pytest.mark.parametrize("databases", PAIRS, ids=[f"{a}-to-{b}" for a, b in PAIRS], indirect=True)
def test_copy_between_engines_preserves_every_row(databases: tuple[Database, Database]) -> None:
    source, target = databases
    source.db_sync()
    counts = fill(source)
    assert all(counts.values()), counts  # every table has rows
    progress: list[tuple[str, int, int]] = []
    result = copy.copy_database(
        source, target, batch_size=2, progress=lambda *a: progress.append(a)
    )
    assert result.verified, copy.describe_failures(result)
    assert result.target_schema == "created"
    assert {c.table: c.source_rows for c in result.tables} == counts
    assert row_counts(target) == counts
    # Batches of 2: a table of 4 rows reports 2, then 4.
    assert [p for p in progress if p[0] == "image_properties"] == [
        ("image_properties", 2, 4),
        ("image_properties", 4, 4),
    ]
    exact = keeps_microseconds(source) and keeps_microseconds(target)
    assert dump(target, whole_seconds=not exact) == dump(source, whole_seconds=not exact)
    with target.engine.connect() as conn:
        created = conn.execute(
            select(t.images.c.created_at).where(t.images.c.name == UNICODE)
        ).scalar_one()
    if exact:
        assert created == PRECISE  # microseconds included
        assert not result.notes
    elif not keeps_microseconds(target):
        assert "timestamps lost their microseconds" in result.notes[0]
    # New rows get fresh ids on the target.
    image_id = target.image_get_all(ADMIN, filters={"deleted": False}, limit=1)[0]["id"]
    target.image_location_add(ADMIN, image_id, {"url": "file:///new", "metadata": {}})
    target.node_reference_create(ADMIN, "http://cache-3:9292")
    target.metadef_namespace_create(ADMIN, {"namespace": "New::One", "owner": "admin"})
    target.image_tag_create(ADMIN, image_id, "fresh")
    with target.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(t.image_locations)).scalar() == 4
    assert target.db_check() == []


@pytest.mark.parametrize(
    "databases", [("postgresql", "sqlite")], ids=["postgresql-to-sqlite"], indirect=True
)
def test_target_with_rows_is_refused_unless_forced(databases: tuple[Database, Database]) -> None:
    source, target = databases
    source.db_sync()
    counts = fill(source)
    target.db_sync()
    target.node_reference_create(ADMIN, "http://already-here")
    with pytest.raises(exception.Invalid, match=r"already holds rows.*node_reference"):
        copy.copy_database(source, target)
    assert row_counts(target)["images"] == 0
    result = copy.copy_database(source, target, force=True)
    assert result.verified and result.emptied == 1
    assert row_counts(target) == counts


@pytest.mark.parametrize("databases", [("sqlite", "mysql")], ids=["sqlite-to-mysql"], indirect=True)
def test_glances_version_table_is_copied(
    databases: tuple[Database, Database], backend: str
) -> None:
    source, target = databases
    load_glance_schema(source.engine, "sqlite")
    source.db_sync()  # adopted
    result = copy.copy_database(source, target)
    assert result.verified
    assert "alembic_version" in [c.table for c in result.tables]
    revisions = target.db_revisions()
    assert revisions.glance == "2024_1_contract01" and revisions.current == revisions.head


def test_same_database_and_bad_arguments_are_refused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'one.sqlite'}"
    Database(url).db_sync()
    with pytest.raises(exception.Invalid, match="same database"):
        copy.copy_database(url, f"sqlite:///{tmp_path}/../{tmp_path.name}/one.sqlite")
    # The same server database under another driver or with other options;
    # refused before anything connects.
    server = "postgresql+psycopg://glance:secret@127.0.0.1:1/glance"
    for other in (
        "postgresql://glance:secret@127.0.0.1:1/glance",
        f"{server}?connect_timeout=5",
    ):
        with pytest.raises(exception.Invalid, match="same database"):
            copy.copy_database(server, other)
    for bad in (0, -1, True, 2.5, "100"):
        with pytest.raises(exception.Invalid, match="batch_size"):
            copy.copy_database(url, f"sqlite:///{tmp_path / 'two.sqlite'}", batch_size=bad)
    empty = tmp_path / "empty.sqlite"
    Database(f"sqlite:///{empty}").engine.connect().close()
    with pytest.raises(exception.SchemaError, match="nothing to copy"):
        copy.copy_database(f"sqlite:///{empty}", f"sqlite:///{tmp_path / 'three.sqlite'}")


def test_a_failed_insert_names_the_table(tmp_path: Path) -> None:
    source = Database(f"sqlite:///{tmp_path / 'src.sqlite'}")
    source.db_sync()
    fill(source)
    with source.engine.begin() as conn:  # SQLite does not enforce lengths; the target does
        conn.execute(
            text("UPDATE image_tags SET value = :v WHERE value = 'plain'"), {"v": "x" * 300}
        )
    target = Database(f"sqlite:///{tmp_path / 'dst.sqlite'}")
    target.db_sync()
    with target.engine.begin() as conn:
        conn.exec_driver_sql(
            "CREATE TRIGGER no_long_tags BEFORE INSERT ON image_tags WHEN length(NEW.value) > 255"
            " BEGIN SELECT RAISE(ABORT, 'tag too long'); END"
        )
    with pytest.raises(exception.GlanceDBError, match=r"Copying table image_tags: .*tag too long"):
        copy.copy_database(source, target)


# --- the command ---------------------------------------------------------------------------------


def test_db_copy_command(tmp_path: Path) -> None:
    source = Database(f"sqlite:///{tmp_path / 'src.sqlite'}")
    source.db_sync()
    counts = fill(source)
    target_url = f"sqlite:///{tmp_path / 'dst.sqlite'}"
    result = invoke("db", "copy", url_of(source), target_url, "--batch-size", "3")
    assert result.exit_code == 0, result.output
    assert f"Copied {sum(counts.values())} rows in 15 tables; row counts and checksums match." in (
        result.stdout
    )
    lines = {line.split()[0]: line.split()[1:] for line in result.stdout.splitlines() if line}
    assert lines["images"] == [str(counts["images"]), "yes"]
    assert "images: 3 of 4 rows copied" in result.stderr
    again = invoke("db", "copy", url_of(source), target_url)
    assert again.exit_code == 1 and "already holds rows" in again.stderr
    forced = invoke("db", "copy", url_of(source), target_url, "--force")
    assert forced.exit_code == 0 and "after deleting" in forced.stdout
    missing = invoke("db", "copy", f"sqlite:///{tmp_path / 'nope.sqlite'}", target_url)
    assert missing.exit_code == 1 and "does not exist" in missing.stderr


def test_db_copy_reports_a_mismatch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = Database(f"sqlite:///{tmp_path / 'src.sqlite'}")
    source.db_sync()
    fill(source)
    monkeypatch.setattr(copy, "_target_checksum", lambda *args: (0, "0" * 64))
    result = invoke("db", "copy", url_of(source), f"sqlite:///{tmp_path / 'dst.sqlite'}")
    assert result.exit_code == 1
    error = result.stderr.splitlines()[-1]
    assert error.startswith("Error: The copy does not match the source: ")
    assert "; images: 4 rows read, 0 found;" in error


def test_a_copy_whose_rows_differ_is_not_verified(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As many rows on both sides is not enough: their contents must hash alike."""
    source = Database(f"sqlite:///{tmp_path / 'src.sqlite'}")
    source.db_sync()
    fill(source)
    real = copy._target_checksum
    monkeypatch.setattr(copy, "_target_checksum", lambda *args: (real(*args)[0], "f" * 64))
    result = copy.copy_database(source, f"sqlite:///{tmp_path / 'dst.sqlite'}")
    assert all(table.source_rows == table.target_rows for table in result.tables)
    assert not result.verified
    assert not any(table.verified for table in result.tables if table.source_rows)


def test_db_copy_interrupted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = Database(f"sqlite:///{tmp_path / 'src.sqlite'}")
    source.db_sync()
    fill(source)
    original = copy._copy_table

    def interrupting(source_conn, target, table, *args):  # type: ignore[no-untyped-def]
        if table.name == "image_tags":
            raise KeyboardInterrupt
        return original(source_conn, target, table, *args)

    monkeypatch.setattr(copy, "_copy_table", interrupting)
    result = invoke("db", "copy", url_of(source), f"sqlite:///{tmp_path / 'dst.sqlite'}")
    assert result.exit_code == 130
    assert "images" in result.stdout and "Interrupted: the target holds a partial copy" in (
        result.stderr
    )


def test_db_copy_through_the_console_script(tmp_path: Path) -> None:
    source = Database(f"sqlite:///{tmp_path / 'src.sqlite'}")
    source.db_sync()
    fill(source)
    source.dispose()
    target = f"sqlite:///{tmp_path / 'dst.sqlite'}"
    done = run_console("db", "copy", f"sqlite:///{tmp_path / 'src.sqlite'}", target)
    assert done.returncode == 0, done.stderr
    assert "row counts and checksums match" in done.stdout
    assert run_console("--db-url", target, "db", "check").stdout == "OK\n"


@pytest.mark.parametrize("source_backend", BACKENDS)
def test_copy_reads_one_snapshot_while_the_source_changes(
    source_backend: str, tmp_root: str, tmp_path: Path
) -> None:
    """Rows written to the source during the copy are not half-copied.

    A property added (with its image) after the images were copied would
    otherwise reach the target without its image.
    """
    source = open_database(source_backend, tmp_root, "copy_src")
    source.db_sync()
    fill(source)
    before = row_counts(source)
    writer = Database(source.url)
    target = Database(f"sqlite:///{tmp_path / 'snapshot.sqlite'}")
    written: list[str] = []

    def write_meanwhile(table: str, copied: int, total: int) -> None:
        if table == "images" and not written:
            image = writer.image_create(ADMIN, {"status": "active", "properties": {"k": "v"}})
            written.append(image["id"])

    try:
        result = copy.copy_database(source, target, progress=write_meanwhile)
        assert written and result.verified
        assert row_counts(target) == before
        assert row_counts(source)["images"] == before["images"] + 1
    finally:
        writer.dispose()
        source.dispose()
        target.dispose()
