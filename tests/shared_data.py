"""Where the project's shared data lives: Glance's schema dumps and metadefs.

The ``shared/`` folder sits beside the repository (in a developer's tree and
in CI's clone alike); ``GLANCEDB_SHARED_DIR`` points elsewhere.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def shared_dir() -> Path:
    """The shared data folder; an error naming the places looked at if absent."""
    candidates = [
        os.environ.get("GLANCEDB_SHARED_DIR"),
        str(REPO_ROOT.parent / "shared"),
    ]
    for candidate in candidates:
        if candidate and (Path(candidate) / "glance-schema").is_dir():
            return Path(candidate).resolve()
    looked = ", ".join(c for c in candidates if c)
    raise FileNotFoundError(f"shared data folder not found (looked in: {looked})")


SHARED = shared_dir()
