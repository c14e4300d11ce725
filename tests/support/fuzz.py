"""The fuzz test's world: a seeded database, its fingerprint, and hostile values.

:func:`seed` writes a small but realistic state with fixed keys (images with
properties, locations, members and tags; tasks; a metadef namespace with an
object, a property, a tag and a resource-type association; a cache node with
a cached image), so that generated calls can name existing records and reach
deep code paths.  :func:`fingerprint` summarises every row of every table;
comparing it before and after a call that raised proves that the call wrote
nothing.

The strategies mix valid and invalid parts: a call mostly made of valid
arguments with one hostile value reaches further than pure noise.
"""

from __future__ import annotations

import datetime
import decimal
import functools
import hashlib
import math
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st
from sqlalchemy import (
    ColumnElement,
    String,
    Table,
    cast,
    create_engine,
    func,
    literal,
    select,
    union_all,
)

from glancedb import Database, RequestContext
from glancedb.models import tables as t
from glancedb.models.tables import DELETE_ORDER
from glancedb.validation import IMAGE_STATUSES, MEMBER_STATUSES
from tests.support.factories import (
    image_row,
    location_row,
    member_row,
    property_row,
    tag_row,
    task_info_row,
    task_row,
)
from tests.support.text_strategies import BMP_CHARS

# --- the seeded state -----------------------------------------------------------------

#: Explicit integer keys start here: far above what the sequences hand out
#: during a test run, so rows the calls insert never collide with them.
BASE_ID = 900_001

IMG_PUBLIC = "f0000000-0000-4000-8000-000000000001"
IMG_SHARED = "f0000000-0000-4000-8000-000000000002"
IMG_PRIVATE_B = "f0000000-0000-4000-8000-000000000003"
IMG_PENDING = "f0000000-0000-4000-8000-000000000004"
IMG_DELETED = "f0000000-0000-4000-8000-000000000005"
IMG_NO_OWNER = "f0000000-0000-4000-8000-000000000006"
IMAGE_IDS = (IMG_PUBLIC, IMG_SHARED, IMG_PRIVATE_B, IMG_PENDING, IMG_DELETED, IMG_NO_OWNER)

TASK_A = "e0000000-0000-4000-8000-000000000001"
TASK_B = "e0000000-0000-4000-8000-000000000002"
TASK_DELETED = "e0000000-0000-4000-8000-000000000003"
TASK_IDS = (TASK_A, TASK_B, TASK_DELETED)

PROPERTY_NAMES = ("os_distro", "hw_disk_bus", "os_glance_importing_to_stores", "gone")
TAG_VALUES = ("alpha", "beta")
MEMBERS = ("tenant-b", "tenant-c")
#: Keys of the seeded locations and memberships (their ``id`` columns).
LOCATION_IDS = (BASE_ID, BASE_ID + 1, BASE_ID + 2)
MEMBER_IDS = (BASE_ID, BASE_ID + 1, BASE_ID + 2)

NAMESPACE = "Fuzz::Public"
NAMESPACE_PRIVATE = "Fuzz::Private"
NAMESPACES = (NAMESPACE, NAMESPACE_PRIVATE)
NAMESPACE_IDS = (BASE_ID, BASE_ID + 1)
METADEF_NAMES = ("fuzz-object", "fuzz-property", "fuzz-tag")
METADEF_IDS = (BASE_ID, BASE_ID + 1)
RESOURCE_TYPES = ("OS::Glance::Image", "OS::Fuzz::Spare")

NODE_URL = "http://cache-node-1:9292"
NODE_URLS = (NODE_URL, "http://cache-node-2:9292")

OWNERS = ("tenant-a", "tenant-b", None)

CONTEXTS = (
    RequestContext(is_admin=True),
    RequestContext(project_id="tenant-a", user_id="user-a"),
    RequestContext(project_id="tenant-b", user_id="user-b"),
    RequestContext(project_id="tenant-a", show_deleted=True),
    RequestContext(),
)

_LONG_AGO = datetime.datetime(2020, 1, 1, 12, 0, 0)
_CREATED = datetime.datetime(2024, 1, 1, 12, 0, 0)
_FUTURE = datetime.datetime(2999, 1, 1)


def _at(minutes: int) -> dict[str, Any]:
    when = _CREATED + datetime.timedelta(minutes=minutes)
    return {"created_at": when, "updated_at": when}


def _deleted_long_ago() -> dict[str, Any]:
    return {"deleted": True, "deleted_at": _LONG_AGO}


def _image_rows() -> dict[Table, list[dict[str, Any]]]:
    images = [
        image_row(
            id=IMG_PUBLIC,
            name="public",
            visibility="public",
            size=1024,
            disk_format="qcow2",
            container_format="bare",
            checksum="c" * 32,
            **_at(1),
        ),
        image_row(id=IMG_SHARED, name="shared", size=10, status="importing", **_at(2)),
        image_row(id=IMG_PRIVATE_B, name=None, owner="tenant-b", visibility="private", **_at(3)),
        image_row(id=IMG_PENDING, status="pending_delete", size=5, **_at(4)),
        image_row(id=IMG_DELETED, name="deleted", **_at(5), **_deleted_long_ago()),
        image_row(id=IMG_NO_OWNER, owner=None, visibility="community", **_at(6)),
    ]
    properties = [
        property_row(IMG_PUBLIC, id=BASE_ID, name="os_distro", value="cirros", **_at(1)),
        property_row(IMG_PUBLIC, id=BASE_ID + 1, name="hw_disk_bus", value=None, **_at(1)),
        property_row(
            IMG_SHARED,
            id=BASE_ID + 2,
            name="os_glance_importing_to_stores",
            value="store-1",
            **_at(2),
        ),
        property_row(IMG_PUBLIC, id=BASE_ID + 3, name="gone", **_at(1), **_deleted_long_ago()),
    ]
    locations = [
        location_row(IMG_PUBLIC, id=LOCATION_IDS[0], value="file:///a", **_at(1)),
        location_row(IMG_SHARED, id=LOCATION_IDS[1], value="file:///b", **_at(2)),
        location_row(
            IMG_PUBLIC,
            id=LOCATION_IDS[2],
            value="file:///old",
            status="deleted",
            **_at(1),
            **_deleted_long_ago(),
        ),
    ]
    members = [
        member_row(IMG_SHARED, id=MEMBER_IDS[0], member="tenant-b", **_at(2)),
        member_row(IMG_SHARED, id=MEMBER_IDS[1], member="tenant-c", status="pending", **_at(2)),
        member_row(
            IMG_PUBLIC, id=MEMBER_IDS[2], member="tenant-b", **_at(1), **_deleted_long_ago()
        ),
    ]
    tags = [
        tag_row(IMG_PUBLIC, id=BASE_ID, value="alpha", **_at(1)),
        tag_row(IMG_PUBLIC, id=BASE_ID + 1, value="beta", **_at(1)),
        tag_row(IMG_SHARED, id=BASE_ID + 2, value="alpha", **_at(2)),
    ]
    return {
        t.images: images,
        t.image_properties: properties,
        t.image_locations: locations,
        t.image_members: members,
        t.image_tags: tags,
    }


