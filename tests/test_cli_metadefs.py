"""``glancedb metadefs load|unload|export``: output, exit status, flags."""

from __future__ import annotations

import os
from pathlib import Path

from click.testing import CliRunner, Result

from glancedb import Database
from glancedb.cli import main
from tests.support.metadef_support import (
    ADMIN,
    CATALOGUE,
    expected_from_directory,
    metadef_row_counts,
    sample,
    snapshot,
    url_of,
    write_json,
)


def run(db: Database, *args: str) -> Result:
    return CliRunner().invoke(main, ["--db-url", url_of(db), "metadefs", *args])


def test_load_catalogue_then_again_without_merge(db: Database) -> None:
    result = run(db, "load", "--path", CATALOGUE)
    assert result.exit_code == 0, result.output
    files = sorted(name for name in os.listdir(CATALOGUE) if name.endswith(".json"))
    for name in files:
        assert name in result.output  # a progress line and a table row each
    assert "4 of 4 files loaded: 4 created" in result.output
    assert snapshot(db) == expected_from_directory(CATALOGUE)

    again = run(db, "load", "--path", CATALOGUE)
    assert again.exit_code == 0, again.output
    assert "4 skipped" in again.output


def test_load_reports_broken_files_and_exits_non_zero(db: Database, tmp_path: Path) -> None:
    write_json(tmp_path, "good.json", sample())
    (tmp_path / "malformed.json").write_text("{ not json", encoding="utf-8")
    write_json(tmp_path, "missing-keys.json", {"display_name": "no namespace"})
    result = run(db, "load", "--path", str(tmp_path))
    assert result.exit_code == 1
    # Each failure is reported once, with its reason.
    assert result.output.count("malformed.json: invalid JSON") == 1
    assert result.output.count("missing-keys.json: missing the required key 'namespace'") == 1
    assert "Error: 2 of 3 files failed" in result.stderr
    assert "Traceback" not in result.output
    assert list(snapshot(db)) == ["Test::Sample"]


def test_dry_run_writes_nothing(db: Database, tmp_path: Path) -> None:
    write_json(tmp_path, "good.json", sample())
    result = run(db, "load", "--path", str(tmp_path), "--dry-run")
    assert result.exit_code == 0, result.output
    assert "dry run" in result.output
    assert "created" in result.output and "Test::Sample" in result.output
    assert set(metadef_row_counts(db).values()) == {0}


def test_dry_run_of_a_broken_file_fails(db: Database, tmp_path: Path) -> None:
    (tmp_path / "bad.json").write_text("[", encoding="utf-8")
    result = run(db, "load", "--path", str(tmp_path), "--dry-run")
    assert result.exit_code == 1
    assert "bad.json" in result.output


def test_inconsistent_flags_and_missing_path(db: Database, tmp_path: Path) -> None:
    write_json(tmp_path, "good.json", sample())
    for flag in ("--prefer-new", "--overwrite"):
        result = run(db, "load", "--path", str(tmp_path), flag)
        assert result.exit_code == 1
        assert "need --merge" in result.output
        assert "Traceback" not in result.output
    missing = run(db, "load", "--path", str(tmp_path / "absent"))
    assert missing.exit_code == 1
    assert "absent" in missing.output
    assert set(metadef_row_counts(db).values()) == {0}


def test_merge_flags(db: Database, tmp_path: Path) -> None:
    write_json(tmp_path, "good.json", sample())
    assert run(db, "load", "--path", str(tmp_path)).exit_code == 0
    write_json(tmp_path, "good.json", sample(display_name="v2", properties={"p9": {}}))
    merged = run(db, "load", "--path", str(tmp_path), "--merge")
    assert merged.exit_code == 0, merged.output
    assert "1 merged" in merged.output
    assert db.metadef_property_count(ADMIN, "Test::Sample") == 3
    assert db.metadef_namespace_get(ADMIN, "Test::Sample")["display_name"] == "Sample"
    newer = run(db, "load", "--path", str(tmp_path), "--merge", "--prefer-new")
    assert newer.exit_code == 0, newer.output
    assert db.metadef_namespace_get(ADMIN, "Test::Sample")["display_name"] == "v2"
    overwritten = run(db, "load", "--path", str(tmp_path), "--merge", "--overwrite")
    assert overwritten.exit_code == 0, overwritten.output
    assert "1 overwritten" in overwritten.output
    assert db.metadef_property_count(ADMIN, "Test::Sample") == 1


def test_export_then_unload(db: Database, tmp_path: Path) -> None:
    write_json(tmp_path / "in", "good.json", sample())
    assert run(db, "load", "--path", str(tmp_path / "in")).exit_code == 0
    before = snapshot(db)
    exported = run(db, "export", "--path", str(tmp_path / "out"))
    assert exported.exit_code == 0, exported.output
    assert "1 namespaces exported" in exported.output
    assert os.listdir(tmp_path / "out") == ["Test-Sample.json"]
    unloaded = run(db, "unload", "--yes")
    assert unloaded.exit_code == 0, unloaded.output
    assert "metadef_namespaces" in unloaded.output
    assert set(metadef_row_counts(db).values()) == {0}
    assert run(db, "load", "--path", str(tmp_path / "out")).exit_code == 0
    assert snapshot(db) == before


def test_path_is_required() -> None:
    result = CliRunner().invoke(main, ["--db-url", "sqlite://", "metadefs", "load"])
    assert result.exit_code == 2
    assert "--path" in result.output


def test_unload_asks_for_confirmation(db: Database, tmp_path: Path) -> None:
    write_json(tmp_path, "good.json", sample())
    assert run(db, "load", "--path", str(tmp_path)).exit_code == 0
    declined = CliRunner().invoke(main, ["--db-url", url_of(db), "metadefs", "unload"], input="n\n")
    assert declined.exit_code == 1
    assert "Delete every metadata definition" in declined.stderr
    assert "Nothing deleted" in declined.stderr
    no_answer = CliRunner().invoke(main, ["--db-url", url_of(db), "metadefs", "unload"], input="")
    assert no_answer.exit_code == 1 and "Nothing deleted" in no_answer.stderr
    assert list(snapshot(db)) == ["Test::Sample"]
    accepted = CliRunner().invoke(main, ["--db-url", url_of(db), "metadefs", "unload"], input="y\n")
    assert accepted.exit_code == 0, accepted.output
    assert set(metadef_row_counts(db).values()) == {0}


def test_verbose_adds_progress_notes(db: Database, tmp_path: Path) -> None:
    write_json(tmp_path / "in", "good.json", sample())
    quiet = run(db, "load", "--path", str(tmp_path / "in"))
    assert quiet.exit_code == 0 and "INFO" not in quiet.stderr
    verbose = CliRunner().invoke(
        main, ["-v", "--db-url", url_of(db), "metadefs", "export", "--path", str(tmp_path / "out")]
    )
    assert verbose.exit_code == 0, verbose.output
    assert "INFO: Exported 1 namespaces to" in verbose.stderr
    assert "DEBUG" not in verbose.stderr
