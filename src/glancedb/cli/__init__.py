"""The ``glancedb`` command-line tool: thin calls of the library, one group per area."""

from glancedb.cli.base import main
from glancedb.cli.db import db_group
from glancedb.cli.images import image_group
from glancedb.cli.metadefs import metadefs_group
from glancedb.cli.other import cache_group, task_group, usage_command

main.add_command(db_group)
main.add_command(image_group)
main.add_command(metadefs_group)
main.add_command(task_group)
main.add_command(usage_command)
main.add_command(cache_group)

__all__ = ["main"]