def _task_rows() -> dict[Table, list[dict[str, Any]]]:
    tasks = [
        task_row(id=TASK_A, image_id=IMG_PUBLIC, expires_at=_FUTURE, **_at(1)),
        task_row(id=TASK_B, owner="tenant-b", status="success", **_at(2)),
        task_row(id=TASK_DELETED, **_at(3), **_deleted_long_ago()),
    ]
    info = [
        task_info_row(TASK_A, input='{"image_id": "x"}', message="started"),
        task_info_row(TASK_B),
        task_info_row(TASK_DELETED),
    ]
    return {t.tasks: tasks, t.task_info: info}


def _metadef_rows() -> dict[Table, list[dict[str, Any]]]:
    when = _at(0)
    namespaces = [
        {
            "id": NAMESPACE_IDS[0],
            "namespace": NAMESPACE,
            "display_name": "Fuzz",
            "description": "seeded",
            "visibility": "public",
            "protected": False,
            "owner": "tenant-a",
            **when,
        },
        {
            "id": NAMESPACE_IDS[1],
            "namespace": NAMESPACE_PRIVATE,
            "display_name": None,
            "description": None,
            "visibility": "private",
            "protected": True,
            "owner": "tenant-b",
            **when,
        },
    ]
    ns = NAMESPACE_IDS[0]
    objects = [
        {
            "id": BASE_ID,
            "namespace_id": ns,
            "name": "fuzz-object",
            "description": None,
            "required": "a,b",
            "json_schema": '{"a": {"type": "string"}}',
            **when,
        }
    ]
    properties = [
        {
            "id": BASE_ID,
            "namespace_id": ns,
            "name": "fuzz-property",
            "json_schema": '{"type": "string"}',
            **when,
        }
    ]
    tags = [{"id": BASE_ID, "namespace_id": ns, "name": "fuzz-tag", **when}]
    resource_types = [
        {"id": BASE_ID, "name": RESOURCE_TYPES[0], "protected": True, **when},
        {"id": BASE_ID + 1, "name": RESOURCE_TYPES[1], "protected": False, **when},
    ]
    associations = [
        {
            "namespace_id": ns,
            "resource_type_id": BASE_ID,
            "properties_target": "image",
            "prefix": "fz_",
            **when,
        }
    ]
    return {
        t.metadef_namespaces: namespaces,
        t.metadef_objects: objects,
        t.metadef_properties: properties,
        t.metadef_tags: tags,
        t.metadef_resource_types: resource_types,
        t.metadef_namespace_resource_types: associations,
    }


def _cache_rows() -> dict[Table, list[dict[str, Any]]]:
    nodes = [{"node_reference_id": BASE_ID, "node_reference_url": NODE_URL}]
    cached = [
        {
            "id": BASE_ID,
            "image_id": IMG_PUBLIC,
            "node_reference_id": BASE_ID,
            "last_accessed": _CREATED,
            "last_modified": _CREATED,
            "size": 1024,
            "hits": 3,
            "checksum": None,
        }
    ]
    return {t.node_reference: nodes, t.cached_images: cached}


#: The seeded state in independent groups of tables (no foreign key crosses
#: groups), each written by its own builder: a call is checked, and its
#: group reseeded, without touching the others.
GROUPS: dict[str, Callable[[], dict[Table, list[dict[str, Any]]]]] = {
    "images": _image_rows,
    "tasks": _task_rows,
    "metadefs": _metadef_rows,
    "cache": _cache_rows,
}


def group_tables(groups: Iterable[str]) -> list[Table]:
    """The tables of ``groups``, children before parents."""
    tables = {table for name in groups for table in GROUPS[name]()}
    return [table for table in DELETE_ORDER if table in tables]


def seed(db: Database, groups: Iterable[str] = tuple(GROUPS)) -> None:
    """Empty the tables of ``groups``, then write their seeded rows (fixed keys)."""
    rows: dict[Table, list[dict[str, Any]]] = {}
    for name in groups:
        rows.update(GROUPS[name]())
    with db.engine.begin() as conn:
        for table in DELETE_ORDER:
            if table in rows:
                conn.execute(table.delete())
        for table in reversed(DELETE_ORDER):
            if rows.get(table):
                # One executemany needs the same keys in every row.
                keys = {key for row in rows[table] for key in row}
                uniform = [{key: row.get(key) for key in keys} for row in rows[table]]
                conn.execute(table.insert(), uniform)


Fingerprint = tuple[tuple[int, ...], str]

