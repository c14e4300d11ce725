"""Property filters of a listing: which query shape, chosen by a bounded probe.

``filters['properties']`` (and unknown filter keys) ask for images with a
live property of that name and exactly that value (SPEC 3.2).  The best plan
depends on how common the value is: a common one (``os_distro=fedora``) is
found quickly while walking the page's order index, a rare one
(``build_id=...``) must be looked up in the (name, value) index, or the walk
reads the whole table.  Planners get this wrong in both directions (SQLite
never starts from the properties index for a correlated subquery; MariaDB
turns ``EXISTS`` into a semi-join started from it even for 20k matches), so
on those backends one small statement counts each value's rows up to a bound
before the page is built, and each filter is written in the shape that makes
the good plan the only one on offer.  The shape changes the plan, never the
result.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from typing import Any, Literal

from sqlalchemy import (
    Boolean,
    ColumnElement,
    Connection,
    FromClause,
    Integer,
    Select,
    bindparam,
    exists,
    false,
    func,
    literal,
    literal_column,
    select,
)

from glancedb.images.listing_filters import PropertyCondition
from glancedb.models import tables as t
from glancedb.models.images import PROPERTY_VALUE_INDEXED, PROPERTY_VALUE_MAX_BYTES
from glancedb.statements import fetch_all

#: How one property filter is written into the page statement:
#:
#: - ``exists``: a correlated ``EXISTS`` (PostgreSQL: its planner costs both
#:   directions itself, from the statistics on ``image_properties``);
#: - ``correlated``: ``(SELECT 1 ... WHERE image_id = images.id ... LIMIT 1)
#:   IS NOT NULL``, checked per image while the page walks its order index and
#:   stops after ``limit`` hits: right for a common value.  Unlike ``EXISTS``
#:   no planner can turn it into a semi-join, so MariaDB cannot start from the
#:   (name, value) index and sort every match of a common value;
#: - ``driving``: ``images.id IN (SELECT image_id ... WHERE name = ... AND
#:   value = ...)``, read from the (name, value) index: right for a rare
#:   value, which the walk would look for through the whole table (SQLite
#:   never uses that index for a correlated subquery).
PropertyShape = Literal["exists", "correlated", "driving"]

#: Backends whose plan for a property filter is chosen by a probe.
PROBED_DIALECTS = frozenset({"sqlite", "mysql", "mariadb"})

#: A value with fewer live-or-deleted rows than ``probe_limit(limit)`` is
#: "rare".  Driving from the index reads ``c`` rows for ``c`` matches; the
#: walk reads about ``limit * N / c`` images for a table of ``N`` (more for a
#: tenant, who sees a fraction of them): the two cost the same near
#: ``c = sqrt(limit * N)``, 500 for a page of 25 over 10k images, 1600 over
#: 100k.  A wrong "common" verdict costs a longer walk, a wrong "rare" one a
#: sort of every match, which grows much faster; so the bound is the
#: catalogue-independent ``PROBE_FACTOR * sqrt(limit)`` (1000 for a page of
#: 25), below the break-even point of the catalogues measured (the property
#: rows of benchmarks/RESULTS.md).  It is capped so that the probe itself
#: stays cheap: it counts index entries only.
PROBE_FACTOR = 200
PROBE_CAP = 20_000

#: Two common values can be rare together (``os_distro=fedora`` and
#: ``os_version=7``): walking the order index then reads about ``limit``
#: divided by their joint frequency images - the whole table for a tenant.
#: When every filter of a page is common, :func:`joint_probe` samples
#: ``JOINT_SAMPLE`` rows of each value and counts the images that also carry
#: all the other values, stopping at ``JOINT_RARE_HITS``; fewer than that (a
#: joint share under 1%) makes the rarest value drive a tenant's page
#: instead: it reads that value's rows, far fewer than a tenant's walk.
#: Either way such a page is not O(limit): no index holds the combination.
#: The sample is large enough to tell 1% from the 0.2-0.4% of the
#: benchmark's fedora/7 pair; a common pair stops after a few dozen rows.
JOINT_SAMPLE = 1000
JOINT_RARE_HITS = 10


@functools.lru_cache(maxsize=256)
def probe_limit(limit: int) -> int:
    """How many matching property rows make a value "common" for a page of ``limit``."""
    return max(1, min(PROBE_CAP, round(PROBE_FACTOR * math.sqrt(limit))))


def _property_terms(
    index: int, *, value_is_null: bool, table: FromClause = t.image_properties
) -> list[ColumnElement[bool]]:
    """``image_properties`` rows (of ``table``, the table or an alias) named
    ``:property_<index>_name`` with value ``:property_<index>_value`` (or
    NULL), deleted or not."""
    prop = table.c
    value_match = (
        prop.value.is_(None)
        if value_is_null
        else prop.value == bindparam(f"property_{index}_value")
    )
    return [prop.name == bindparam(f"property_{index}_name"), value_match]


def property_parameters(properties: Sequence[PropertyCondition]) -> dict[str, Any]:
    """The values of the property filters' bound parameters."""
    params: dict[str, Any] = {}
    for i, condition in enumerate(properties):
        params[f"property_{i}_name"] = condition.name
        if condition.value is not None:
            params[f"property_{i}_value"] = condition.value
    return params


