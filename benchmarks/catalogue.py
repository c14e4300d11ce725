"""A realistic image catalogue, generated and loaded as a stream of batches.

:func:`batches` yields the rows of ``n`` images a batch at a time (never the
whole catalogue), deterministically for a given ``(n, seed)`` and
:data:`GENERATOR_VERSION`:

- about 10 properties per image: ``os_distro`` from five values (common),
  ``os_version`` correlated with it (``os_distro=fedora`` and
  ``os_version=7`` are each common but rare together), a unique
  ``build_id`` (``build-<rank>``, rare), architecture, disk bus and so on; a
  few images also carry a soft-deleted property;
- 2 locations and 3 tags (from a pool of 20, one of them ``gpu``) each;
- ~10% of the images are shared with 2-3 of the 100 tenants as members
  (accepted, pending or rejected; a few memberships soft-deleted); two
  fixed images make sure that :data:`TENANT` shares one of its images and
  is an accepted member of another's, whatever ``n``;
- owners spread over 100 tenants (a few images have none); visibility
  public 5%, community 3%, private 42%, shared 50%;
- ~2% deleted (children soft-deleted with them), ~1% killed, ~3% queued
  (no size nor checksum yet); ~3% have no name.

:func:`load` writes the batches through the engine's bare DBAPI connection:
``COPY`` on PostgreSQL (psycopg 3), ``executemany`` elsewhere (a multi-row
``INSERT`` on MySQL), one transaction per batch.  Values go through the
SQLAlchemy bind processors of glancedb's own columns, so they are stored
exactly as glancedb would store them.  Tests use :func:`generate` and
:func:`build_catalogue` with a small ``n``.
"""

from __future__ import annotations

import datetime
import json
import random
from collections.abc import Callable, Iterator
from typing import Any

from sqlalchemy import Connection, Engine, Table, text
from sqlalchemy.engine import Dialect

from glancedb.models import tables as t

#: Bumped whenever the generated content changes: a stored catalogue built by
#: another version is rebuilt.
GENERATOR_VERSION = 3
T0 = datetime.datetime(2020, 1, 1)
#: Images are numbered by age, 0 the newest; rank ``r`` is created at
#: ``T0 + 7 * (NEWEST_RANK_AT - r)`` seconds, so catalogues of up to this many
#: images fit after T0.
NEWEST_RANK_AT = 10_000_000
TENANTS = tuple(f"tenant-{i:03d}" for i in range(100))
#: The benchmark's regular project: owns ~1% of the images, member of some.
TENANT = "tenant-007"
DISTROS = ("ubuntu", "fedora", "centos", "debian", "windows")
VERSIONS = {
    "ubuntu": ("20.04", "22.04", "24.04"),
    "fedora": ("38", "39", "40", "41"),
    "centos": ("7", "8", "9"),
    "debian": ("11", "12"),
    "windows": ("2019", "2022"),
}
#: Share of fedora images with the legacy version "7" (so that fedora AND
#: os_version=7 matches ~0.04% of the images while each value is common).
LEGACY_FEDORA = 0.002
TAG_POOL = (*(f"tag-{i:02d}" for i in range(19)), "gpu")
#: Images per batch: ~16 rows each, so ~160k rows in memory at a time.
BATCH = 10_000

#: Columns written per table, in the order of the generated tuples.
COLUMNS: dict[Table, tuple[str, ...]] = {
    t.images: (
        "id",
        "name",
        "disk_format",
        "container_format",
        "size",
        "virtual_size",
        "status",
        "visibility",
        "checksum",
        "os_hash_algo",
        "os_hash_value",
        "min_disk",
        "min_ram",
        "owner",
        "protected",
        "os_hidden",
        "created_at",
        "updated_at",
        "deleted_at",
        "deleted",
    ),
    t.image_properties: (
        "image_id",
        "name",
        "value",
        "created_at",
        "updated_at",
        "deleted_at",
        "deleted",
    ),
    t.image_locations: (
        "image_id",
        "value",
        "meta_data",
        "status",
        "created_at",
        "updated_at",
        "deleted_at",
        "deleted",
    ),
    t.image_tags: ("image_id", "value", "created_at", "updated_at", "deleted_at", "deleted"),
    t.image_members: (
        "image_id",
        "member",
        "can_share",
        "status",
        "created_at",
        "updated_at",
        "deleted_at",
        "deleted",
    ),
}
#: Parents first: the order in which a batch is inserted.
TABLES: tuple[Table, ...] = tuple(COLUMNS)