# Separators of the row text (NULL has its own mark): characters the seed
# never holds, so two different rows never read the same.
_FIELD, _NULL = "\x1f", "\x1e"


def _row_text(table: Table) -> ColumnElement[str]:
    """One row of ``table`` as text: every column cast to text, in column order."""
    fields = [func.coalesce(cast(column, String), _NULL) for column in table.columns]
    return functools.reduce(lambda text, field: text.concat(_FIELD).concat(field), fields)


class Fingerprinter:
    """Fingerprints of a database's tables: row counts and a hash of all rows.

    One statement per fingerprint (a ``UNION ALL`` of every table's rows as
    text) on its own autocommit connection, without the pool's pre-ping: a
    single round trip, so that checking after every call stays cheap on the
    server backends.
    """

    def __init__(self, db: Database) -> None:
        self.engine = create_engine(db.engine.url, isolation_level="AUTOCOMMIT")
        self.connection = self.engine.connect()
        self._statements: dict[tuple[Table, ...], Any] = {}

    def close(self) -> None:
        self.connection.close()
        self.engine.dispose()

    def __call__(self, tables: Iterable[Table] = DELETE_ORDER) -> Fingerprint:
        key = tuple(tables)
        statement = self._statements.get(key)
        if statement is None:
            statement = union_all(
                *(
                    select(literal(index).label("t"), _row_text(table).label("r"))
                    for index, table in enumerate(key)
                )
            )
            self._statements[key] = statement
        rows = sorted((int(t_), str(r)) for t_, r in self.connection.execute(statement))
        counts = [0] * len(key)
        digest = hashlib.sha256()
        for index, text in rows:
            counts[index] += 1
            digest.update(f"{index}{_FIELD}{text}\n".encode("utf-8", "backslashreplace"))
        return tuple(counts), digest.hexdigest()


# --- hostile values -------------------------------------------------------------------

#: Integers at and beyond every column's bounds (32-bit, 64-bit, and far past).
BOUNDARY_INTS = (
    2**31 - 1,
    2**31,
    -(2**31),
    -(2**31) - 1,
    2**63 - 1,
    2**63,
    -(2**63),
    -(2**63) - 1,
    2**64,
    2**100,
    -(2**100),
    10**40,
)

#: Characters that some backend cannot store or compare, and SQL/filter syntax.
NASTY_CHARS = (
    "\x00",
    "\ud800",
    "\udfff",
    "\U0001f600",
    "\U0010ffff",
    "'",
    '"',
    "%",
    "_",
    "\\",
    ",",
    ":",
    ";",
    " ",
    "\n",
)

integers = st.one_of(st.integers(-3, 3), st.integers(), st.sampled_from(BOUNDARY_INTS))
floats = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([math.nan, math.inf, -math.inf, 1e300, -0.0, 0.5]),
)

_plain_text = st.text(max_size=12)
_nasty_text = st.builds(
    lambda head, char, tail: head + char + tail,
    _plain_text,
    st.sampled_from(NASTY_CHARS),
    _plain_text,
)
_surrogate_text = st.text(alphabet=st.characters(categories=["Cs"]), min_size=1, max_size=3)
_long_text = st.builds(
    lambda char, size: char * size,
    st.sampled_from(["a", "\u00e9", "\u20ac"]),
    st.sampled_from([36, 37, 64, 65, 80, 81, 255, 256, 4000, 70_000]),
)
_syntax_text = st.sampled_from(
    [
        "",
        "in:",
        "in:a,b",
        'in:"a,b",c',
        'in:"unclosed',
        "eq:x",
        "gt:2024-01-01T00:00:00",
        "lte:not-a-time",
        "nope:x",
        "2024-01-01T10:00:00+02:00",
        "9999-12-31T23:59:59-23:59",
        "0001-01-01T00:00:00+01:00",
        "true",
        "False",
        "None",
        "1e400",
        "-1",
        "18446744073709551616",
        "1" * 5000,
        "' OR 1=1 --",
    ]
)

#: Any string: plain, with one nasty character, lone surrogates, long, filter syntax.
texts = st.one_of(_plain_text, _nasty_text, _surrogate_text, _long_text, _syntax_text)

_offsets = st.builds(
    datetime.timezone,
    st.timedeltas(
        min_value=datetime.timedelta(hours=-23, minutes=-59),
        max_value=datetime.timedelta(hours=23, minutes=59),
    ),
)
datetimes = st.one_of(
    st.datetimes(),
    st.datetimes(timezones=_offsets),
    st.sampled_from(
        [
            datetime.datetime.min,
            datetime.datetime.max,
            datetime.datetime.min.replace(tzinfo=datetime.timezone(datetime.timedelta(hours=1))),
            datetime.datetime.max.replace(tzinfo=datetime.timezone(datetime.timedelta(hours=-1))),
        ]
    ),
)


class Opaque:
    """An object of no known type (its ``str`` is harmless)."""

    def __repr__(self) -> str:
        return "Opaque()"


_odd_scalars = st.one_of(
    st.binary(max_size=8),
    st.builds(Opaque),
    st.sampled_from(
        [
            decimal.Decimal("NaN"),
            decimal.Decimal("1e400"),
            decimal.Decimal("2.5"),
            complex(1, 2),
            uuid.UUID(int=1),
            datetime.date(2024, 1, 1),
            datetime.timedelta(days=1),
            Ellipsis,
            int,
        ]
    ),
)

#: Every kind of leaf value a caller might pass.
scalars = st.one_of(st.none(), st.booleans(), integers, floats, texts, datetimes, _odd_scalars)

_hashable = st.one_of(st.none(), st.booleans(), integers, texts)
_keys = st.one_of(texts, _hashable, st.tuples(_hashable, _hashable), st.frozensets(_hashable))