@functools.lru_cache(maxsize=64)
def property_probe(nulls: tuple[bool, ...]) -> Select[Any]:
    """One statement counting, per property filter, its rows up to ``:probe_bound``.

    ``nulls``: per filter, whether its value is None.  Each count reads at
    most ``bound`` entries of the (name, value) index and nothing else:
    soft-deleted properties are counted too (checking ``deleted`` would read
    every row; the count only picks a plan, it never decides what matches).
    Built once per shape, the names and values bound.
    """
    columns = []
    for i, value_is_null in enumerate(nulls):
        sample = (
            select(literal(1).label("hit"))
            .select_from(t.image_properties)
            .where(*_property_terms(i, value_is_null=value_is_null))
            .limit(bindparam("probe_bound", type_=Integer))
            .subquery(f"glancedb_probe_{i}")
        )
        columns.append(
            select(func.count()).select_from(sample).scalar_subquery().label(f"probe_{i}")
        )
    return select(*columns)


@functools.lru_cache(maxsize=64)
def joint_probe(nulls: tuple[bool, ...]) -> Select[Any]:
    """One statement: per property filter, how many of ``:joint_sample`` rows
    of its value belong to images that carry every other filter's value too,
    counted up to ``:joint_enough``.

    Reads at most ``joint_sample`` of each value's (name, value) index
    entries and probes the (image_id, name) key of the others for each.
    """
    columns = []
    for i, value_is_null in enumerate(nulls):
        own = t.image_properties.alias(f"glancedb_joint_{i}")
        sample = (
            select(own.c.image_id)
            .where(*_property_terms(i, value_is_null=value_is_null, table=own))
            .limit(bindparam("joint_sample", type_=Integer))
            .subquery(f"glancedb_sample_{i}")
        )
        others = []
        for j, other_is_null in enumerate(nulls):
            if j == i:
                continue
            other = t.image_properties.alias(f"glancedb_joint_{i}_{j}")
            others.append(
                exists().where(
                    other.c.image_id == sample.c.image_id,
                    *_property_terms(j, value_is_null=other_is_null, table=other),
                )
            )
        hits = (
            select(literal(1).label("hit"))
            .select_from(sample)
            .where(*others)
            .limit(bindparam("joint_enough", type_=Integer))
            .subquery(f"glancedb_hits_{i}")
        )
        columns.append(select(func.count()).select_from(hits).scalar_subquery().label(f"joint_{i}"))
    return select(*columns)


