"""The benchmark harness on a tiny SQLite catalogue (no timing assertions)."""

from __future__ import annotations

import datetime
import math
from pathlib import Path
from typing import Any

import pytest
from benchmarks import growth, harness, report
from benchmarks.catalogue import generate
from benchmarks.run import Options, run_one
from sqlalchemy import Table

from glancedb import Database, get_admin_context
from glancedb.models import tables as t


@pytest.fixture(scope="module")
def section(tmp_path_factory: pytest.TempPathFactory) -> report.Section:
    folder = tmp_path_factory.mktemp("bench")
    options = Options(repeat=1, warmup=1, sqlite_dir=str(folder), quiet=True)
    return run_one("sqlite", 300, options)


def test_every_operation_is_measured(section: report.Section) -> None:
    measured = {(m.key, m.context) for m in section.measurements}
    assert {key for key, _ in measured} == set(harness.OP_KEYS)
    for key in (*harness.LISTING_KEYS, "image_get_own", "member_find_image"):
        assert {(key, "admin"), (key, "tenant")} <= measured, key
    text = report.render(section)
    for m in section.measurements:
        assert f"| {m.label} | {m.context} |" in text


def test_ratios_counts_and_floor_rows(section: report.Section) -> None:
    for m in section.measurements:
        assert math.isfinite(m.ratio) and m.ratio > 0, m
        assert m.glancedb_ms > 0 and m.floor_ms > 0, m
        assert math.isfinite(m.cpu_ratio), m
        assert m.statements > 0, m
        # The floor's replay returned the same records (ids, in order).
        assert m.floor_rows == m.rows, m
    rows = {(m.key, m.context): m.rows for m in section.measurements}
    assert rows["first_page", "admin"] == 25
    assert 0 < rows["first_page", "tenant"] <= 25
    assert rows["prop_rare", "tenant"] == 1
    assert rows["in_name", "tenant"] == 3


def test_bound_and_literal_page_statements(section: report.Section) -> None:
    compared = {c.key for c in section.literals}
    assert "first_page" in compared
    for c in section.literals:
        assert c.bound_plan and c.literal_plan
        assert c.bound_ms > 0 and c.literal_ms > 0


def test_write_results_keeps_other_sections(section: report.Section, tmp_path: Path) -> None:
    path = tmp_path / "RESULTS.md"
    other = report.Section(**{**section.__dict__, "backend": "postgresql"})
    report.write_results([section, other], path)
    report.write_results([section], path)
    text = path.read_text()
    assert text.startswith("# Benchmark results")
    assert text.count("<!-- section sqlite:300 -->") == 1
    assert "<!-- section postgresql:300 -->" in text
    assert text.index("sqlite:300") < text.index("postgresql:300")


def test_substitute_and_literal_rendering() -> None:
    mapping = {(str, "a"): "b", (int, 7): 8}
    assert harness.substitute({"x": "a", "y": [7, True, "c"]}, mapping) == {
        "x": "b",
        "y": [8, True, "c"],
    }
    statement = harness.Statement(
        "SELECT * FROM t WHERE a = %(a)s AND b LIKE 'x%%' AND c = %(c)s",
        {"a": "it's", "c": datetime.datetime(2020, 1, 2, 3, 4, 5)},
        False,
    )
    assert harness.render_literal(statement, "postgresql", "pyformat") == (
        "SELECT * FROM t WHERE a = 'it''s' AND b LIKE 'x%' AND c = '2020-01-02 03:04:05'"
    )
    qmark = harness.Statement("SELECT ? + ?, ?", (1, None, False), False)
    assert harness.render_literal(qmark, "sqlite", "qmark") == "SELECT 1 + NULL, 0"


def test_recording_leaves_the_engine_without_event_dispatch() -> None:
    """Timed calls must not pay for the recording's listeners after it ends:
    SQLAlchemy keeps dispatching events on an engine that ever had one."""
    db = Database("sqlite://")
    try:
        db.db_sync()
        assert not db.engine._has_events
        with harness.recording(db.engine) as capture:
            db.image_get_all(get_admin_context())
        assert capture.statements and not db.engine._has_events
    finally:
        db.dispose()


def test_recording_keeps_the_begin_sqlite_is_sent(tmp_path: Path) -> None:
    """The floor replays a SQLite call's BEGIN as glancedb sent it (none for
    a read of one statement), and how its transaction ended."""
    db = Database(f"sqlite:///{tmp_path / 'begins.sqlite'}")
    ctx = get_admin_context()
    try:
        db.db_sync()
        hook = db.engine.dialect.do_begin
        with harness.recording(db.engine) as write:
            image = db.image_create(ctx, {"status": "queued", "name": "recorded"})
        with harness.recording(db.engine) as read:
            db.image_get(ctx, image["id"])
        with harness.recording(db.engine) as one_statement:
            db.image_member_find(ctx, image_id=image["id"])
        assert db.engine.dialect.do_begin == hook
    finally:
        db.dispose()
    assert write.statements[0].sql == "BEGIN IMMEDIATE" and write.ending == "commit"
    assert read.statements[0].sql == "BEGIN" and read.ending != "commit"
    assert len(read.statements) == 1 + read.counted == 3
    assert not any(s.is_begin for s in one_statement.statements)
    assert one_statement.counted == 1


def test_the_newest_images_are_the_same_at_every_size() -> None:
    """A page reads the newest images: each catalogue size must hold the same
    ones (with their children), so that comparing sizes measures the size."""
    small, large = generate(500), generate(3000)

    def newest(rows: dict[Table, list[dict[str, Any]]], count: int) -> list[Any]:
        images = sorted(rows[t.images], key=lambda image: image["created_at"], reverse=True)
        ids = {image["id"] for image in images[:count]}
        children = [
            sorted((row for row in rows[table] if row["image_id"] in ids), key=repr)
            for table in (t.image_properties, t.image_locations, t.image_tags, t.image_members)
        ]
        return [images[:count], *children]

    # The fixed shared images of either catalogue (ranks 249 and 333 of
    # the small one) are not among the 150 newest.
    assert newest(small, 150) == newest(large, 150)
    assert newest(small, 150) != newest(generate(500, seed=7), 150)


def test_growth_alternates_both_sizes_per_operation(tmp_path: Path) -> None:
    """benchmarks.growth: each operation on both catalogues, its rows of times and growths."""
    lines = growth.run(
        "sqlite", 300, 600, rounds=2, repeat=1, only=["first_page", "tag"], sqlite_dir=str(tmp_path)
    )
    header, rule, *rows = lines
    assert "300" in header and "600" in header and rule.startswith("|---|")
    assert [row.split(" | ")[:2] for row in rows] == [
        ["| first page", "admin"],
        ["| first page", "tenant"],
        ["| tag gpu", "admin"],
        ["| tag gpu", "tenant"],
    ]
    for row in rows:
        cells = row.strip("| ").split(" | ")[2:]
        assert len(cells) == 7 and all(math.isfinite(float(cell)) for cell in cells), row
