"""Where the tests' data files live.

Glance's own schema dumps and a small metadata-definition catalogue written
for the tests are in ``tests/data/``, so a fresh clone runs every test.  The
one test that loads Glance's whole catalogue (33 namespace files, shipped
with Glance) reads it from ``GLANCEDB_METADEFS_DIR``, else from
``../shared/metadefs`` beside the repository; without either it is
deselected, with the reason printed (under ``CI=true`` it runs, and fails).
"""

from __future__ import annotations

import os
from pathlib import Path

TESTS_DIR = Path(__file__).resolve().parent.parent
REPO_ROOT = TESTS_DIR.parent
DATA_DIR = TESTS_DIR / "data"

#: What Glance 2024.1's ``db sync`` creates on each backend (see its README).
SCHEMA_DIR = DATA_DIR / "glance-schema"
#: A small catalogue written for the loader tests.
SMALL_CATALOGUE = DATA_DIR / "metadefs"

METADEFS_DIR_ENV = "GLANCEDB_METADEFS_DIR"


def glance_catalogue_candidates() -> list[Path]:
    """Where Glance's catalogue is looked for, in order."""
    candidates = []
    env = os.environ.get(METADEFS_DIR_ENV)
    if env:
        candidates.append(Path(env))
    candidates.append(REPO_ROOT.parent / "shared" / "metadefs")
    return candidates


def glance_catalogue() -> Path | None:
    """Glance's metadata-definition catalogue, or None when it is not on this machine."""
    for candidate in glance_catalogue_candidates():
        if candidate.is_dir() and any(candidate.glob("*.json")):
            return candidate.resolve()
    return None