class _DeepList(list[Any]):
    """The outermost of many nested lists, shown short (to Hypothesis too):
    glancedb must cope with walking it, a test report must not."""

    def __repr__(self) -> str:
        return f"<a string in {DEEP} nested lists>"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(repr(self))


class _DeepDict(dict[str, Any]):
    """The outermost of many nested dicts (see :class:`_DeepList`)."""

    def __repr__(self) -> str:
        return f"<a string in {DEEP} nested dicts>"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(repr(self))


DEEP = 5000


def _nested(container: str) -> Any:
    """A string inside :data:`DEEP` lists (or single-key dicts)."""
    value: Any = "leaf"
    for _ in range(DEEP - 1):
        value = [value] if container == "list" else {"k": value}
    return _DeepList([value]) if container == "list" else _DeepDict(k=value)


#: Deeper than Python's recursion limit: walking, encoding or showing such
#: a value in a message raises RecursionError.
_too_deep = st.sampled_from([_nested("list"), _nested("dict")])

#: JSON-like values and worse: nested lists, tuples, sets and dicts of any
#: leaves, now and then nested beyond Python's recursion limit.
junk = st.one_of(
    st.recursive(
        scalars,
        lambda inner: st.one_of(
            st.lists(inner, max_size=3),
            st.tuples(inner),
            st.frozensets(_hashable, max_size=3),
            st.sets(_hashable, max_size=3),
            st.dictionaries(_keys, inner, max_size=3),
        ),
        max_leaves=6,
    ),
    _too_deep,
)


#: What goes where a string or an integer belongs, at its worst.
hostile_text = st.one_of(texts, junk)
hostile_int = st.one_of(st.sampled_from(BOUNDARY_INTS), integers, floats, junk)


@dataclass(frozen=True)
class Param:
    """One parameter of a call: how to draw a valid value, and a hostile one."""

    valid: st.SearchStrategy[Any]
    hostile: st.SearchStrategy[Any] = junk

    def optional(self) -> Param:
        """The same parameter with None among its valid values."""
        return Param(st.one_of(st.none(), self.valid), self.hostile)


def maybe(valid: st.SearchStrategy[Any]) -> Param:
    """A parameter whose hostile values are anything at all."""
    return Param(valid)


def text_param(valid: st.SearchStrategy[Any]) -> Param:
    """A string parameter: hostile strings, or anything."""
    return Param(valid, hostile_text)


def int_param(valid: st.SearchStrategy[Any]) -> Param:
    """An integer parameter: integers beyond every bound, NaN, or anything."""
    return Param(valid, hostile_int)


def ids_or(known: tuple[Any, ...]) -> Param:
    """A known key (or an unknown uuid); hostile: strings no row can hold, or anything."""
    return Param(
        st.one_of(st.sampled_from(known), st.sampled_from(known), st.uuids().map(str)),
        st.one_of(texts, st.sampled_from(BOUNDARY_INTS), junk),
    )


def int_ids_or(known: tuple[int, ...]) -> Param:
    """A known integer key; hostile: any integer, a numeric string, or anything."""
    return Param(
        st.one_of(st.sampled_from(known), st.sampled_from(known).map(str)),
        st.one_of(integers, hostile_int),
    )


@st.composite
def mostly_valid(
    draw: st.DrawFn,
    fields: Mapping[str, st.SearchStrategy[Any]],
    required: tuple[str, ...] = (),
) -> Any:
    """A dict of some of ``fields`` (the ``required`` ones always), each drawn from
    its valid strategy, then usually spoiled: one value replaced by anything,
    a hostile extra key, or the whole thing replaced by anything else.  One bad
    part among valid ones reaches the code behind the first checks."""
    names = sorted(fields)
    chosen = draw(st.lists(st.sampled_from(names), unique=True, max_size=min(len(names), 8)))
    values: dict[Any, Any] = {name: draw(fields[name]) for name in (*required, *chosen)}
    spoil = draw(st.sampled_from(["value", "value", "value", "key", "none", "none", "whole"]))
    if spoil == "value":
        # Any field may be the bad one, whether or not it was drawn.
        victim = draw(st.sampled_from(names))
        values[victim] = draw(junk)
    elif spoil == "key":
        values[draw(_keys)] = draw(junk)
    elif spoil == "whole":
        return draw(junk)
    return values


#: The parameters of one call, by name.
Params = dict[str, Param]

#: A context whose project no row can name (NUL, lone surrogate, 4-byte
#: character...) or that is not text at all (taken as its ``str``).
_HOSTILE_CONTEXTS = st.builds(
    lambda project: RequestContext(project_id=project), st.one_of(hostile_text, junk)
)
_CONTEXT = Param(st.sampled_from(CONTEXTS), st.one_of(st.sampled_from(CONTEXTS), _HOSTILE_CONTEXTS))


def _as_param(value: Param | st.SearchStrategy[Any]) -> Param:
    return value if isinstance(value, Param) else Param(value)


def calls(**params: Param | st.SearchStrategy[Any]) -> Params:
    """The parameters of a call: a context (never hostile), then each parameter;
    a bare strategy draws the valid values, anything at all the hostile ones."""
    return {"context": _CONTEXT, **{name: _as_param(p) for name, p in params.items()}}


def no_context_calls(**params: Param | st.SearchStrategy[Any]) -> Params:
    """The parameters of a call that takes no context."""
    return {name: _as_param(p) for name, p in params.items()}


@st.composite
def call_arguments(draw: st.DrawFn, params: Params) -> dict[str, Any]:
    """Keyword arguments of one call: usually valid ones with exactly one hostile
    value (the deepest reach), sometimes all valid, sometimes any mix."""
    names = sorted(params)
    mode = draw(st.sampled_from(["one", "one", "one", "valid", "mixed"]))
    victim = draw(st.sampled_from(names)) if mode == "one" and names else None
    arguments: dict[str, Any] = {}
    for name in names:
        param = params[name]
        if mode == "mixed":
            arguments[name] = draw(st.one_of(param.valid, param.hostile))
        else:
            arguments[name] = draw(param.hostile if name == victim else param.valid)
    return arguments


