"""The exceptions glancedb raises.

Class names follow Glance's so that ``except`` clauses written against
``glance.common.exception`` keep working after switching the import.  Every
exception derives from :class:`GlanceDBError`; no raw SQLAlchemy or DBAPI
exception leaves the public API.
"""

from __future__ import annotations

#: The longest message an error that may quote a caller's input carries.  A
#: message naming a megabyte of bad input (or a driver error quoting a
#: statement with thousands of parameters) keeps its start and its end,
#: where the reason is.
MAX_MESSAGE_LENGTH = 1000
_MESSAGE_HEAD, _MESSAGE_TAIL = 600, 300


def bounded_message(message: str) -> str:
    """``message``, its middle left out when it is longer than :data:`MAX_MESSAGE_LENGTH`."""
    if len(message) <= MAX_MESSAGE_LENGTH:
        return message
    left_out = len(message) - _MESSAGE_HEAD - _MESSAGE_TAIL
    return f"{message[:_MESSAGE_HEAD]}[... {left_out} characters ...]{message[-_MESSAGE_TAIL:]}"


class GlanceDBError(Exception):
    """Base class of every error raised by glancedb."""

    default_message = "An unknown glancedb error occurred"
    #: Whether the message may quote what a caller passed, and so is bounded
    #: (:func:`bounded_message`).
    quotes_input = True

    def __init__(self, message: str | None = None) -> None:
        if not message:
            message = self.default_message
        elif self.quotes_input:
            message = bounded_message(message)
        self.msg = message
        super().__init__(self.msg)


# --- lookups -----------------------------------------------------------------


class NotFound(GlanceDBError):
    """A requested record does not exist or is not reachable."""

    default_message = "The requested record was not found"


class ImageNotFound(NotFound):
    """The image id is unknown, deleted (and not shown) or malformed."""

    default_message = "The requested image was not found"


class TaskNotFound(NotFound):
    """The task id is unknown."""

    default_message = "The requested task was not found"


# --- authorisation -----------------------------------------------------------


class Forbidden(GlanceDBError):
    """The context may not see or change the record."""

    default_message = "You are not authorized to complete this action"


class ForbiddenPublicImage(Forbidden):
    """A non-owner tried to change a public or community image."""

    default_message = "You are not authorized to change a public image"


# --- conflicts and bad input -------------------------------------------------


class Duplicate(GlanceDBError):
    """A unique key would be violated."""

    default_message = "A record with the same key already exists"


class Conflict(GlanceDBError):
    """The record is not in the state the caller expected."""

    default_message = "The record was changed by another request"


class Invalid(GlanceDBError):
    """Bad input of any kind."""

    default_message = "Invalid input"


class InvalidSortKey(Invalid):
    """The sort key is not a column of the listed records."""

    default_message = "Sort key supplied is invalid"


class InvalidSortDir(Invalid):
    """The sort direction is neither ``asc`` nor ``desc``."""

    default_message = "Sort direction supplied is invalid"


class InvalidFilterRangeValue(Invalid):
    """A ``*_min`` / ``*_max`` filter value is not numeric."""

    default_message = "Unable to filter using the specified range"


class InvalidFilterOperatorValue(Invalid):
    """A filter uses an unknown operator."""

    default_message = "Unable to filter using the specified operator"


class InvalidParameterValue(Invalid):
    """A filter value is malformed (bad ISO time, bad quoting, ...)."""

    default_message = "Invalid value for a parameter"


# --- infrastructure ----------------------------------------------------------


class DBError(GlanceDBError):
    """A database failure that is not the caller's fault."""

    default_message = "Database error"


class DBConnectionError(DBError):
    """The database could not be reached (after the retries)."""

    default_message = "Could not connect to the database"


class DBCommitUnknown(DBConnectionError):
    """The connection was lost during a write's COMMIT: the write **may have committed**.

    Raised on MySQL/MariaDB and SQLite, and on PostgreSQL when the
    transaction's status cannot be learnt; never retried (another attempt
    could write twice).  Check the database before writing again.
    """

    default_message = "The connection was lost during COMMIT; the write may have committed"


class DBDeadlock(DBError):
    """A deadlock or serialization failure survived every retry."""

    default_message = "Database deadlock or serialization failure"


class DBConfigurationError(DBError):
    """The database URL is malformed or its driver is not installed."""

    default_message = "The database configuration is invalid"


class SchemaError(GlanceDBError):
    """The database schema is missing, outdated or differs from the models."""

    default_message = "The database schema does not match glancedb's"
    # Its message lists the database's differences, every one of them (a
    # Glance database on MySQL has dozens): nothing a caller passed.
    quotes_input = False


# --- metadata definitions ----------------------------------------------------


class MetadefNamespaceNotFound(NotFound):
    """The metadata-definition namespace does not exist."""


class MetadefObjectNotFound(NotFound):
    """The metadata-definition object does not exist."""


class MetadefPropertyNotFound(NotFound):
    """The metadata-definition property does not exist."""


class MetadefTagNotFound(NotFound):
    """The metadata-definition tag does not exist."""


class MetadefResourceTypeNotFound(NotFound):
    """The metadata-definition resource type does not exist."""


class MetadefResourceTypeAssociationNotFound(NotFound):
    """The namespace is not associated with that resource type."""


class MetadefDuplicateNamespace(Duplicate):
    """A namespace with that name already exists."""


class MetadefDuplicateObject(Duplicate):
    """An object with that name already exists in the namespace."""


class MetadefDuplicateProperty(Duplicate):
    """A property with that name already exists in the namespace."""


class MetadefDuplicateTag(Duplicate):
    """A tag with that name already exists in the namespace."""


class MetadefDuplicateResourceType(Duplicate):
    """A resource type with that name already exists."""


class MetadefDuplicateResourceTypeAssociation(Duplicate):
    """The namespace is already associated with that resource type."""


class MetadefForbidden(Forbidden):
    """The context may not see the namespace."""


class MetadefIntegrityError(Forbidden):
    """The record is still referenced and cannot be deleted."""


class ProtectedMetadefResourceTypeSystemDelete(Forbidden):
    """A protected (system) resource type cannot be deleted."""
