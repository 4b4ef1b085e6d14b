"""The storage contract, its errors and the scheme registry."""

from .base import Storage
from .capabilities import (
    CounterSupport,
    LogEntry,
    LogHour,
    LogQuery,
    ProvisioningLogSupport,
    Tenant,
    TenantSupport,
)
from .errors import (
    ConfigurationError,
    ResourceNotFound,
    ScanTooLarge,
    StaleKeyset,
    StorageError,
    StorageUnavailable,
    UniqueConflict,
    UnknownMembers,
    UnsupportedFilter,
    VersionMismatch,
)
from .registry import StorageRegistry

__all__ = [
    "Storage", "StorageRegistry", "StorageError", "ResourceNotFound", "UniqueConflict", "VersionMismatch",
    "UnknownMembers", "StaleKeyset", "UnsupportedFilter", "ScanTooLarge", "StorageUnavailable", "ConfigurationError",
    "Tenant", "LogEntry", "LogQuery", "LogHour", "TenantSupport", "ProvisioningLogSupport", "CounterSupport",
]