# --- valid parts ----------------------------------------------------------------------

image_ids = ids_or(IMAGE_IDS)
task_ids = ids_or(TASK_IDS)
namespaces = ids_or(NAMESPACES)
metadef_names = ids_or(METADEF_NAMES)
resource_types = ids_or(RESOURCE_TYPES)
node_urls = ids_or(NODE_URLS)
owners = ids_or(tuple(o for o in OWNERS if o is not None))
flags = maybe(st.booleans())
#: Text every backend stores (hostile text comes from the spoilers).
small_text = st.text(alphabet=BMP_CHARS, max_size=10)

image_statuses = text_param(st.sampled_from(sorted(IMAGE_STATUSES)))
member_statuses = text_param(st.sampled_from(sorted(MEMBER_STATUSES)))
visibilities = text_param(st.sampled_from(["public", "private", "shared", "community"]))

# Valid values of the fields of a dict argument (:func:`mostly_valid` spoils one).
known_images = st.sampled_from(IMAGE_IDS)
known_owners = st.sampled_from(["tenant-a", "tenant-b"])
valid_times = st.datetimes(
    min_value=datetime.datetime(2000, 1, 1), max_value=datetime.datetime(2100, 1, 1)
)
json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-1000, 1000), small_text),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(small_text, inner, max_size=3)
    ),
    max_leaves=5,
)

_property_values = st.dictionaries(
    st.sampled_from([*PROPERTY_NAMES, "new_prop"]) | small_text,
    st.one_of(st.none(), small_text),
    max_size=4,
)

LOCATION_FIELDS: dict[str, st.SearchStrategy[Any]] = {
    "url": st.sampled_from(["file:///new", "swift://x/y"]),
    "metadata": st.dictionaries(small_text, json_values, max_size=2),
    "status": st.sampled_from(["active", "deleted", "pending_delete"]),
    "id": st.sampled_from(LOCATION_IDS),
}
locations = mostly_valid(LOCATION_FIELDS, required=("url",))
location_lists = st.lists(locations, max_size=3)

IMAGE_FIELDS: dict[str, st.SearchStrategy[Any]] = {
    "id": st.uuids().map(str),
    "name": small_text,
    "status": st.sampled_from(sorted(IMAGE_STATUSES)),
    "visibility": st.sampled_from(["public", "private", "shared", "community"]),
    "is_public": st.booleans(),
    "size": st.integers(0, 2**40),
    "virtual_size": st.integers(0, 2**40),
    "min_disk": st.integers(0, 100),
    "min_ram": st.integers(0, 100),
    "disk_format": st.sampled_from(["qcow2", "raw"]),
    "container_format": st.sampled_from(["bare", "ovf"]),
    "checksum": st.just("d" * 32),
    "os_hash_algo": st.just("sha512"),
    "os_hash_value": st.just("e" * 128),
    "owner": known_owners,
    "protected": st.booleans(),
    "os_hidden": st.booleans(),
    "created_at": valid_times,
    "updated_at": valid_times,
    "deleted_at": valid_times,
    "deleted": st.booleans(),
    "properties": _property_values,
    "locations": location_lists,
}
image_values = mostly_valid(IMAGE_FIELDS, required=("status",))
image_update_values = mostly_valid(IMAGE_FIELDS)

_filter_values = st.one_of(small_text, st.integers(-5, 5), st.booleans(), st.none())
#: Valid 64-bit values beyond the 32-bit columns: an integer filter or a limit
#: must compare them on every backend, not pass them to a 32-bit parameter.
_wide_ints = st.sampled_from([2**31 - 1, 2**31, -(2**31) - 1, 2**63 - 1, -(2**63)])


def _small_or_wide(low: int, high: int) -> st.SearchStrategy[int]:
    return st.one_of(st.integers(low, high), _wide_ints)


FILTER_FIELDS: dict[str, st.SearchStrategy[Any]] = {
    "visibility": st.sampled_from(["public", "private", "shared", "community", "all"]),
    "deleted": st.booleans(),
    "changes-since": st.one_of(valid_times, st.just("2020-01-01T00:00:00")),
    "checksum": st.just("c" * 32),
    "os_hash_value": _filter_values,
    "os_hidden": st.booleans(),
    "properties": st.dictionaries(st.sampled_from(PROPERTY_NAMES), _filter_values),
    "tags": st.lists(st.sampled_from(TAG_VALUES), max_size=2),
    "size_min": _small_or_wide(0, 2000),
    "size_max": _small_or_wide(0, 2000),
    "min_ram_min": _small_or_wide(0, 5),
    "virtual_size_max": _small_or_wide(0, 5),
    "name_min": _filter_values,
    "created_at": _syntax_text,
    "updated_at": st.one_of(valid_times, _syntax_text),
    "name": st.one_of(st.just("in:public,shared"), _syntax_text, small_text),
    "id": st.one_of(known_images, _syntax_text),
    "status": st.one_of(st.sampled_from(sorted(IMAGE_STATUSES)), _syntax_text),
    "container_format": _filter_values,
    "disk_format": _filter_values,
    "owner": known_owners,
    "min_disk": _small_or_wide(0, 5),
    "protected": st.booleans(),
    "os_distro": _filter_values,
    "hw_disk_bus": _filter_values,
}
image_filters = st.one_of(st.none(), mostly_valid(FILTER_FIELDS))

