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
    ColumnElement,
    Connection,
    Integer,
    Select,
    bindparam,
    exists,
    false,
    func,
    literal,
    select,
)

from glancedb.images.listing_filters import PropertyCondition
from glancedb.models import tables as t

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


def probe_limit(limit: int) -> int:
    """How many matching property rows make a value "common" for a page of ``limit``."""
    return max(1, min(PROBE_CAP, round(PROBE_FACTOR * math.sqrt(limit))))


def _property_terms(index: int, *, value_is_null: bool) -> list[ColumnElement[bool]]:
    """``image_properties`` rows named ``:property_<index>_name`` with value
    ``:property_<index>_value`` (or NULL), deleted or not."""
    prop = t.image_properties.c
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


def choose_property_shapes(
    conn: Connection,
    properties: Sequence[PropertyCondition],
    limit: int | None,
    *,
    index_order: bool = True,
) -> tuple[PropertyShape, ...]:
    """How to write each property filter of a page of ``limit`` images on ``conn``.

    ``index_order``: whether the page's order can be read from an index (a
    walk that stops after ``limit`` hits).  PostgreSQL: ``exists`` for all,
    no statement.  SQLite and MySQL: one :func:`property_probe`; the rarest
    filter drives when its value is rare, or always when the walk would read
    every image anyway (no limit, or an order no index serves: then reading
    the rarest value's matches is the cheapest start); every other filter is
    ``correlated``, tested on the images that start yields.

    Each value is judged alone: two common values that are rare together
    (``os_distro=fedora`` and ``os_version=7``) still walk, reading about
    ``limit`` divided by their joint frequency images.
    """
    if not properties:
        return ()
    if conn.dialect.name not in PROBED_DIALECTS:
        return tuple(["exists"] * len(properties))
    walk = index_order and limit is not None
    bound = probe_limit(PROBE_CAP if limit is None else limit)
    probe = property_probe(tuple(p.value is None for p in properties))
    params = {**property_parameters(properties), "probe_bound": bound}
    counts = [int(c) for c in conn.execute(probe, params).one()]
    rarest = min(range(len(counts)), key=counts.__getitem__)
    return tuple(
        _shape(i == rarest and (counts[i] < bound or not walk)) for i in range(len(counts))
    )


def _shape(drives: bool) -> PropertyShape:
    return "driving" if drives else "correlated"


def property_condition(
    index: int, shape: PropertyShape = "exists", *, value_is_null: bool = False
) -> ColumnElement[bool]:
    """The image has a live property ``:property_<index>_name`` with that value,
    written as ``shape``."""
    prop = t.image_properties.c
    terms = [*_property_terms(index, value_is_null=value_is_null), prop.deleted == false()]
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
