"""One snapshot per call (SPEC 13): an image dict never mixes two committed states.

Writers move images through versions (name, properties, a purged property
and the location all change in each ``image_update``) while readers call
``image_get`` and ``image_get_all``; every image returned must be whole.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any

import pytest

from glancedb import Database, RequestContext
from tests.support.consistency import create_versioned, hammer

IMAGES = 6
UPDATES = 40


def get_one(db: Database, ctx: RequestContext) -> Any:
    def read(reader: Database, image_ids: list[str], n: int) -> list[Mapping[str, Any]]:
        return [reader.image_get(ctx, random.choice(image_ids))]

    return read


def list_all(db: Database, ctx: RequestContext) -> Any:
    def read(reader: Database, image_ids: list[str], n: int) -> list[Mapping[str, Any]]:
        return reader.image_get_all(ctx, filters={"deleted": False}, return_tag=True)

    return read


@pytest.mark.slow
@pytest.mark.parametrize("reads", ["image_get", "image_get_all"])
def test_concurrent_updates_never_give_torn_reads(
    db: Database, ctx: RequestContext, reads: str
) -> None:
    image_ids = create_versioned(db, ctx, IMAGES)
    writers = [Database(db.engine.url) for _ in range(2)]
    readers = [Database(db.engine.url) for _ in range(2)]
    read = get_one(db, ctx) if reads == "image_get" else list_all(db, ctx)
    try:
        tally = hammer(writers, readers, ctx, image_ids, updates=UPDATES, read=read)
    finally:
        for database in writers + readers:
            database.dispose()
    assert tally.errors == []
    assert tally.reads > 20
    assert tally.torn == [], f"{len(tally.torn)} torn of {tally.images} images read"
