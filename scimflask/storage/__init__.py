"""The storage contract, its errors and the scheme registry."""

from .base import Storage
from .capabilities import CounterSupport, LogEntry, ProvisioningLogSupport, Tenant, TenantSupport
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
    "UnknownMembers", "StorageUnavailable", "Tenant", "LogEntry", "TenantSupport",
    "ProvisioningLogSupport", "CounterSupport",
]
