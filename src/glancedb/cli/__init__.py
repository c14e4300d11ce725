"""The ``glancedb`` command-line tool."""

from glancedb.cli import db, images, metadefs, purge  # noqa: F401  (register commands)
from glancedb.cli.base import main

__all__ = ["main"]
