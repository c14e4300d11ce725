"""is_image_visible / is_image_mutable (SPEC 1.2), checked exhaustively.

Every combination of visibility x image owner (None, the caller, another
tenant) x the caller's membership (none, pending, accepted, rejected, a
deleted one, only another tenant's) x context owner (None, tenant-a) x admin
x the ``status`` argument is compared with a truth table written here as one
boolean formula, independent of the ordered rules of the implementation.
``image_get`` must agree with it (Forbidden exactly when not visible).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import pytest

import glancedb.api
from glancedb import Database, Record, RequestContext
from glancedb.exception import Forbidden, ImageNotFound, Invalid
from tests.support.backends import count_statements
from tests.support.factories import add_member

VISIBILITIES = ("public", "private", "shared", "community")
IMAGE_OWNERS = (None, "tenant-a", "tenant-b")
MEMBERSHIPS = ("none", "pending", "accepted", "rejected", "deleted", "other-tenant")
CONTEXT_OWNERS = (None, "tenant-a")
STATUSES = (None, "pending", "accepted", "rejected")
MEMBER_STATUSES = {"pending", "accepted", "rejected"}


@dataclass(frozen=True)
class Case:
    visibility: str
    image_owner: str | None
    membership: str  # of tenant-a, the only context owner that can be a member


def expected_visible(
    case: Case, context_owner: str | None, admin: bool, status: str | None
) -> bool:
    """SPEC 1.2 as a single formula."""
    caller_is_member = (
        context_owner == "tenant-a"
        and case.membership in MEMBER_STATUSES
        and (status is None or status == case.membership)
    )
    return (
        admin
        or case.image_owner is None
        or case.visibility in ("public", "community")
        or (context_owner is not None and context_owner == case.image_owner)
        or (case.visibility == "shared" and caller_is_member)
    )


def expected_mutable(image_owner: str | None, context_owner: str | None, admin: bool) -> bool:
    return admin or (image_owner is not None and image_owner == context_owner)


def build_images(db: Database) -> dict[Case, Record]:
    admin = RequestContext(is_admin=True)
    images: dict[Case, Record] = {}
    for visibility, owner, membership in itertools.product(VISIBILITIES, IMAGE_OWNERS, MEMBERSHIPS):
        image = db.image_create(
            admin, {"status": "active", "visibility": visibility, "owner": owner}
        )
        if membership in MEMBER_STATUSES:
            add_member(db, image["id"], "tenant-a", membership)
        elif membership == "deleted":
            add_member(db, image["id"], "tenant-a", "accepted", deleted=True)
        elif membership == "other-tenant":
            add_member(db, image["id"], "tenant-c", "accepted")
        images[Case(visibility, owner, membership)] = image
    return images


def test_truth_table_sanity() -> None:
    """A few hand-checked rows, so that the formula itself is pinned down."""
    shared_b = Case("shared", "tenant-b", "accepted")
    assert expected_visible(shared_b, "tenant-a", False, None)
    assert expected_visible(shared_b, "tenant-a", False, "accepted")
    assert not expected_visible(shared_b, "tenant-a", False, "pending")
    assert not expected_visible(shared_b, None, False, None)
    assert not expected_visible(Case("private", "tenant-b", "accepted"), "tenant-a", False, None)
    assert not expected_visible(Case("shared", "tenant-b", "deleted"), "tenant-a", False, None)
    assert expected_visible(Case("private", None, "none"), None, False, None)
    assert expected_visible(Case("community", "tenant-b", "none"), None, False, None)
    assert expected_visible(Case("private", "tenant-b", "none"), None, True, None)


def test_is_image_visible_every_combination(db: Database) -> None:
    images = build_images(db)
    mismatches = []
    checked = 0
    for (case, image), context_owner, admin, status in itertools.product(
        images.items(), CONTEXT_OWNERS, (False, True), STATUSES
    ):
        context = RequestContext(project_id=context_owner, is_admin=admin)
        got = db.is_image_visible(context, image, status=status)
        checked += 1
        if got != expected_visible(case, context_owner, admin, status):
            mismatches.append((case, context_owner, admin, status, got))
    assert checked == 4 * 3 * 6 * 2 * 2 * 4
    assert mismatches == []


def test_image_get_agrees_with_visibility(db: Database) -> None:
    images = build_images(db)
    mismatches = []
    for (case, image), context_owner, admin in itertools.product(
        images.items(), CONTEXT_OWNERS, (False, True)
    ):
        context = RequestContext(project_id=context_owner, is_admin=admin)
        try:
            db.image_get(context, image["id"])
            got = True
        except Forbidden:
            got = False
        if got != expected_visible(case, context_owner, admin, None):
            mismatches.append((case, context_owner, admin, got))
    assert mismatches == []


@pytest.mark.parametrize("visibility", VISIBILITIES)
@pytest.mark.parametrize("image_owner", IMAGE_OWNERS)
@pytest.mark.parametrize("context_owner", (None, "tenant-a", "tenant-b"))
@pytest.mark.parametrize("admin", (False, True))
def test_is_image_mutable_every_combination(
    visibility: str, image_owner: str | None, context_owner: str | None, admin: bool
) -> None:
    context = RequestContext(project_id=context_owner, is_admin=admin)
    image = {"id": "i", "owner": image_owner, "visibility": visibility}
    expected = expected_mutable(image_owner, context_owner, admin)
    assert glancedb.api.is_image_mutable(context, image) is expected


class ForeignContext:
    """A duck-typed context like oslo.context's: ``project_id``, no ``owner``."""

    def __init__(self, project_id: str | None, is_admin: bool = False) -> None:
        self.project_id = project_id
        self.is_admin = is_admin
        self.show_deleted = False