Batch = dict[Table, list[tuple[Any, ...]]]


def image_id(i: int) -> str:
    """A deterministic UUID-shaped id for image number ``i`` (scattered like uuid4)."""
    h = f"{(i * 2654435761) % (1 << 32):08x}{i:024x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def _visibility(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.05:
        return "public"
    if roll < 0.08:
        return "community"
    if roll < 0.50:
        return "private"
    return "shared"


def _status(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.02:
        return "deleted"
    if roll < 0.03:
        return "killed"
    if roll < 0.06:
        return "queued"
    return "active"


#: Members of the two fixed shared images.
SPECIAL_MEMBERS = (TENANT, "tenant-013", "tenant-042")


def _specials(n: int) -> dict[int, str]:
    """Two images present in any catalogue (even a tiny one), by index -> owner:
    one the tenant owns and shares, one another project shares with it."""
    if n < 4:
        return {}
    return {n // 3: TENANT, n // 2: "tenant-042"}


_LOCATION_META = (json.dumps({}), json.dumps({"store": "ceph"}))


def batches(n: int, seed: int = 42, size: int = BATCH) -> Iterator[Batch]:
    """The catalogue's rows, ``size`` images at a time (tuples in :data:`COLUMNS` order),
    oldest first.

    Each image is drawn from a random stream of its own, seeded by ``seed``
    and its rank by age (0 the newest), so the newest images of every
    catalogue are the same ones, whatever ``n`` (but for the two fixed
    images of :func:`_specials`): a page, which reads the newest images,
    walks the same rows at 10k and at 1M images, and comparing the two
    measures the size alone.  (With one stream for the whole catalogue, the
    rows a tenant's page walked differed by chance: 2,140 against 2,812
    images for the same tag page.)
    """
    if n > NEWEST_RANK_AT:
        raise ValueError(f"at most {NEWEST_RANK_AT} images")
    specials = _specials(n)
    for start in range(0, n, size):
        batch: Batch = {table: [] for table in TABLES}
        images = batch[t.images]
        properties = batch[t.image_properties]
        locations = batch[t.image_locations]
        tags = batch[t.image_tags]
        members = batch[t.image_members]
        for i in range(start, min(n, start + size)):
            rank = n - 1 - i
            rng = random.Random(seed * NEWEST_RANK_AT + rank)
            iid = image_id(rank)
            created = T0 + datetime.timedelta(seconds=7 * (NEWEST_RANK_AT - rank))
            updated = created + datetime.timedelta(seconds=30)
            status = _status(rng)
            deleted = status == "deleted"
            deleted_at = created + datetime.timedelta(days=1) if deleted else None
            visibility = _visibility(rng)
            owner = None if rng.random() < 0.005 else rng.choice(TENANTS)
            special = specials.get(i)
            if special is not None:
                status, deleted, deleted_at, visibility, owner = (
                    "active",
                    False,
                    None,
                    "shared",
                    special,
                )
            uploaded = status not in ("queued", "killed")
            image_size = rng.randrange(1 << 20, 1 << 34) if uploaded else None
            images.append(
                (
                    iid,
                    None if rng.random() < 0.03 else f"image-{rank:07d}",
                    rng.choice(("raw", "qcow2", "vmdk", "iso")),
                    rng.choice(("bare", "ovf")),
                    image_size,
                    image_size * 2 if image_size is not None and rng.random() < 0.5 else None,
                    status,
                    visibility,
                    f"{rank:032x}" if uploaded else None,
                    "sha512" if uploaded else None,
                    f"{rank:0128x}" if uploaded else None,
                    rng.choice((0, 1, 10, 20)),
                    rng.choice((0, 512, 2048)),
                    owner,
                    rng.random() < 0.01,
                    rng.random() < 0.02,
                    created,
                    updated,
                    deleted_at,
                    deleted,
                )
            )
            child = (created, updated, deleted_at, deleted)
            distro = rng.choice(DISTROS)
            if distro == "fedora" and rng.random() < LEGACY_FEDORA:
                version = "7"
            else:
                version = rng.choice(VERSIONS[distro])
            props = (
                ("os_distro", distro),
                ("os_version", version),
                ("architecture", rng.choice(("x86_64", "x86_64", "aarch64"))),
                ("hw_disk_bus", rng.choice(("virtio", "scsi"))),
                ("hw_vif_model", rng.choice(("virtio", "e1000"))),
                ("hypervisor_type", "kvm"),
                ("os_type", "windows" if distro == "windows" else "linux"),
                ("image_type", rng.choice(("image", "snapshot"))),
                ("owner_specified.openstack.md5", f"{rank:032x}"),
                ("build_id", f"build-{rank}"),
            )
            properties.extend((iid, name, value, *child) for name, value in props)
            if rng.random() < 0.05:
                # A property removed earlier: soft-deleted whatever the image.
                gone = created + datetime.timedelta(seconds=10)
                properties.append(
                    (iid, "old_kernel_id", f"kernel-{rank}", created, gone, gone, True)
                )
            loc_status = "deleted" if deleted else "active"
            locations.append(
                (iid, f"file:///var/lib/glance/images/{iid}", _LOCATION_META[0], loc_status, *child)
            )
            locations.append(
                (iid, f"rbd://fsid/images/{iid}/snap", _LOCATION_META[1], loc_status, *child)
            )
            tags.extend((iid, tag, *child) for tag in rng.sample(TAG_POOL, 3))
            if special is not None or (visibility == "shared" and rng.random() < 0.2):
                # ~10% of all images
                chosen = rng.sample(TENANTS, rng.choice((2, 3)))
                if special is not None:
                    chosen = [m for m in SPECIAL_MEMBERS if m != owner][:2]
                for member in chosen:
                    roll = rng.random()
                    member_status = (
                        "accepted" if roll < 0.7 else ("pending" if roll < 0.9 else "rejected")
                    )
                    gone = deleted or rng.random() < 0.02
                    if special is not None:
                        member_status, gone = "accepted", False
                    members.append(
                        (
                            iid,
                            member,
                            False,
                            member_status,
                            created,
                            updated,
                            deleted_at or (updated if gone else None),
                            gone,
                        )
                    )
        yield batch


def generate(n: int, seed: int = 42) -> dict[Table, list[dict[str, Any]]]:
    """The whole catalogue as dicts per table (for tests: small ``n`` only)."""
    rows: dict[Table, list[dict[str, Any]]] = {table: [] for table in TABLES}
    for batch in batches(n, seed):
        for table, tuples in batch.items():
            names = COLUMNS[table]
            rows[table].extend(dict(zip(names, row, strict=True)) for row in tuples)
    return rows


# --- loading -------------------------------------------------------------------------


def _processors(
    table: Table, dialect: Dialect
) -> Callable[[list[tuple[Any, ...]]], list[tuple[Any, ...]]]:
    """Convert tuples the way SQLAlchemy's bind processors of the columns would."""
    procs = [table.c[name].type._cached_bind_processor(dialect) for name in COLUMNS[table]]
    if not any(procs):
        return lambda rows: rows
    indexed = [(i, p) for i, p in enumerate(procs) if p is not None]

    def convert(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
        out = []
        for row in rows:
            values = list(row)
            for i, proc in indexed:
                values[i] = proc(values[i])
            out.append(tuple(values))
        return out

    return convert


def _insert_sql(table: Table, placeholder: str) -> str:
    names = COLUMNS[table]
    marks = ", ".join(placeholder for _ in names)
    return f"INSERT INTO {table.name} ({', '.join(names)}) VALUES ({marks})"


def load(
    engine: Engine,
    n: int,
    seed: int = 42,
    *,
    size: int = BATCH,
    bulk_session: bool = False,
    progress: Callable[[int], None] | None = None,
) -> None:
    """Insert the catalogue into ``engine``'s (synced, empty) image tables.

    One transaction per batch, through the bare DBAPI connection.
    ``bulk_session`` relaxes the session for a large build: SQLite
    ``synchronous=OFF`` and a large page cache, MySQL ``unique_checks=0`` and
    ``foreign_key_checks=0`` (the generated rows satisfy both).
    """
    backend = engine.dialect.name
    pooled = engine.raw_connection()
    try:
        raw: Any = pooled.driver_connection
        if backend == "postgresql":
            writer = _postgresql_writer(raw)
        else:
            writer = _executemany_writer(raw, engine.dialect)
        cursor = raw.cursor()
        if bulk_session and backend == "sqlite":
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=OFF")
            cursor.execute("PRAGMA cache_size=-262144")  # 256 MiB
        elif bulk_session and backend in ("mysql", "mariadb"):
            cursor.execute("SET SESSION unique_checks=0")
            cursor.execute("SET SESSION foreign_key_checks=0")
        done = 0
        for batch in batches(n, seed, size):
            if backend == "sqlite":
                cursor.execute("BEGIN")
            for table in TABLES:
                if batch[table]:
                    writer(table, batch[table])
            raw.commit()
            done += len(batch[t.images])
            if progress is not None:
                progress(done)
        if bulk_session and backend == "sqlite":
            cursor.execute("PRAGMA synchronous=NORMAL")
        elif bulk_session and backend in ("mysql", "mariadb"):
            cursor.execute("SET SESSION unique_checks=1")
            cursor.execute("SET SESSION foreign_key_checks=1")
        cursor.close()
    finally:
        pooled.close()


def _postgresql_writer(raw: Any) -> Callable[[Table, list[tuple[Any, ...]]], None]:
    def write(table: Table, rows: list[tuple[Any, ...]]) -> None:
        names = ", ".join(COLUMNS[table])
        with raw.cursor() as cursor, cursor.copy(f"COPY {table.name} ({names}) FROM STDIN") as cp:
            for row in rows:
                cp.write_row(row)

    return write


def _executemany_writer(
    raw: Any, dialect: Dialect
) -> Callable[[Table, list[tuple[Any, ...]]], None]:
    placeholder = "?" if dialect.paramstyle == "qmark" else "%s"
    sql = {table: _insert_sql(table, placeholder) for table in TABLES}
    convert = {table: _processors(table, dialect) for table in TABLES}

    def write(table: Table, rows: list[tuple[Any, ...]]) -> None:
        cursor = raw.cursor()
        try:
            # PyMySQL turns an INSERT ... VALUES executemany into multi-row
            # INSERTs of up to ~1 MB each.
            cursor.executemany(sql[table], convert[table](rows))
        finally:
            cursor.close()

    return write


def analyze(conn: Connection) -> None:
    """Refresh the planner statistics of the image tables, fully.

    SQLite: a full ``ANALYZE`` (``analysis_limit=0``: sampled statistics
    describe the one-valued ``deleted`` indexes as selective); PostgreSQL
    ``ANALYZE``; MySQL/MariaDB ``ANALYZE TABLE``.
    """
    names = [table.name for table in TABLES]
    backend = conn.dialect.name
    if backend == "sqlite":
        conn.execute(text("PRAGMA analysis_limit=0"))
        conn.execute(text("ANALYZE"))
    elif backend == "postgresql":
        conn.execute(text(f"ANALYZE {', '.join(names)}"))
    else:
        conn.execute(text(f"ANALYZE TABLE {', '.join(names)}")).all()


def build_catalogue(engine: Engine, n: int, seed: int = 42, *, run_analyze: bool = True) -> None:
    """Empty the image tables of ``engine``'s (synced) database and fill them."""
    with engine.begin() as conn:
        for table in reversed(TABLES):
            conn.execute(table.delete())
    load(engine, n, seed)
    if run_analyze:
        with engine.begin() as conn:
            analyze(conn)
