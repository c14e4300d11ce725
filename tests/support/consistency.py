"""A versioned-update workload whose every committed state is checkable.

Each update of an image writes version ``v`` everywhere at once: the name
``n<v>``, the properties ``p0``..``p2`` = ``v<v>``, the property ``odd``
live on even versions and soft-deleted (purged) on odd ones, and one
location ``http://store/<image>/<v>`` replacing the previous one.  An image
dict read back is *whole* when all of these name the same version; anything
else mixes two committed states (a torn read).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from glancedb import Database, RequestContext

PLAIN_PROPERTIES = ("p0", "p1", "p2")


def version_values(image_id: str, version: int) -> dict[str, Any]:
    """The values one update writes: version ``version`` everywhere."""
    properties = {name: f"v{version}" for name in PLAIN_PROPERTIES}
    if version % 2 == 0:
        properties["odd"] = f"v{version}"
    return {
        "name": f"n{version}",
        "properties": properties,
        "locations": [
            {"url": f"http://store/{image_id}/{version}", "metadata": {}, "status": "active"}
        ],
    }


def create_versioned(db: Database, ctx: RequestContext, count: int) -> list[str]:
    """``count`` images at version 0 (owned by ``ctx``)."""
    ids = []
    for _ in range(count):
        image = db.image_create(ctx, {"status": "active", "owner": ctx.owner, "name": "n0"})
        db.image_update(ctx, image["id"], version_values(image["id"], 0), purge_props=True)
        ids.append(image["id"])
    return ids


def update_to(db: Database, ctx: RequestContext, image_id: str, version: int) -> Any:
    """Write version ``version`` of the image in one ``image_update``."""
    return db.image_update(ctx, image_id, version_values(image_id, version), purge_props=True)


def torn(image: Mapping[str, Any]) -> str | None:
    """Why ``image`` mixes committed states, or None when it is whole."""
    name = image["name"]
    if not (isinstance(name, str) and name.startswith("n") and name[1:].isdigit()):
        return f"unexpected name {name!r}"
    version = int(name[1:])
    problems = []
    properties = {p["name"]: p for p in image["properties"]}
    for key in PLAIN_PROPERTIES:
        prop = properties.get(key)
        if prop is None or prop["deleted"] or prop["value"] != f"v{version}":
            problems.append(f"{key}={None if prop is None else (prop['value'], prop['deleted'])}")
    odd = properties.get("odd")
    if version % 2 == 0:
        if odd is None or odd["deleted"] or odd["value"] != f"v{version}":
            problems.append(f"odd={None if odd is None else (odd['value'], odd['deleted'])}")
    elif odd is not None and not odd["deleted"]:
        problems.append(f"odd live: {odd['value']}")
    urls = [location["url"] for location in image["locations"]]
    if urls != [f"http://store/{image['id']}/{version}"]:
        problems.append(f"locations={urls}")
    if image["deleted"]:
        problems.append("image deleted")
    if problems:
        return f"{image['id']} {name}: " + ", ".join(problems)
    return None


@dataclass
class Tally:
    """What the readers of a run saw."""

    reads: int = 0
    images: int = 0
    torn: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, images: Iterable[Mapping[str, Any]]) -> None:
        images = list(images)
        found = [problem for problem in map(torn, images) if problem is not None]
        with self.lock:
            self.reads += 1
            self.images += len(images)
            self.torn.extend(found)

    def error(self, exc: BaseException) -> None:
        with self.lock:
            self.errors.append(f"{type(exc).__name__}: {exc}")


def hammer(
    writers: list[Database],
    readers: list[Database],
    ctx: RequestContext,
    image_ids: list[str],
    *,
    updates: int,
    read: Callable[[Database, list[str], int], list[Mapping[str, Any]]],
) -> Tally:
    """Update every image ``updates`` times from one thread per writer while
    one thread per reader calls ``read`` in a loop; return what readers saw.

    Writer ``w`` owns the images ``image_ids[w::len(writers)]`` (so updates
    of one image never race each other: the versions only go up).
    """
    tally = Tally()
    done = threading.Event()
    writer_errors: list[str] = []

    def write(index: int, db: Database) -> None:
        mine = image_ids[index :: len(writers)]
        try:
            for version in range(1, updates + 1):
                for image_id in mine:
                    update_to(db, ctx, image_id, version)
        except Exception as exc:  # reported below
            writer_errors.append(f"{type(exc).__name__}: {exc}")

    def reader(index: int, db: Database) -> None:
        n = 0
        while not done.is_set():
            try:
                tally.add(read(db, image_ids, n))
            except Exception as exc:  # reported by the test
                tally.error(exc)
            n += 1
            time.sleep(0)

    writer_threads = [threading.Thread(target=write, args=(i, db)) for i, db in enumerate(writers)]
    reader_threads = [threading.Thread(target=reader, args=(i, db)) for i, db in enumerate(readers)]
    for thread in reader_threads + writer_threads:
        thread.start()
    for thread in writer_threads:
        thread.join()
    done.set()
    for thread in reader_threads:
        thread.join()
    tally.errors.extend(writer_errors)
    return tally
