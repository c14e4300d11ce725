"""Properties of image_get_all that hold for all inputs (Hypothesis, every backend).

(a) Walking the pages with any sort keys, directions and limit returns every
    image exactly once, in the order an independent Python sort defines.
(b) The listed set is exactly what SPEC 3.1's rules define, for random
    images, memberships, contexts and options: no leaks, nothing missing.
"""

from __future__ import annotations

import datetime
import uuid
from dataclasses import dataclass
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Connection

from glancedb import Database, RequestContext
from glancedb.models import tables as t
from tests.support.backends import clear_tables
from tests.support.factories import image_row, member_row

SETTINGS = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
T0 = datetime.datetime(2030, 1, 1)

# --- (a) order and paging -----------------------------------------------------

# Lowercase ASCII only: every backend's default collation orders these like
# Python does (case-insensitive or locale collations would not).
NAME = st.one_of(st.none(), st.text(alphabet="ab1", max_size=2))
SORTABLE = ["name", "disk_format", "size", "created_at", "id", "visibility", "status", "updated_at"]
# What a NULL counts as in the order (SPEC 3.3): the type's empty value.
EMPTY: dict[str, Any] = {
    "name": "",
    "disk_format": "",
    "size": 0,
    "updated_at": datetime.datetime.min,
}


@dataclass
class Img:
    id: str
    name: str | None
    disk_format: str | None
    size: int | None
    created_at: datetime.datetime
    updated_at: datetime.datetime | None
    visibility: str
    status: str

    def key(self, column: str) -> Any:
        value = getattr(self, column)
        return EMPTY[column] if value is None else value


image_strategy = st.builds(
    Img,
    id=st.uuids().map(str),
    name=NAME,
    disk_format=st.sampled_from([None, "", "raw", "qcow2"]),
    size=st.sampled_from([None, 0, 1, 7, 2**40]),
    created_at=st.integers(0, 3).map(lambda s: T0 + datetime.timedelta(seconds=s)),
    updated_at=st.one_of(
        st.none(), st.integers(0, 2).map(lambda s: T0 + datetime.timedelta(hours=s))
    ),
    visibility=st.sampled_from(["public", "private", "shared", "community"]),
    status=st.sampled_from(["active", "queued", "saving"]),
)


def insert_images(conn: Connection, images: list[Img]) -> None:
    if not images:
        return
    conn.execute(
        t.images.insert(),
        [
            image_row(
                id=img.id,
                name=img.name,
                disk_format=img.disk_format,
                size=img.size,
                created_at=img.created_at,
                updated_at=img.updated_at,
                visibility=img.visibility,
                status=img.status,
            )
            for img in images
        ],
    )


def expected_order(images: list[Img], keys: list[str], dirs: list[str] | None) -> list[str]:
    """The order SPEC 3.3 defines, computed independently in Python."""
    if not dirs:
        full_dirs, default = ["desc"] * len(keys), "desc"
    elif len(dirs) == 1:
        full_dirs, default = dirs * len(keys), dirs[0]
    else:
        full_dirs, default = list(dirs), "desc"
    full_keys = list(keys)
    for tie in ("created_at", "id"):
        if tie not in full_keys:
            full_keys.append(tie)
            full_dirs.append(default)
    ordered = list(images)
    for column, direction in reversed(list(zip(full_keys, full_dirs, strict=True))):
        ordered.sort(key=lambda img, c=column: img.key(c), reverse=direction == "desc")
    return [img.id for img in ordered]


@st.composite
def sort_options(draw: st.DrawFn) -> tuple[list[str], list[str] | None]:
    keys = draw(st.lists(st.sampled_from(SORTABLE), min_size=1, max_size=3, unique=True))
    mode = draw(st.sampled_from(["none", "one", "each"]))
    if mode == "none":
        return keys, None
    if mode == "one":
        return keys, [draw(st.sampled_from(["asc", "desc"]))]
    return keys, [draw(st.sampled_from(["asc", "desc"])) for _ in keys]


@SETTINGS
@given(
    images=st.lists(image_strategy, max_size=12, unique_by=lambda img: img.id),
    sort=sort_options(),
    limit=st.integers(1, 5),
)
def test_paging_returns_every_image_once_in_order(
    session_db: Database,
    images: list[Img],
    sort: tuple[list[str], list[str] | None],
    limit: int,
) -> None:
    clear_tables(session_db)
    with session_db.engine.begin() as conn:
        insert_images(conn, images)
    keys, dirs = sort
    admin = RequestContext(is_admin=True)
    options: dict[str, Any] = {"sort_key": keys, "sort_dir": dirs, "filters": {"visibility": "all"}}
    seen: list[str] = []
    marker = None
    for _ in range(len(images) + 2):
        page = session_db.image_get_all(admin, marker=marker, limit=limit, **options)
        assert len(page) <= limit
        if not page:
            break
        seen.extend(image["id"] for image in page)
        marker = page[-1]["id"]
    expected = expected_order(images, keys, dirs)
    assert seen == expected
    assert [i["id"] for i in session_db.image_get_all(admin, **options)] == expected