def test_foreign_context(db: Database) -> None:
    admin = RequestContext(is_admin=True)
    shared = db.image_create(
        admin, {"status": "active", "visibility": "shared", "owner": "tenant-b"}
    )
    add_member(db, shared["id"], "tenant-a", "pending")
    member = ForeignContext("tenant-a")
    assert db.is_image_visible(member, shared)
    assert not db.is_image_visible(member, shared, status="accepted")
    assert not db.is_image_visible(ForeignContext("tenant-c"), shared)
    assert db.is_image_visible(ForeignContext(None, is_admin=True), shared)
    assert db.image_get(member, shared["id"])["id"] == shared["id"]
    assert not db.is_image_mutable(member, shared)
    assert db.is_image_mutable(ForeignContext("tenant-b"), shared)
    # Without can_see_deleted, an admin (or show_deleted) sees deleted images.
    db.image_destroy(admin, shared["id"])
    owner = ForeignContext("tenant-b")
    with pytest.raises(ImageNotFound):
        db.image_get(owner, shared["id"])
    owner.show_deleted = True
    assert db.image_get(owner, shared["id"])["deleted"]
    assert db.image_get(ForeignContext(None, is_admin=True), shared["id"])["deleted"]


def test_visibility_queries_only_for_shared_non_owned(db: Database) -> None:
    admin = RequestContext(is_admin=True)
    caller = RequestContext(project_id="tenant-a")
    public = db.image_create(admin, {"status": "active", "visibility": "public", "owner": "b"})
    shared = db.image_create(admin, {"status": "active", "visibility": "shared", "owner": "b"})
    with count_statements(db) as no_query:
        assert db.is_image_visible(caller, public)
        assert db.is_image_visible(admin, shared)
    assert no_query.count == 0
    with count_statements(db) as one_query:
        assert not db.is_image_visible(caller, shared)
    assert one_query.count == 1


def test_image_dict_from_api_or_plain_dict(db: Database) -> None:
    """``image`` may be a returned Record or any dict with id/owner/visibility."""
    caller = RequestContext(project_id="tenant-a")
    plain: dict[str, Any] = {"id": "x", "owner": "tenant-b", "visibility": "private"}
    assert not db.is_image_visible(caller, plain)
    assert db.is_image_visible(caller, {**plain, "owner": None})
    assert glancedb.api.is_image_mutable(caller, {**plain, "owner": "tenant-a"})


@pytest.mark.parametrize("project", ["tenant\x00", "\udcff", "tenant-\U0001f600"])
def test_a_context_project_no_row_can_name_is_invalid(db: Database, project: str) -> None:
    """A context whose project holds a NUL, a lone surrogate or a 4-byte
    character is refused the same way on every backend (PostgreSQL, MySQL's
    utf8 columns and the drivers each refused it differently)."""
    image = db.image_create(RequestContext(is_admin=True), {"status": "active"})
    ctx = RequestContext(project_id=project)
    calls = {
        "image_get_all": lambda: db.image_get_all(ctx),
        "image_get": lambda: db.image_get(ctx, image["id"]),
        "image_member_find": lambda: db.image_member_find(ctx, member="tenant"),
        "task_get_all": lambda: db.task_get_all(ctx),
        "metadef_namespace_get_all": lambda: db.metadef_namespace_get_all(ctx),
    }
    for name, call in calls.items():
        with pytest.raises(Invalid, match="context's project"):
            call()
            pytest.fail(f"{name} accepted the project {project!r}")
