"""A realistic image catalogue, built fast with bulk inserts.

``build_catalogue(engine, n)`` writes ``n`` images with ~10 properties, 2
locations and 3 tags each; 10% of the images are shared with members; owners
and visibilities are mixed; a few images are deleted or killed.  The content
is deterministic for a given ``n`` and ``seed``.  PostgreSQL rows go in with
``COPY``; other backends use executemany in large batches.  ``ANALYZE`` runs
at the end so that planners see real statistics.

Tests reuse it with a small ``n``.
"""

from __future__ import annotations

import datetime
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, Table, text

from glancedb.models import tables as t
from glancedb.records import dump_json

T0 = datetime.datetime(2020, 1, 1)
TENANTS = tuple(f"tenant-{i:03d}" for i in range(100))
DISTROS = ("ubuntu", "fedora", "centos", "debian", "windows")
TAG_POOL = (*(f"tag-{i:02d}" for i in range(19)), "gpu")
BATCH = 10_000


@dataclass(frozen=True)
class Catalogue:
    """What was built, and handy values for queries against it."""

    images: int
    image_ids: tuple[str, ...]


def image_id(i: int) -> str:
    """A deterministic UUID-shaped id for image number ``i``."""
    h = f"{(i * 2654435761) % (1 << 32):08x}{i:024x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def _visibility(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.05:
        return "public"
    if roll < 0.08:
        return "community"
    if roll < 0.55:
        return "private"
    return "shared"


def generate(n: int, seed: int = 42) -> dict[Table, list[dict[str, Any]]]:
    """Rows of every image table for a catalogue of ``n`` images."""
    rng = random.Random(seed)
    images: list[dict[str, Any]] = []
    properties: list[dict[str, Any]] = []
    locations: list[dict[str, Any]] = []
    tags: list[dict[str, Any]] = []
    members: list[dict[str, Any]] = []
    for i in range(n):
        iid = image_id(i)
        created = T0 + datetime.timedelta(seconds=7 * i)
        roll = rng.random()
        deleted = roll < 0.03
        status = "killed" if 0.03 <= roll < 0.05 else ("deleted" if deleted else "active")
        visibility = _visibility(rng)
        owner = None if rng.random() < 0.005 else rng.choice(TENANTS)
        images.append(
            {
                "id": iid,
                "name": None if rng.random() < 0.01 else f"image-{i:07d}",
                "disk_format": rng.choice(("raw", "qcow2", "vmdk", "iso")),
                "container_format": rng.choice(("bare", "ovf")),
                "size": rng.randrange(1 << 20, 1 << 34),
                "virtual_size": None,
                "status": status,
                "visibility": visibility,
                "checksum": f"{i:032x}",
                "os_hash_algo": "sha512",
                "os_hash_value": f"{i:0128x}",
                "min_disk": rng.choice((0, 1, 10, 20)),
                "min_ram": rng.choice((0, 512, 2048)),
                "owner": owner,
                "protected": False,
                "os_hidden": rng.random() < 0.02,
                "created_at": created,
                "updated_at": created + datetime.timedelta(seconds=30),
                "deleted_at": created + datetime.timedelta(days=1) if deleted else None,
                "deleted": deleted,
            }
        )
        base = {
            "image_id": iid,
            "created_at": created,
            "updated_at": created,
            "deleted_at": None,
            "deleted": False,
        }
        props = {
            "os_distro": rng.choice(DISTROS),
            "os_version": str(rng.randrange(1, 30)),
            "architecture": rng.choice(("x86_64", "aarch64")),
            "hw_disk_bus": rng.choice(("virtio", "scsi")),
            "hw_vif_model": rng.choice(("virtio", "e1000")),
            "hypervisor_type": "kvm",
            "os_type": "linux",
            "image_type": rng.choice(("image", "snapshot")),
            "owner_specified.openstack.md5": f"{i:032x}",
            "build_id": f"build-{i}",
        }
        properties.extend({**base, "name": k, "value": v} for k, v in props.items())
        locations.append(
            {
                **base,
                "value": f"file:///var/lib/glance/images/{iid}",
                "meta_data": dump_json({}),
                "status": "active",
            }
        )
        locations.append(
            {
                **base,
                "value": f"rbd://fsid/images/{iid}/snap",
                "meta_data": dump_json({"store": "ceph"}),
                "status": "active",
            }
        )
        tags.extend({**base, "value": tag} for tag in rng.sample(TAG_POOL, 3))
        if visibility == "shared" and rng.random() < 0.18:  # ~10% of all images
            for member in rng.sample(TENANTS, 2):
                members.append(
                    {
                        **base,
                        "member": member,
                        "can_share": False,
                        "status": "accepted" if rng.random() < 0.8 else "pending",
                    }
                )
    return {
        t.images: images,
        t.image_properties: properties,
        t.image_locations: locations,
        t.image_tags: tags,
        t.image_members: members,
    }


def _batches(
    rows: Sequence[dict[str, Any]], size: int = BATCH
) -> Iterator[Sequence[dict[str, Any]]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


def _copy_postgresql(conn: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    columns = list(rows[0])
    raw = conn.connection.driver_connection
    assert raw is not None
    with raw.cursor() as cursor:
        names = ", ".join(columns)
        with cursor.copy(f"COPY {table.name} ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row([row[c] for c in columns])


def insert_rows(conn: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Bulk-insert ``rows`` (all with the same keys) into ``table``."""
    if not rows:
        return
    if conn.dialect.name == "postgresql":
        _copy_postgresql(conn, table, rows)
        return
    for batch in _batches(rows):
        conn.execute(table.insert(), list(batch))


def analyze(conn: Connection) -> None:
    """Refresh the planner statistics of the image tables."""
    names = [
        table.name
        for table in (
            t.images,
            t.image_properties,
            t.image_locations,
            t.image_tags,
            t.image_members,
        )
    ]
    if conn.dialect.name == "sqlite":
        conn.execute(text("ANALYZE"))
    elif conn.dialect.name == "postgresql":
        for name in names:
            conn.execute(text(f"ANALYZE {name}"))
    else:
        conn.execute(text(f"ANALYZE TABLE {', '.join(names)}"))


def build_catalogue(
    engine: Engine, n: int, seed: int = 42, *, run_analyze: bool = True
) -> Catalogue:
    """Empty the image tables of ``engine``'s (synced) database and fill them.

    Returns the ids in creation order.
    """
    rows = generate(n, seed)
    with engine.begin() as conn:
        for table in (t.image_properties, t.image_locations, t.image_members, t.image_tags):
            conn.execute(table.delete())
        conn.execute(t.images.delete())
        for table, table_rows in rows.items():
            insert_rows(conn, table, table_rows)
    if run_analyze:
        with engine.begin() as conn:
            analyze(conn)
    return Catalogue(images=n, image_ids=tuple(r["id"] for r in rows[t.images]))
