"""Errors a storage backend raises; the blueprint alone turns them into SCIM responses."""

from __future__ import annotations


class StorageError(Exception):
    """Base class of every error the storage contract defines."""


class NotFound(StorageError):
    """No resource of that type and id in the caller's tenant."""

    def __init__(self, resource_type: str, id: str) -> None:
        super().__init__(f"{resource_type} {id!r} not found")
        self.resource_type = resource_type
        self.id = id


class Conflict(StorageError):
    """A uniqueness constraint would be violated; `attribute` names it (e.g. "userName")."""

    def __init__(self, attribute: str) -> None:
        super().__init__(f"{attribute} is already in use")
        self.attribute = attribute


class PreconditionFailed(StorageError):
    """`expected_version` did not match the stored version (the compare-and-set failed)."""

    def __init__(self, current_version: int | None = None) -> None:
        super().__init__("resource version does not match")
        self.current_version = current_version


class UnknownMembers(StorageError):
    """Member ids that name no User or Group of the tenant (when members are checked)."""

    def __init__(self, ids: list[str]) -> None:
        super().__init__("unknown member ids: " + ", ".join(ids[:10]))
        self.ids = ids


class StorageUnavailable(StorageError):
    """The backend cannot be reached or failed; the request may be retried later (503)."""
