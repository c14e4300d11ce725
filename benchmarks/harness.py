"""glancedb's calls measured against the raw-driver floor of the same SQL.

For each operation, one glancedb call is *recorded*: a
``before_cursor_execute`` listener on the engine keeps every statement and
its parameters exactly as SQLAlchemy hands them to the DBAPI cursor
(``executemany`` calls included, with their parameter lists), a wrapper of
the SQLite dialect's begin hook keeps the ``BEGIN`` it sends, and a
``commit`` listener keeps whether the transaction committed.  The *floor*
replays those statements with those parameters on a bare DBAPI connection
(``engine.raw_connection()``, checked out once, so no SQLAlchemy at all per
call): one transaction, every row fetched as the driver's tuples, ended as
glancedb ended it (a write commits; a read rolls back, as glancedb's ends
when its connection is given back; a call glancedb sent in autocommit is
replayed in autocommit).  So the floor is the driver plus the database
doing exactly glancedb's SQL work, and ``glancedb / floor`` is the price of
glancedb's Python and of the connection handling around it.

Reads are recorded once and replayed as they are.  A write cannot be
replayed as it is (the same id twice), so each timed round of a write makes
one untimed recorded call, then times one glancedb call and one replay of
the recording with substituted keys: ``image_create`` replays with a new
uuid in place of the created id; ``image_update`` updates image A while the
floor replays onto a twin image B (A's id and A's property-row ids mapped to
B's), so that B goes through the same successive values as A and every
replayed UPDATE changes as much as glancedb's did.

Timings alternate glancedb and floor, after warm-up calls (6 when a call is
fast: psycopg prepares a statement on its 6th execution on a connection,
and both sides should be measured prepared; a read slower than 0.5 s is
warmed once and timed 5 times, one slower than 5 s timed 3 times, unwarmed);
medians are reported, of the
wall-clock time and of the CPU time of the calling thread (which excludes
what other processes take on a shared machine, and the database server's
own work on PostgreSQL and MySQL).
"""

from __future__ import annotations

import cProfile
import gc
import io
import pstats
import re
import statistics
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, delete, event, false, select
from sqlalchemy.engine.interfaces import ExecuteStyle

from benchmarks.catalogue import TENANT
from glancedb import Database, RequestContext, get_admin_context
from glancedb.engines import WRITER_INFO
from glancedb.models import tables as t

WARMUP_FAST = 6
WARMUP_SLOW = 1
SLOW_MS = 50.0
#: A call slower than this is timed only VERY_SLOW_REPEAT times (after one
#: warm-up call); one slower than GLACIAL_MS GLACIAL_REPEAT times, unwarmed.
VERY_SLOW_MS = 500.0
VERY_SLOW_REPEAT = 5
GLACIAL_MS = 5000.0
GLACIAL_REPEAT = 3
LIVE = {"deleted": False}
WRITE_NAMES = ("bench-write-create", "bench-write-update-a", "bench-write-update-b")


# --- recording ---------------------------------------------------------------------


@dataclass(frozen=True)
class Statement:
    """One statement as handed to the DBAPI cursor."""

    sql: str
    params: Any
    many: bool

    @property
    def is_begin(self) -> bool:
        return self.sql.lstrip()[:5].upper() == "BEGIN"


@dataclass
class Capture:
    """What one glancedb call sent to the database."""

    statements: list[Statement] = field(default_factory=list)
    ending: str | None = None
    #: Sent without a transaction (PostgreSQL's one-statement reads).
    autocommit: bool = False

    @property
    def counted(self) -> int:
        """Statements per call (a SQLite ``BEGIN`` is not counted)."""
        return sum(1 for s in self.statements if not s.is_begin)


def _copy(params: Any, many: bool) -> Any:
    if many:
        return [dict(p) if isinstance(p, dict) else p for p in params]
    return dict(params) if isinstance(params, dict) else params


