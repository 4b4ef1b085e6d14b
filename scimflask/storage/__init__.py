"""The storage contract, its errors and the scheme registry."""

from .base import Storage
from .errors import (
    Conflict,
    NotFound,
    PreconditionFailed,
    StorageError,
    StorageUnavailable,
    UnknownMembers,
)
from .registry import StorageRegistry

__all__ = [
    "Storage", "StorageRegistry", "StorageError", "NotFound", "Conflict", "PreconditionFailed",
    "UnknownMembers", "StorageUnavailable",
]