# Every column: each type of marker value is compared with (booleans once were refused).
_image_sort_keys = st.sampled_from([column.name for column in t.images.c])
image_sort_keys = text_param(st.one_of(st.none(), _image_sort_keys, st.lists(_image_sort_keys)))
sort_dirs = text_param(st.one_of(st.none(), st.sampled_from(["asc", "desc"])))
image_sort_dirs = text_param(
    st.one_of(sort_dirs.valid, st.lists(st.sampled_from(["asc", "desc"]), max_size=3))
)
limits = int_param(st.one_of(st.none(), st.integers(0, 5), _wide_ints.filter(lambda n: n >= 0)))

MEMBER_FIELDS: dict[str, st.SearchStrategy[Any]] = {
    "image_id": known_images,
    "member": st.sampled_from([*MEMBERS, "tenant-z"]),
    "can_share": st.booleans(),
    "status": st.sampled_from(sorted(MEMBER_STATUSES)),
    "created_at": valid_times,
    "updated_at": valid_times,
    "deleted_at": valid_times,
    "deleted": st.booleans(),
}

PROPERTY_FIELDS: dict[str, st.SearchStrategy[Any]] = {
    "image_id": known_images,
    "name": st.sampled_from([*PROPERTY_NAMES, "fresh"]),
    "value": st.one_of(st.none(), small_text),
    "created_at": valid_times,
    "updated_at": valid_times,
    "deleted_at": valid_times,
    "deleted": st.booleans(),
}

TASK_FIELDS: dict[str, st.SearchStrategy[Any]] = {
    "id": st.uuids().map(str),
    "type": st.sampled_from(["import", "api_image_import"]),
    "status": st.sampled_from(["pending", "processing", "success"]),
    "owner": known_owners,
    "expires_at": valid_times,
    "image_id": known_images,
    "request_id": small_text,
    "user_id": small_text,
    "input": json_values,
    "result": json_values,
    "message": small_text,
    "created_at": valid_times,
    "deleted": st.booleans(),
}
task_filters = st.one_of(
    st.none(),
    mostly_valid(
        {
            "deleted": st.booleans(),
            "status": st.sampled_from(["pending", "success"]),
            "type": st.just("import"),
            "owner": known_owners,
            "image_id": known_images,
            "expires_at": valid_times,
            "unknown": small_text,
        }
    ),
)
task_sort_keys = text_param(st.sampled_from([column.name for column in t.tasks.c]))

NAMESPACE_FIELDS: dict[str, st.SearchStrategy[Any]] = {
    "namespace": st.sampled_from([*NAMESPACES, "Fuzz::New"]),
    "display_name": small_text,
    "description": small_text,
    "visibility": st.sampled_from(["public", "private"]),
    "protected": st.booleans(),
    "owner": known_owners,
    "created_at": valid_times,
}
OBJECT_FIELDS: dict[str, st.SearchStrategy[Any]] = {
    "name": st.sampled_from([*METADEF_NAMES, "new-object"]),
    "description": small_text,
    "required": st.one_of(small_text, st.lists(st.sampled_from(["a", "b"]), max_size=2)),
    "json_schema": json_values,
    "namespace_id": st.sampled_from(NAMESPACE_IDS),
}
METADEF_PROPERTY_FIELDS: dict[str, st.SearchStrategy[Any]] = {
    "name": st.sampled_from([*METADEF_NAMES, "new-property"]),
    "json_schema": json_values,
}
METADEF_TAG_FIELDS: dict[str, st.SearchStrategy[Any]] = {
    "name": st.sampled_from([*METADEF_NAMES, "new-tag"]),
    "created_at": valid_times,
}
RESOURCE_TYPE_FIELDS: dict[str, st.SearchStrategy[Any]] = {
    "name": st.sampled_from([*RESOURCE_TYPES, "OS::Fuzz::New"]),
    "protected": st.booleans(),
}
ASSOCIATION_FIELDS: dict[str, st.SearchStrategy[Any]] = {
    "name": st.sampled_from([*RESOURCE_TYPES, "OS::Fuzz::New"]),
    "properties_target": small_text,
    "prefix": small_text,
}
namespace_filters = st.one_of(
    st.none(),
    mostly_valid(
        {
            "visibility": st.sampled_from(["public", "private"]),
            "resource_types": st.one_of(
                st.sampled_from(RESOURCE_TYPES), st.lists(st.sampled_from(RESOURCE_TYPES))
            ),
        }
    ),
)
# The namespace listing's columns and the tag listing's (each one's are invalid for the other).
metadef_sort_keys = text_param(
    st.sampled_from(
        sorted({c.name for table in (t.metadef_namespaces, t.metadef_tags) for c in table.c})
    )
)
metadef_tag_filters = st.one_of(
    st.none(),
    mostly_valid(
        {
            "name": st.sampled_from(METADEF_NAMES),
            "id": st.sampled_from(METADEF_IDS),
            "created_at": valid_times,
            "updated_at": valid_times,
            "namespace": small_text,
        }
    ),
)
progress_callbacks = Param(st.one_of(st.none(), st.just(lambda _table, _rows: None)))
image_like = Param(
    st.fixed_dictionaries(
        {
            "id": image_ids.valid,
            "owner": st.sampled_from(OWNERS),
            "visibility": visibilities.valid,
        }
    ),
    st.one_of(
        junk,
        st.fixed_dictionaries(
            {"id": image_ids.hostile, "owner": junk, "visibility": visibilities.hostile}
        ),
    ),
)


