"""The keys of the records the calls return (SPEC 1.6).

Written out from the spec, never imported from ``glancedb``: the record-shape
tests must not pass merely because the code agrees with itself.
"""

from __future__ import annotations

#: Bookkeeping keys of a soft-deletable row.
BOOKKEEPING_KEYS = frozenset({"created_at", "updated_at", "deleted_at", "deleted"})

#: A property record.
PROPERTY_KEYS = frozenset({"id", "image_id", "name", "value"}) | BOOKKEEPING_KEYS

#: A member record: Glance's member dict has no ``deleted_at``.
MEMBER_KEYS = frozenset({"id", "image_id", "member", "can_share", "status"}) | (
    BOOKKEEPING_KEYS - {"deleted_at"}
)