@contextmanager
def recording(engine: Engine) -> Iterator[Capture]:
    """Record the statements ``engine`` executes in the block."""
    capture = Capture()

    def on_execute(
        conn: Any, _cursor: Any, sql: str, params: Any, context: Any, many: bool
    ) -> None:
        if conn.get_execution_options().get("isolation_level") == "AUTOCOMMIT":
            capture.autocommit = True
        # SQLAlchemy's "insertmanyvalues" (a multi-row INSERT ... RETURNING)
        # reports each batch as an executemany, but sends it with execute():
        # one statement, one flat parameter list.
        if many and getattr(context, "execute_style", None) is ExecuteStyle.INSERTMANYVALUES:
            many = False
        capture.statements.append(Statement(sql, _copy(params, many), many))

    def on_commit(_conn: Any) -> None:
        capture.ending = "commit"

    def on_rollback(_conn: Any) -> None:
        capture.ending = "rollback"

    listeners = (
        ("before_cursor_execute", on_execute),
        ("commit", on_commit),
        ("rollback", on_rollback),
    )
    # A SQLite BEGIN is sent by the dialect's hook (glancedb.engines), which
    # no execute event sees: the hook is wrapped to record what it sent.
    dialect: Any = engine.dialect
    do_begin = dialect.do_begin

    def recorded_begin(pooled: Any) -> None:
        writer = pooled.info.get(WRITER_INFO, False)
        began = pooled.driver_connection.in_transaction
        do_begin(pooled)
        if not began and pooled.driver_connection.in_transaction:
            sql = "BEGIN IMMEDIATE" if writer else "BEGIN"
            capture.statements.append(Statement(sql, (), False))

    had_events = engine._has_events
    for name, fn in listeners:
        event.listen(engine, name, fn)
    if engine.dialect.name == "sqlite":
        dialect.do_begin = recorded_begin
    try:
        yield capture
    finally:
        for name, fn in listeners:
            event.remove(engine, name, fn)
        if engine.dialect.name == "sqlite":
            dialect.do_begin = do_begin
        # Removing a listener leaves SQLAlchemy's flag set, and with it the
        # dispatch of events around every later call of the engine: the
        # timed calls would pay for a recording they are not part of.
        engine._has_events = had_events