def choose_property_shapes(
    conn: Connection,
    properties: Sequence[PropertyCondition],
    limit: int | None,
    *,
    index_order: bool = True,
    regular: bool = True,
) -> tuple[PropertyShape, ...]:
    """How to write each property filter of a page of ``limit`` images on ``conn``.

    ``index_order``: whether the page's order can be read from an index (a
    walk that stops after ``limit`` hits).  PostgreSQL: ``exists`` for all,
    no statement.  SQLite and MySQL: one :func:`property_probe`; the rarest
    filter drives when its value is rare, or always when the walk would read
    every image anyway (no limit, or an order no index serves: then reading
    the rarest value's matches is the cheapest start); every other filter is
    ``correlated``, tested on the images that start yields.

    When every filter is common and the page would walk, a second statement
    (:func:`joint_probe`) checks that the values are common *together*; if
    they are not, the rarest drives: the value whose sample held the most
    joint images (a third statement, counting further, breaks a tie).  On
    SQLite only for ``regular`` (non-admin) contexts: their walk also passes
    over every image they may not see (most of a large catalogue), where an
    admin's walk, measured at a million images, reads fewer rows than
    driving from the rarer of two common values.  On MySQL/MariaDB for
    admins too: each walked image costs two dependent subqueries there, and
    an admin's walk over 100k images took 1.5 s against 0.22 s driving.
    """
    if not properties:
        return ()
    if conn.dialect.name not in PROBED_DIALECTS:
        return tuple(["exists"] * len(properties))
    walk = index_order and limit is not None
    bound = probe_limit(PROBE_CAP if limit is None else limit)
    probe = property_probe(tuple(p.value is None for p in properties))
    params = {**property_parameters(properties), "probe_bound": bound}
    counts = [int(c) for c in fetch_all(conn, probe, params)[0]]
    rarest = min(range(len(counts)), key=counts.__getitem__)
    drives = counts[rarest] < bound or not walk
    joint_check = regular or conn.dialect.name != "sqlite"
    if not drives and joint_check and len(counts) > 1:
        nulls = tuple(p.value is None for p in properties)
        joint_params = {
            **property_parameters(properties),
            "joint_sample": JOINT_SAMPLE,
            "joint_enough": JOINT_RARE_HITS,
        }
        hits = [int(c) for c in fetch_all(conn, joint_probe(nulls), joint_params)[0]]
        if max(hits) < JOINT_RARE_HITS:
            drives = True
            # The same joint images are a larger share of a rarer value's rows.
            rarest = max(range(len(hits)), key=hits.__getitem__)
            if hits.count(hits[rarest]) > 1 and bound < PROBE_CAP:
                wider = {**params, "probe_bound": PROBE_CAP}
                counts = [int(c) for c in fetch_all(conn, probe, wider)[0]]
                tied = [i for i, h in enumerate(hits) if h == hits[rarest]]
                rarest = min(tied, key=counts.__getitem__)
    return tuple(_shape(drives and i == rarest) for i in range(len(counts)))


def _shape(drives: bool) -> PropertyShape:
    return "driving" if drives else "correlated"


def value_is_indexed(value: str | None) -> bool:
    """Whether PostgreSQL's partial (name, value) index holds property value ``value``."""
    return value is not None and len(value.encode("utf-8")) < PROPERTY_VALUE_MAX_BYTES


def property_condition(
    index: int,
    shape: PropertyShape = "exists",
    *,
    value_is_null: bool = False,
    indexed: bool = False,
) -> ColumnElement[bool]:
    """The image has a live property ``:property_<index>_name`` with that value,
    written as ``shape``.

    ``indexed``: the value is short enough for PostgreSQL's partial (name,
    value) index, whose predicate is then repeated, written out, so that the
    planner may use it (a bound value proves nothing about its length).
    """
    prop = t.image_properties.c
    terms = [*_property_terms(index, value_is_null=value_is_null), prop.deleted == false()]
    if indexed:
        terms.append(literal_column(PROPERTY_VALUE_INDEXED, Boolean))
    if shape == "driving":
        return t.images.c.id.in_(select(prop.image_id).where(*terms))
    if shape == "correlated":
        return (
            select(literal(1))
            .where(prop.image_id == t.images.c.id, *terms)
            .limit(1)
            .scalar_subquery()
            .is_not(None)
        )
    return exists().where(prop.image_id == t.images.c.id, *terms)