def call_parameters() -> dict[str, Params]:
    """Per public method of :class:`glancedb.Database`, a strategy for each of
    its parameters."""
    s: dict[str, Params] = {
        # images
        "image_create": calls(values=image_values, v1_mode=flags),
        "image_update": calls(
            image_id=image_ids,
            values=image_update_values,
            purge_props=flags,
            from_state=image_statuses.optional(),
            v1_mode=flags,
            atomic_props=Param(
                st.one_of(st.none(), st.lists(st.sampled_from(PROPERTY_NAMES))),
                st.one_of(junk, st.lists(hostile_text, min_size=1, max_size=2)),
            ),
        ),
        "image_destroy": calls(image_id=image_ids),
        "image_get": calls(image_id=image_ids, force_show_deleted=flags, v1_mode=flags),
        "image_restore": calls(image_id=image_ids),
        "is_image_visible": calls(image=image_like, status=member_statuses.optional()),
        "is_image_mutable": calls(image=image_like),
        "image_get_all": calls(
            filters=image_filters,
            marker=image_ids.optional(),
            limit=limits,
            sort_key=image_sort_keys,
            sort_dir=image_sort_dirs,
            member_status=text_param(st.sampled_from(["accepted", "pending", "all", None])),
            is_public=maybe(st.one_of(st.none(), st.booleans())),
            admin_as_user=flags,
            return_tag=flags,
            v1_mode=flags,
        ),
        # locations
        "image_location_add": calls(image_id=image_ids, location=locations),
        "image_location_update": calls(image_id=image_ids, location=locations),
        "image_location_delete": calls(
            image_id=image_ids,
            location_id=int_ids_or(LOCATION_IDS),
            status=text_param(st.sampled_from(["deleted", "pending_delete"])),
            delete_time=Param(st.one_of(st.none(), valid_times), st.one_of(datetimes, junk)),
        ),
        # properties
        "image_property_create": calls(
            values=mostly_valid(PROPERTY_FIELDS, required=("image_id", "name"))
        ),
        "image_property_delete": calls(
            prop_ref=text_param(st.sampled_from(PROPERTY_NAMES)), image_ref=image_ids
        ),
        "image_set_property_atomic": no_context_calls(
            image_id=image_ids,
            name=text_param(st.sampled_from([*PROPERTY_NAMES, "fresh"])),
            value=text_param(small_text),
        ),
        "image_delete_property_atomic": no_context_calls(
            image_id=image_ids,
            name=text_param(st.sampled_from(PROPERTY_NAMES)),
            value=text_param(st.sampled_from(["cirros", "v"])),
        ),
        # members
        "image_member_create": calls(
            values=mostly_valid(MEMBER_FIELDS, required=("image_id", "member"))
        ),
        "image_member_update": calls(
            memb_id=int_ids_or(MEMBER_IDS), values=mostly_valid(MEMBER_FIELDS)
        ),
        "image_member_delete": calls(memb_id=int_ids_or(MEMBER_IDS)),
        "image_member_find": calls(
            image_id=image_ids.optional(),
            member=text_param(st.one_of(st.none(), st.sampled_from(MEMBERS))),
            status=member_statuses.optional(),
            include_deleted=flags,
        ),
        "image_member_count": calls(image_id=image_ids),
        # tags
        "image_tag_create": calls(
            image_id=image_ids, value=text_param(st.sampled_from(TAG_VALUES))
        ),
        "image_tag_delete": calls(
            image_id=image_ids, value=text_param(st.sampled_from(TAG_VALUES))
        ),
        "image_tag_get_all": calls(image_id=image_ids),
        "image_tag_set_all": calls(
            image_id=image_ids,
            tags=Param(
                st.lists(st.sampled_from([*TAG_VALUES, "gamma"]), max_size=4),
                st.one_of(junk, st.lists(hostile_text, min_size=1, max_size=3)),
            ),
        ),
        # tasks
        "task_create": calls(
            values=mostly_valid(TASK_FIELDS, required=("type", "status", "owner"))
        ),
        "task_update": calls(task_id=task_ids, values=mostly_valid(TASK_FIELDS)),
        "task_get": calls(task_id=task_ids, force_show_deleted=flags),
        "task_delete": calls(task_id=task_ids),
        "task_get_all": calls(
            filters=task_filters,
            marker=task_ids.optional(),
            limit=limits,
            sort_key=task_sort_keys,
            sort_dir=sort_dirs,
            admin_as_user=flags,
        ),
        "tasks_get_by_image": calls(image_id=image_ids),
        # usage
        "user_get_storage_usage": calls(
            owner_id=owners.optional(),
            image_id=image_ids.optional(),
        ),
        "user_get_staging_usage": calls(owner_id=owners.optional()),
        "user_get_image_count": calls(owner_id=owners.optional()),
        "user_get_uploading_count": calls(owner_id=owners.optional()),
        # cache
        "node_reference_create": calls(node_reference_url=node_urls),
        "node_reference_get_by_url": calls(node_reference_url=node_urls),
        "node_reference_get_all": calls(),
        "insert_cache_details": calls(
            node_reference_url=node_urls,
            image_id=image_ids,
            filesize=int_param(st.integers(0, 2**40)),
            checksum=text_param(st.one_of(st.none(), st.just("f" * 32))),
            last_accessed=Param(
                st.one_of(st.none(), valid_times, st.floats(0, 4e9)),
                st.one_of(datetimes, floats, hostile_int),
            ),
            last_modified=Param(
                st.one_of(st.none(), valid_times, st.integers(0, 4 * 10**9)),
                st.one_of(datetimes, hostile_int),
            ),
            hits=int_param(st.one_of(st.none(), st.integers(0, 10))),
        ),
        "get_hit_count": calls(image_id=image_ids, node_reference_url=node_urls),
        "update_hit_count": calls(image_id=image_ids, node_reference_url=node_urls),
        "get_cached_images": calls(node_reference_url=node_urls),
        "get_cached_nodes": calls(image_id=image_ids),
        "get_least_recently_accessed": calls(node_reference_url=node_urls),
        "is_image_cached_for_node": calls(node_reference_url=node_urls, image_id=image_ids),
        "delete_cached_image": calls(image_id=image_ids, node_reference_url=node_urls),
        "delete_all_cached_images": calls(node_reference_url=node_urls),
        # metadef namespaces
        "metadef_namespace_get_all": calls(
            marker=int_ids_or(NAMESPACE_IDS).optional(),
            limit=limits,
            sort_key=metadef_sort_keys,
            sort_dir=sort_dirs,
            filters=namespace_filters,
        ),
        "metadef_namespace_get": calls(namespace_name=namespaces),
        "metadef_namespace_create": calls(
            values=mostly_valid(NAMESPACE_FIELDS, required=("namespace",))
        ),
        "metadef_namespace_update": calls(
            namespace_id=int_ids_or(NAMESPACE_IDS),
            namespace_dict=mostly_valid(NAMESPACE_FIELDS),
        ),
        "metadef_namespace_delete": calls(namespace_name=namespaces),
        # metadef resource types and associations
        "metadef_resource_type_create": calls(
            values=mostly_valid(RESOURCE_TYPE_FIELDS, required=("name",))
        ),
        "metadef_resource_type_get": calls(resource_type_name=resource_types),
        "metadef_resource_type_get_all": calls(),
        "metadef_resource_type_delete": calls(resource_type_name=resource_types),
        "metadef_resource_type_association_create": calls(
            namespace_name=namespaces,
            values=mostly_valid(ASSOCIATION_FIELDS, required=("name",)),
        ),
        "metadef_resource_type_association_get": calls(
            namespace_name=namespaces, resource_type_name=resource_types
        ),
        "metadef_resource_type_association_delete": calls(
            namespace_name=namespaces, resource_type_name=resource_types
        ),
        "metadef_resource_type_association_get_all_by_namespace": calls(namespace_name=namespaces),
        # metadef tags (beyond the shared shape)
        "metadef_tag_get_all": calls(
            namespace_name=namespaces,
            filters=metadef_tag_filters,
            marker=int_ids_or(METADEF_IDS).optional(),
            limit=limits,
            sort_key=metadef_sort_keys,
            sort_dir=sort_dirs,
        ),
        "metadef_tag_create_tags": calls(
            namespace_name=namespaces,
            tag_list=Param(
                st.lists(
                    st.one_of(
                        mostly_valid(METADEF_TAG_FIELDS, required=("name",)),
                        st.sampled_from(["t1", "t2"]),
                    ),
                    max_size=3,
                ),
                st.one_of(junk, st.lists(hostile_text, min_size=1, max_size=2)),
            ),
            can_append=flags,
        ),
        # purge
        "purge_deleted_rows": calls(
            age_in_days=int_param(st.sampled_from([0, 1, 30])),
            max_rows=int_param(st.sampled_from([-1, 0, 1, 10])),
            dry_run=flags,
            progress=progress_callbacks,
            batch_size=int_param(st.sampled_from([1, 2, 5000])),
        ),
        "purge_deleted_rows_from_images": calls(
            age_in_days=int_param(st.sampled_from([0, 1, 30])),
            max_rows=int_param(st.sampled_from([-1, 0, 1, 10])),
            dry_run=flags,
            progress=progress_callbacks,
            batch_size=int_param(st.sampled_from([1, 2, 5000])),
        ),
    }
    # Objects, properties and tags share one shape (SPEC 11).
    kinds: dict[str, tuple[dict[str, st.SearchStrategy[Any]], str, str]] = {
        "object": (OBJECT_FIELDS, "object_dict", "object_name"),
        "property": (METADEF_PROPERTY_FIELDS, "property_dict", "property_name"),
        "tag": (METADEF_TAG_FIELDS, "tag_dict", "name"),
    }
    for kind, (fields, dict_param, name_param) in kinds.items():
        prefix = f"metadef_{kind}"
        id_param = "id" if kind == "tag" else f"{kind}_id"
        s[f"{prefix}_create"] = calls(
            namespace_name=namespaces, **{dict_param: mostly_valid(fields, required=("name",))}
        )
        s[f"{prefix}_get"] = calls(namespace_name=namespaces, **{name_param: metadef_names})
        s[f"{prefix}_update"] = calls(
            namespace_name=namespaces,
            **{id_param: int_ids_or(METADEF_IDS), dict_param: mostly_valid(fields)},
        )
        s[f"{prefix}_delete"] = calls(namespace_name=namespaces, **{name_param: metadef_names})
        s[f"{prefix}_delete_namespace_content"] = calls(namespace_name=namespaces)
        s[f"{prefix}_count"] = calls(namespace_name=namespaces)
        if kind != "tag":
            s[f"{prefix}_get_all"] = calls(namespace_name=namespaces)
    return s


