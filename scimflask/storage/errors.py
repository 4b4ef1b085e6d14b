"""The errors a storage backend raises, each named for what went wrong in the store.

These are the only exceptions a backend raises on purpose. Core (`scimflask.operations`)
translates each into the SCIM error the client sees, so a backend never needs to know the
protocol's status codes or `scimType` values.
"""

from __future__ import annotations

from ..errors import ConfigurationError


class StorageError(Exception):
    """Base class of every error the storage contract defines."""


class ResourceNotFound(StorageError):
    """No resource of that type and id in the caller's tenant."""

    def __init__(self, resource_type: str, id: str) -> None:
        super().__init__(f"{resource_type} {id!r} not found")
        self.resource_type = resource_type
        self.id = id


class UniqueConflict(StorageError):
    """A uniqueness constraint would be violated; `attribute` names it (e.g. "userName")."""

    def __init__(self, attribute: str) -> None:
        super().__init__(f"{attribute} is already in use")
        self.attribute = attribute


class VersionMismatch(StorageError):
    """`expected_version` did not match the stored version (the compare-and-set failed)."""

    def __init__(self, current_version: int | None = None) -> None:
        super().__init__("resource version does not match")
        self.current_version = current_version


class UnknownMembers(StorageError):
    """Member ids that name no User or Group of the tenant (when members are checked)."""

    def __init__(self, ids: list[str]) -> None:
        super().__init__("unknown member ids: " + ", ".join(ids[:10]))
        self.ids = ids


class StaleKeyset(StorageError):
    """`Query.after` holds a keyset this query's sort order cannot place (a cursor from another
    query, or from before the backend changed how it encodes keys)."""


class UnsupportedFilter(StorageError):
    """The backend cannot evaluate this (already validated) filter; the message says what."""


class ScanTooLarge(StorageError):
    """Answering the filter would examine more than `Query.max_scan` resources that no index
    narrowed down; raised before the scan, so the refusal is cheap (400 tooMany)."""

    def __init__(self, resource_type: str, limit: int) -> None:
        super().__init__(f"a filter on {resource_type} that no index narrows to at most {limit} resources")
        self.resource_type = resource_type
        self.limit = limit


class StorageUnavailable(StorageError):
    """The backend cannot be reached or failed; the request may be retried later (503)."""


__all__ = [
    "StorageError", "ResourceNotFound", "UniqueConflict", "VersionMismatch", "UnknownMembers",
    "StaleKeyset", "UnsupportedFilter", "ScanTooLarge", "StorageUnavailable", "ConfigurationError",
]