def substitute(value: Any, mapping: dict[tuple[type, Any], Any]) -> Any:
    """``value`` with every str/int found in ``mapping`` (by type and value) replaced."""
    if isinstance(value, dict):
        return {k: substitute(v, mapping) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(substitute(v, mapping) for v in value)
    if type(value) in (str, int):
        return mapping.get((type(value), value), value)
    return value


Rows = list[Any] | None


class Floor:
    """A bare DBAPI connection replaying recorded calls."""

    def __init__(self, engine: Engine) -> None:
        self._pooled = engine.raw_connection()
        self.raw: Any = self._pooled.driver_connection

    def close(self) -> None:
        self._pooled.close()

    def replay(
        self,
        capture: Capture,
        mapping: dict[tuple[type, Any], Any] | None = None,
        *,
        keep: bool = False,
    ) -> list[Rows]:
        """Run ``capture``'s statements in one transaction (none if glancedb sent
        them in autocommit); the rows of each if ``keep``."""
        raw = self.raw
        kept: list[Rows] = []
        if capture.autocommit:
            raw.autocommit = True  # psycopg: an attribute, no round trip
        cursor = raw.cursor()
        try:
            for s in capture.statements:
                params = s.params if mapping is None else substitute(s.params, mapping)
                if s.many:
                    cursor.executemany(s.sql, params)
                else:
                    cursor.execute(s.sql, params)
                if cursor.description is not None:
                    rows = cursor.fetchall()
                    if keep:
                        kept.append(list(rows))
                elif keep:
                    kept.append(None)
            if capture.ending == "commit":
                raw.commit()
            else:
                raw.rollback()
        except BaseException:
            raw.rollback()
            raise
        finally:
            cursor.close()
            if capture.autocommit:
                raw.autocommit = False
        return kept

    def round_trip_ms(self, times: int = 200) -> float:
        """Median time of ``SELECT 1`` (fetched): the driver's round trip."""
        cursor = self.raw.cursor()
        timings = []
        try:
            for _ in range(times):
                started = time.perf_counter()
                cursor.execute("SELECT 1")
                cursor.fetchall()
                timings.append(time.perf_counter() - started)
            self.raw.rollback()
        finally:
            cursor.close()
        return statistics.median(timings) * 1000


def matching_statement(fetched: Sequence[Rows], ids: Sequence[Any]) -> int | None:
    """Index of the last statement whose rows carry ``ids``, in order, in one column.

    A row of one JSON array (PostgreSQL's one-statement ``image_get``) is
    read as the array's elements.
    """
    found = None
    for index, fetched_rows in enumerate(fetched):
        if fetched_rows is None or len(fetched_rows) != len(ids):
            continue
        rows = [_columns(row) for row in fetched_rows]
        if not ids or any([row[col] for row in rows] == list(ids) for col in range(len(rows[0]))):
            found = index
    return found


def _columns(row: Sequence[Any]) -> Sequence[Any]:
    return row[0] if len(row) == 1 and isinstance(row[0], list) else row


# --- operations --------------------------------------------------------------------


@dataclass
class Op:
    """One measured call: ``call(i)`` (``i`` varies the values of writes)."""

    key: str
    label: str
    context: str
    call: Callable[[int], Any]
    ids: Callable[[Any], list[Any]]
    #: Writes only: the substitutions for the floor's replay of a recording,
    #: from the recorded call's result.
    write_mapping: Callable[[Any], dict[tuple[type, Any], Any]] | None = None


#: Every operation key, in table order (the first 12 are listings).
OP_KEYS = (
    "first_page",
    "first_page_shown",
    "deep_page",
    "prop_rare",
    "prop_common",
    "prop_pair",
    "tag",
    "in_disk_format",
    "in_name",
    "return_tag",
    "sort_name_asc",
    "sort_size_desc",
    "image_get_own",
    "image_get_shared",
    "member_find_image",
    "member_find_member",
    "image_create",
    "image_update",
)
LISTING_KEYS = OP_KEYS[:12]
#: Listings whose page statement is also timed with literal values.
LITERAL_KEYS = ("first_page", "prop_rare", "prop_common", "prop_pair", "sort_name_asc")


@dataclass(frozen=True)
class Facts:
    """Values picked from the catalogue for the operations."""

    own_image: str
    build_id: str
    names: tuple[str, ...]
    shared_image: str
    own_shared_image: str


def gather_facts(db: Database) -> Facts:
    img = t.images.c
    memb = t.image_members.c
    prop = t.image_properties.c
    live_active = (img.deleted == false(), img.status == "active")
    with db.engine.connect() as conn:
        own = conn.execute(
            select(img.id, img.name)
            .where(img.owner == TENANT, *live_active)
            .order_by(img.created_at, img.id)
        ).all()
        middle = own[len(own) // 2][0]
        build_id = conn.execute(
            select(prop.value).where(prop.image_id == middle, prop.name == "build_id")
        ).scalar_one()
        named = [name for _, name in own if name is not None]
        names = tuple(named[k * len(named) // 3] for k in range(3)) if named else ()
        membership = (
            select(img.id)
            .join(t.image_members, memb.image_id == img.id)
            .where(*live_active, img.visibility == "shared", memb.deleted == false())
            .order_by(img.created_at, img.id)
        )
        shared = conn.execute(
            membership.where(memb.member == TENANT, memb.status == "accepted", img.owner != TENANT)
        ).first()
        own_shared = conn.execute(membership.where(img.owner == TENANT)).first()
    if shared is None or own_shared is None:
        raise RuntimeError("the catalogue lacks the tenant's shared images")
    return Facts(
        own_image=middle,
        build_id=build_id,
        names=names,
        shared_image=shared[0],
        own_shared_image=own_shared[0],
    )


def _ids(result: Any) -> list[Any]:
    return [r["id"] for r in result]


def _one_id(result: Any) -> list[Any]:
    return [result["id"]]


def _image_values(name: str, i: int) -> dict[str, Any]:
    return {
        "name": name,
        "status": "active",
        "visibility": "private",
        "owner": TENANT,
        "disk_format": "qcow2",
        "container_format": "bare",
        "size": 1 << 30,
        "min_disk": 1,
        "min_ram": 512,
        "properties": _properties(i),
        "locations": [
            {"url": f"file:///var/lib/glance/images/bench-{i}", "metadata": {}, "status": "active"},
            {"url": f"rbd://fsid/images/bench-{i}/snap", "metadata": {"store": "ceph"}},
        ],
    }


def _properties(i: int) -> dict[str, str]:
    return {
        "os_distro": "fedora",
        "os_version": f"40.{i}",
        "architecture": "x86_64",
        "hw_disk_bus": f"virtio-{i}",
        "hw_vif_model": "virtio",
        "hypervisor_type": "kvm",
        "os_type": "linux",
        "image_type": "image",
        "owner_specified.openstack.md5": "0" * 32,
        "build_id": "bench-build",
    }


WRITTEN_CHILD_TABLES = (t.image_properties, t.image_locations, t.image_members, t.image_tags)


def cleanup_writes(db: Database) -> None:
    """Remove the images the write operations made (and their children)."""
    img = t.images.c
    with db.engine.begin() as conn:
        ids = [
            r[0]
            for r in conn.execute(select(img.id).where(img.name.in_(WRITE_NAMES)).order_by(img.id))
        ]
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            for child in WRITTEN_CHILD_TABLES:
                conn.execute(delete(child).where(child.c.image_id.in_(chunk)))
            conn.execute(delete(t.images).where(img.id.in_(chunk)))
    if db.engine.dialect.name == "postgresql" and ids:
        # The deleted rows are the newest: every later run's first pages
        # would walk their dead index entries first (autovacuum waits for a
        # fifth of the table to be dead).
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            for table in (t.images, *WRITTEN_CHILD_TABLES):
                conn.exec_driver_sql(f"VACUUM {table.name}")


def _property_ids(db: Database, image_id: str) -> dict[str, int]:
    prop = t.image_properties.c
    with db.engine.connect() as conn:
        rows = conn.execute(select(prop.name, prop.id).where(prop.image_id == image_id)).all()
    return {name: prop_id for name, prop_id in rows}


def deep_marker(db: Database, ctx: Any) -> tuple[str | None, int]:
    """An image ~40 pages deep in ``ctx``'s default listing (less in a small catalogue)."""
    page = db.image_get_all(ctx, filters=LIVE, limit=1000)
    if not page:
        return None, 0
    depth = min(975, len(page) - 26) if len(page) > 26 else len(page) // 2
    return page[depth]["id"], depth + 1


def build_operations(db: Database, only: Sequence[str] | None = None) -> list[Op]:
    """The operations to measure (``only``: a subset of :data:`OP_KEYS`)."""
    wanted = set(only or OP_KEYS)
    facts = gather_facts(db)
    contexts: dict[str, Any] = {
        "admin": get_admin_context(),
        "tenant": RequestContext(project_id=TENANT),
    }
    by_key: dict[str, list[Op]] = {key: [] for key in OP_KEYS}
    names_filter = "in:" + ",".join(facts.names)
    for label, ctx in contexts.items():

        def page(ctx: Any = ctx, **kwargs: Any) -> Callable[[int], Any]:
            return lambda _i: db.image_get_all(ctx, limit=25, **kwargs)

        def props(**values: str) -> dict[str, Any]:
            return {**LIVE, "properties": values}

        marker, depth = deep_marker(db, ctx) if "deep_page" in wanted else (None, 0)
        listing = [
            ("first_page", "first page", page(filters=LIVE)),
            (
                # Glance's image list leaves hidden images out unless asked.
                "first_page_shown",
                "first page, os_hidden=False",
                page(filters={**LIVE, "os_hidden": False}),
            ),
            (
                "prop_rare",
                "property build_id (1 match)",
                page(filters=props(build_id=facts.build_id)),
            ),
            ("prop_common", "property os_distro=fedora", page(filters=props(os_distro="fedora"))),
            (
                "prop_pair",
                "os_distro=fedora AND os_version=7",
                page(filters=props(os_distro="fedora", os_version="7")),
            ),
            ("tag", "tag gpu", page(filters={**LIVE, "tags": ["gpu"]})),
            (
                "in_disk_format",
                "in: disk_format raw,iso",
                page(filters={**LIVE, "disk_format": "in:raw,iso"}),
            ),
            ("in_name", "in: name (3 names)", page(filters={**LIVE, "name": names_filter})),
            ("return_tag", "first page, return_tag", page(filters=LIVE, return_tag=True)),
            (
                "sort_name_asc",
                "sort name asc",
                page(filters=LIVE, sort_key=["name"], sort_dir=["asc"]),
            ),
            (
                "sort_size_desc",
                "sort size desc",
                page(filters=LIVE, sort_key=["size"], sort_dir=["desc"]),
            ),
        ]
        if marker is not None:
            listing.append(
                (
                    "deep_page",
                    f"deep page (marker: image {depth})",
                    page(filters=LIVE, marker=marker),
                )
            )
        for key, text, call in listing:
            by_key[key].append(Op(key, text, label, call, _ids))
        by_key["image_get_own"].append(
            Op(
                "image_get_own",
                "image_get (tenant's image)",
                label,
                lambda _i, ctx=ctx: db.image_get(ctx, facts.own_image),
                _one_id,
            )
        )
        by_key["member_find_image"].append(
            Op(
                "member_find_image",
                "image_member_find (tenant's image)",
                label,
                lambda _i, ctx=ctx: db.image_member_find(ctx, image_id=facts.own_shared_image),
                _ids,
            )
        )
    tenant = contexts["tenant"]
    by_key["image_get_shared"].append(
        Op(
            "image_get_shared",
            "image_get (shared, member)",
            "tenant",
            lambda _i: db.image_get(tenant, facts.shared_image),
            _one_id,
        )
    )
    by_key["member_find_member"].append(
        Op(
            "member_find_member",
            "image_member_find (member=tenant)",
            "tenant",
            lambda _i: db.image_member_find(tenant, member=TENANT),
            _ids,
        )
    )
    by_key["image_create"].append(
        Op(
            "image_create",
            "image_create (10 props, 2 locations)",
            "tenant",
            lambda i: db.image_create(tenant, _image_values(WRITE_NAMES[0], i)),
            _one_id,
            write_mapping=lambda result: {(str, result["id"]): str(uuid.uuid4())},
        )
    )
    if "image_update" in wanted:
        by_key["image_update"].append(_update_op(db, tenant))
    return [op for key in OP_KEYS if key in wanted for op in by_key[key]]


def _update_op(db: Database, tenant: Any) -> Op:
    """image_update of A (2 of 10 properties changed); the floor replays onto twin B."""
    cleanup_writes(db)
    a = db.image_create(tenant, _image_values(WRITE_NAMES[1], -1))["id"]
    b = db.image_create(tenant, _image_values(WRITE_NAMES[2], -1))["id"]
    a_props, b_props = _property_ids(db, a), _property_ids(db, b)
    mapping: dict[tuple[type, Any], Any] = {(str, a): b}
    mapping.update({(int, a_props[name]): b_props[name] for name in a_props})

    def call(i: int) -> Any:
        return db.image_update(tenant, a, {"properties": _properties(i)})

    return Op(
        "image_update",
        "image_update (2 of 10 props changed)",
        "tenant",
        call,
        _one_id,
        write_mapping=lambda _result: mapping,
    )


# --- measuring ---------------------------------------------------------------------


@dataclass
class Measurement:
    key: str
    label: str
    context: str
    glancedb_ms: float
    floor_ms: float
    #: CPU time of this process's thread: robust to other processes' load,
    #: but without the database server's own work (PostgreSQL, MySQL).
    glancedb_cpu_ms: float
    floor_cpu_ms: float
    statements: int
    rows: int
    #: Rows of the floor's statement returning the same ids (None: not found).
    floor_rows: int | None
    #: Rows the floor fetched over all statements.
    fetched: int
    capture: Capture
    page_index: int | None
    #: Timed calls of each side.
    runs: int

    @property
    def ratio(self) -> float:
        return self.glancedb_ms / self.floor_ms if self.floor_ms > 0 else float("nan")

    @property
    def cpu_ratio(self) -> float:
        return self.glancedb_cpu_ms / self.floor_cpu_ms if self.floor_cpu_ms > 0 else float("nan")


def _ms(fn: Callable[[], Any]) -> float:
    started = time.perf_counter()
    fn()
    return (time.perf_counter() - started) * 1000


class Timings:
    """Wall-clock and CPU (this thread's) milliseconds of the calls of one side."""

    def __init__(self) -> None:
        self.wall: list[float] = []
        self.cpu: list[float] = []

    def time(self, fn: Callable[[], Any]) -> None:
        wall, cpu = time.perf_counter(), time.thread_time()
        fn()
        self.cpu.append((time.thread_time() - cpu) * 1000)
        self.wall.append((time.perf_counter() - wall) * 1000)


def measure(
    db: Database, floor: Floor, op: Op, repeat: int, warmup: int = WARMUP_FAST
) -> Measurement:
    """Median ms of ``op`` through glancedb and through the floor, alternated."""
    gc.collect(1)  # the young generations: a full collection costs ~0.1 s here
    g, f = Timings(), Timings()
    if op.write_mapping is None:
        started = time.perf_counter()
        with recording(db.engine) as capture:
            result = op.call(0)
        first_ms = (time.perf_counter() - started) * 1000
        ids = op.ids(result)
        fetched = floor.replay(capture, keep=True)
        if first_ms >= SLOW_MS:
            warmup = min(warmup, WARMUP_SLOW)
        if first_ms > VERY_SLOW_MS:
            repeat = min(repeat, VERY_SLOW_REPEAT)
        if first_ms > GLACIAL_MS:
            warmup, repeat = 0, min(repeat, GLACIAL_REPEAT)
        for _ in range(warmup):
            op.call(0)
            floor.replay(capture)
        for r in range(repeat):
            if r % 2:
                f.time(lambda: floor.replay(capture))
                g.time(lambda: op.call(0))
            else:
                g.time(lambda: op.call(0))
                f.time(lambda: floor.replay(capture))
    else:
        # Each round: an untimed recorded call, then glancedb and the floor's
        # replay of that recording (keys substituted), timed.
        warmup = max(warmup, 1)  # round 0 only records
        for r in range(warmup + max(repeat, 1)):
            with recording(db.engine) as recorded:
                recorded_result = op.call(2 * r)
            mapping = op.write_mapping(recorded_result)
            if r == 0:
                # The floor's rows carry the substituted keys.
                capture, ids = recorded, substitute(op.ids(recorded_result), mapping)
                fetched = floor.replay(recorded, mapping, keep=True)
                continue
            sides = (g, f) if r >= warmup else (Timings(), Timings())
            sides[0].time(lambda: op.call(2 * r + 1))  # noqa: B023 (called at once)
            sides[1].time(lambda: floor.replay(recorded, mapping))  # noqa: B023
    page_index = matching_statement(fetched, ids)
    return Measurement(
        key=op.key,
        label=op.label,
        context=op.context,
        glancedb_ms=statistics.median(g.wall),
        floor_ms=statistics.median(f.wall),
        glancedb_cpu_ms=statistics.median(g.cpu),
        floor_cpu_ms=statistics.median(f.cpu),
        statements=capture.counted,
        rows=len(ids),
        floor_rows=None if page_index is None else len(fetched[page_index] or []),
        fetched=sum(len(rows) for rows in fetched if rows is not None),
        capture=capture,
        page_index=page_index,
        runs=len(g.wall),
    )


def profile(op: Op, repeat: int, top: int = 15) -> str:
    """cProfile of ``repeat`` glancedb calls of ``op``: the top functions by own time."""
    profiler = cProfile.Profile()
    profiler.enable()
    for i in range(repeat):
        op.call(2 * i + 1)
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(top)
    return out.getvalue()


# --- bound parameters vs literal values -------------------------------------------


def _literal(value: Any, backend: str) -> str | None:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        if backend == "postgresql":
            return "TRUE" if value else "FALSE"
        return "1" if value else "0"
    if isinstance(value, int | float):
        return repr(value)
    if hasattr(value, "isoformat"):
        value = value.isoformat(sep=" ")
    if isinstance(value, str):
        if backend in ("mysql", "mariadb"):
            value = value.replace("\\", "\\\\")
        return "'" + value.replace("'", "''") + "'"
    return None


_PYFORMAT = re.compile(r"%\((\w+)\)s|%%")
_FORMAT = re.compile(r"%s|%%")


def render_literal(statement: Statement, backend: str, paramstyle: str) -> str | None:
    """The statement with its parameters written in as SQL literals (None: cannot)."""
    params = statement.params
    if statement.many:
        return None
    if paramstyle == "qmark":
        parts = statement.sql.split("?")
        if len(parts) != len(params) + 1:
            return None
        literals = [_literal(v, backend) for v in params]
        if any(lit is None for lit in literals):
            return None
        return "".join(
            p + (literals[i] or "") if i < len(literals) else p for i, p in enumerate(parts)
        )
    positional = iter(params if isinstance(params, list | tuple) else ())
    failed = False

    def replace(match: re.Match[str]) -> str:
        nonlocal failed
        if match.group(0) == "%%":
            return "%"
        value = params[match.group(1)] if paramstyle == "pyformat" else next(positional)
        lit = _literal(value, backend)
        if lit is None:
            failed = True
            return ""
        return lit

    if paramstyle == "pyformat" and isinstance(params, dict):
        sql = _PYFORMAT.sub(replace, statement.sql)
    elif paramstyle == "format":
        sql = _FORMAT.sub(replace, statement.sql)
    else:
        return None
    return None if failed else sql


def time_statement(floor: Floor, sql: str, params: Any, repeat: int) -> float:
    """Median ms of one statement executed and fetched on the floor's connection."""
    raw = floor.raw

    def once() -> None:
        cursor = raw.cursor()
        try:
            if params is None:
                cursor.execute(sql)
            else:
                cursor.execute(sql, params)
            cursor.fetchall()
        finally:
            cursor.close()
            raw.rollback()

    first = _ms(once)
    if first > GLACIAL_MS:
        repeat = min(repeat, GLACIAL_REPEAT)
    elif first > VERY_SLOW_MS:
        repeat = min(repeat, VERY_SLOW_REPEAT)
    else:
        for _ in range(WARMUP_FAST if first < SLOW_MS else WARMUP_SLOW):
            once()
    return statistics.median(_ms(once) for _ in range(max(repeat, 1)))


# --- plans ---------------------------------------------------------------------------


def is_mariadb(floor: Floor) -> bool:
    cursor = floor.raw.cursor()
    try:
        cursor.execute("SELECT VERSION()")
        version = str(cursor.fetchall()[0][0])
    finally:
        cursor.close()
    return "mariadb" in version.lower()


def explain(floor: Floor, backend: str, sql: str, params: Any, *, analyze: bool) -> list[str]:
    """The plan of ``sql`` (run with ``params``; None for a literal statement)."""
    if backend == "sqlite":
        prefix = "EXPLAIN QUERY PLAN "
    elif backend == "postgresql":
        prefix = "EXPLAIN (ANALYZE, BUFFERS) " if analyze else "EXPLAIN "
    else:
        prefix = "ANALYZE " if analyze and is_mariadb(floor) else "EXPLAIN "
    raw = floor.raw
    cursor = raw.cursor()
    try:
        if params is None:
            cursor.execute(prefix + sql)
        else:
            cursor.execute(prefix + sql, params)
        rows = cursor.fetchall()
        names = [d[0] for d in cursor.description]
    finally:
        cursor.close()
        raw.rollback()
    if backend == "sqlite":
        depth: dict[Any, int] = {}
        lines = []
        for node, parent, _unused, detail in rows:
            depth[node] = depth.get(parent, -1) + 1
            lines.append("  " * depth[node] + str(detail))
        return lines
    if backend == "postgresql":
        return [str(row[0]) for row in rows]
    return [" | ".join(names)] + [" | ".join(str(v) for v in row) for row in rows]


def plan_shape(lines: Sequence[str], backend: str) -> list[str]:
    """The part of a plan that names its steps and indexes (no costs, no values)."""
    if backend == "sqlite":
        return [line.split(" (")[0] for line in lines]
    if backend == "postgresql":
        return [
            line.split("  (")[0].strip() for i, line in enumerate(lines) if i == 0 or "->" in line
        ]
    header = lines[0].split(" | ")
    keep = [header.index(c) for c in ("table", "type", "key") if c in header]
    return [" ".join(line.split(" | ")[i] for i in keep) for line in lines[1:]]


@dataclass
class LiteralComparison:
    key: str
    label: str
    context: str
    bound_ms: float
    literal_ms: float
    same_plan: bool
    bound_plan: list[str]
    literal_plan: list[str]


def compare_literal(
    floor: Floor, backend: str, paramstyle: str, m: Measurement, repeat: int
) -> LiteralComparison | None:
    """Time and plan the page statement of ``m`` bound (as glancedb sends it) and literal."""
    if m.page_index is None:
        return None
    # replay(keep=True) keeps one entry per statement, so the index is the same.
    statement = m.capture.statements[m.page_index]
    literal = render_literal(statement, backend, paramstyle)
    if literal is None:
        return None
    bound_plan = explain(floor, backend, statement.sql, statement.params, analyze=False)
    literal_plan = explain(floor, backend, literal, None, analyze=False)
    return LiteralComparison(
        key=m.key,
        label=m.label,
        context=m.context,
        bound_ms=time_statement(floor, statement.sql, statement.params, repeat),
        literal_ms=time_statement(floor, literal, None, repeat),
        same_plan=plan_shape(bound_plan, backend) == plan_shape(literal_plan, backend),
        bound_plan=bound_plan,
        literal_plan=literal_plan,
    )


def explain_measurement(floor: Floor, backend: str, m: Measurement) -> list[tuple[str, list[str]]]:
    """Analysed plans of the statements of ``m`` up to its page statement (reads only)."""
    last = m.page_index if m.page_index is not None else len(m.capture.statements) - 1
    plans = []
    for statement in m.capture.statements[: last + 1]:
        if statement.is_begin or statement.many:
            continue
        if not statement.sql.lstrip().upper().startswith("SELECT"):
            continue
        plans.append(
            (statement.sql, explain(floor, backend, statement.sql, statement.params, analyze=True))
        )
    return plans