#: Public methods the fuzz test does not call, and why.
EXEMPT: dict[str, str] = {
    "db_sync": "schema management: no data input; changes the schema under the other tests",
    "db_check": "schema management: takes no argument",
    "db_version": "schema management: takes no argument",
    "db_revisions": "schema management: takes no argument",
    "db_upgrade": "schema management: a revision name, covered by the schema tests",
    "db_downgrade": "schema management: would drop the schema the fuzz test runs on",
    "dispose": "engine lifecycle: takes no argument",
    "transaction": "returns a transaction object; its only argument is the write flag",
}


def touched_groups(method: str) -> tuple[str, ...]:
    """The groups of tables a call of ``method`` reads or writes."""
    if method.startswith("metadef_"):
        return ("metadefs",)
    if method.startswith("task") or method == "tasks_get_by_image":
        return ("tasks",)
    if method == "purge_deleted_rows":
        return ("images", "tasks")
    if method in CACHE_METHODS:
        return ("cache",)
    return ("images",)


#: The image-cache calls (SPEC 10b).
CACHE_METHODS = frozenset(
    {
        "node_reference_create",
        "node_reference_get_by_url",
        "node_reference_get_all",
        "insert_cache_details",
        "get_hit_count",
        "update_hit_count",
        "get_cached_images",
        "get_cached_nodes",
        "get_least_recently_accessed",
        "is_image_cached_for_node",
        "delete_cached_image",
        "delete_all_cached_images",
    }
)
