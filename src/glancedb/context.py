"""Request contexts: who is calling.

glancedb ships its own small :class:`RequestContext` and accepts any foreign
context object (an oslo.context or Glance ``RequestContext``, for instance) by
duck typing: only ``is_admin``, ``owner`` / ``project_id`` and
``can_see_deleted`` / ``show_deleted`` are read.
"""

from __future__ import annotations

import copy
from typing import Any

from glancedb.exception import Invalid
from glancedb.validation import text_problem

# Foreign contexts are accepted by duck typing, so the API is typed with Any.
ContextLike = Any


class RequestContext:
    """The caller of an API function.

    ``project_id`` is the tenant that owns what the caller creates (exposed as
    ``owner``); ``is_admin`` lifts every visibility and ownership rule;
    ``show_deleted`` lets the caller see soft-deleted records.
    """

    def __init__(
        self,
        project_id: str | None = None,
        user_id: str | None = None,
        *,
        is_admin: bool = False,
        show_deleted: bool = False,
        roles: list[str] | None = None,
        request_id: str | None = None,
    ) -> None:
        self.project_id = project_id
        self.user_id = user_id
        self.is_admin = bool(is_admin)
        self.show_deleted = bool(show_deleted)
        self.roles = list(roles or [])
        if self.is_admin and "admin" not in self.roles:
            self.roles.append("admin")
        self.request_id = request_id

    @property
    def owner(self) -> str | None:
        """The tenant owning what this context creates (its project id)."""
        return self.project_id

    @property
    def can_see_deleted(self) -> bool:
        """Whether soft-deleted records are visible to this context."""
        return self.show_deleted or self.is_admin

    def elevated(self) -> RequestContext:
        """Return a copy of this context with admin rights."""
        ctx = copy.copy(self)
        ctx.roles = list(self.roles)
        ctx.is_admin = True
        if "admin" not in ctx.roles:
            ctx.roles.append("admin")
        return ctx

    def __repr__(self) -> str:
        return (
            f"RequestContext(project_id={self.project_id!r}, user_id={self.user_id!r}, "
            f"is_admin={self.is_admin!r}, show_deleted={self.show_deleted!r})"
        )


def get_admin_context(show_deleted: bool = False) -> RequestContext:
    """Return an admin context without a project (as Glance's helper does)."""
    return RequestContext(is_admin=True, show_deleted=show_deleted)


def context_is_admin(context: ContextLike) -> bool:
    """Whether ``context`` has admin rights."""
    return bool(getattr(context, "is_admin", False))


def context_owner(context: ContextLike) -> str | None:
    """The owner (project) of ``context``, or None.

    :raises Invalid: an owner holding a NUL, a lone surrogate or a 4-byte
        character: no row can name such a project, and PostgreSQL (NUL),
        MySQL's utf8 columns (4-byte) and every driver (a lone surrogate)
        would each refuse it in their own way.
    """
    owner = context.owner if hasattr(context, "owner") else getattr(context, "project_id", None)
    if owner is None:
        return None
    text = str(owner)
    problem = text_problem(text)
    if problem is not None:
        raise Invalid(f"The context's project {text!r} {problem}")
    return text


def context_can_see_deleted(context: ContextLike) -> bool:
    """Whether ``context`` may see soft-deleted records."""
    if hasattr(context, "can_see_deleted"):
        return bool(context.can_see_deleted)
    return bool(getattr(context, "show_deleted", False)) or context_is_admin(context)