# --- (b) who sees what ---------------------------------------------------------

OWNERS = ["tenant-a", "tenant-b", None]
MEMBERS = ["tenant-a", "tenant-b"]


@dataclass
class Member:
    member: str
    status: str
    deleted: bool


@dataclass
class World:
    owner: str | None
    visibility: str
    deleted: bool
    members: list[Member]


member_strategy = st.builds(
    Member,
    member=st.sampled_from(MEMBERS),
    status=st.sampled_from(["accepted", "pending", "rejected"]),
    deleted=st.booleans(),
)
world_strategy = st.builds(
    World,
    owner=st.sampled_from(OWNERS),
    # Shared images are where the rules are subtle: draw them more often.
    visibility=st.sampled_from(["public", "private", "shared", "shared", "shared", "community"]),
    deleted=st.booleans(),
    members=st.lists(member_strategy, max_size=3, unique_by=lambda m: (m.member, m.deleted)),
)


@dataclass
class Call:
    owner: str | None
    is_admin: bool
    admin_as_user: bool
    member_status: str | None
    visibility: str | None
    is_public: bool | None


call_strategy = st.builds(
    Call,
    owner=st.sampled_from([*MEMBERS, "tenant-c", None]),
    is_admin=st.booleans(),
    admin_as_user=st.booleans(),
    member_status=st.sampled_from(["accepted", "pending", "rejected", "all", None]),
    visibility=st.sampled_from([None, "public", "private", "shared", "community", "all"]),
    is_public=st.sampled_from([None, True, False]),
)


def model_sees(call: Call, image: World) -> bool:
    """SPEC 3.1, written out independently of the implementation."""
    regular = not call.is_admin or call.admin_as_user
    mine = call.owner is not None and image.owner == call.owner
    if regular:
        member = (
            image.visibility == "shared"
            and call.owner is not None
            and any(
                m.member == call.owner
                and not m.deleted
                and (call.member_status == "all" or m.status == call.member_status)
                for m in image.members
            )
        )
        if not (image.visibility in ("public", "community") or mine or member):
            return False
    if call.visibility is None:
        if image.visibility == "community" and not mine:
            return False
    elif call.visibility != "all" and image.visibility != call.visibility:
        return False
    if call.is_public is True and image.visibility != "public":
        return False
    return not (call.is_public is False and image.visibility == "public")


def insert_world(conn: Connection, worlds: list[World]) -> list[str]:
    ids = [str(uuid.uuid4()) for _ in worlds]
    if not worlds:
        return ids
    conn.execute(
        t.images.insert(),
        [
            image_row(
                id=image_id,
                owner=w.owner,
                visibility=w.visibility,
                deleted=w.deleted,
                created_at=T0 + datetime.timedelta(seconds=i),
            )
            for i, (image_id, w) in enumerate(zip(ids, worlds, strict=True))
        ],
    )
    member_rows = [
        member_row(
            image_id,
            member=m.member,
            status=m.status,
            deleted=m.deleted,
            deleted_at=T0 if m.deleted else None,
            created_at=T0,
        )
        for image_id, w in zip(ids, worlds, strict=True)
        for m in w.members
    ]
    if member_rows:
        conn.execute(t.image_members.insert(), member_rows)
    return ids


@SETTINGS
@given(
    worlds=st.lists(world_strategy, max_size=12),
    calls=st.lists(call_strategy, min_size=1, max_size=4),
)
def test_listed_set_matches_the_spec_model(
    session_db: Database, worlds: list[World], calls: list[Call]
) -> None:
    clear_tables(session_db)
    with session_db.engine.begin() as conn:
        ids = insert_world(conn, worlds)
    # Every example also checks the everyday calls, not only the drawn ones.
    everyday = [
        Call(owner, False, False, status, visibility, None)
        for owner in ("tenant-a", "tenant-b", None)
        for status in ("accepted", "all")
        for visibility in (None, "shared")
    ]
    for call in everyday + calls:
        context = RequestContext(project_id=call.owner, is_admin=call.is_admin)
        listed = session_db.image_get_all(
            context,
            filters={"visibility": call.visibility},
            member_status=call.member_status,
            is_public=call.is_public,
            admin_as_user=call.admin_as_user,
        )
        expected = {
            image_id for image_id, w in zip(ids, worlds, strict=True) if model_sees(call, w)
        }
        got = [image["id"] for image in listed]
        assert len(got) == len(set(got)), "an image was listed twice"
        assert set(got) == expected, call
