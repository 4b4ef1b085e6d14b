"""Optional storage abilities for operating a multi-tenant service: tenants, log, rate limits.

A backend opts in by inheriting a mixin and implementing its methods; features that need one
check `isinstance(storage, Mixin)` and fail with a clear message otherwise. The built-in memory,
SQL and Redis backends implement all three, so tenants, the provisioning log and rate-limit
counters live in the same store as the resources and are shared by every worker.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import datetime

from ..model import Token


@dataclass
class Tenant:
    """A customer of the service: every token and resource belongs to exactly one."""

    id: str
    created: datetime
    disabled: bool = False
    description: str = ""


@dataclass
class LogEntry:
    """One SCIM request as the provisioning log records it (never secrets or passwords).

    `id` sorts in time order within a tenant (the backend may rely on that for paging).
    """

    id: str
    tenant: str
    time: datetime
    method: str
    path: str
    status: int
    outcome: str  # "success" or "failure"
    token_id: str | None = None
    resource_type: str | None = None
    resource_id: str | None = None
    changed: tuple[str, ...] = field(default_factory=tuple)
    detail: str | None = None


class TenantSupport(ABC):
    """Tenant records, token updates and whole-tenant deletion."""

    @abstractmethod
    def put_tenant(self, tenant: Tenant) -> None:
        """Create or replace a tenant record."""

    @abstractmethod
    def get_tenant(self, tenant_id: str) -> Tenant | None:
        """The tenant record, or None."""

    @abstractmethod
    def list_tenants(self) -> list[Tenant]:
        """Every tenant record, oldest first."""

    @abstractmethod
    def delete_tenant(self, tenant_id: str) -> bool:
        """Delete the tenant record and ALL its data: resources, memberships, tokens, log
        entries, counters. Return whether the tenant record existed."""

    @abstractmethod
    def update_token(self, token: Token) -> bool:
        """Replace a token record found by `token.id` (e.g. to set `expires` on rotation or
        `last_used`); return whether it existed. The secret hash is never changed."""


class ProvisioningLogSupport(ABC):
    """An append-only, per-tenant log of SCIM requests with retention."""

    @abstractmethod
    def append_log(self, entry: LogEntry) -> None:
        """Store one entry."""

    def append_logs(self, entries: list[LogEntry]) -> None:
        """Store several entries (the log writes in batches); override to do it in one go."""
        for entry in entries:
            self.append_log(entry)

    @abstractmethod
    def query_log(self, tenant: str, *, limit: int = 100, before: str | None = None,
                  since: datetime | None = None) -> list[LogEntry]:
        """Entries of `tenant`, newest first: at most `limit`, with `id` < `before` when given,
        and `time` >= `since` when given."""

    @abstractmethod
    def prune_log(self, tenant: str, *, keep: int | None = None,
                  older_than: datetime | None = None) -> int:
        """Delete entries beyond the newest `keep` and/or older than `older_than`; return how
        many were deleted."""


class CounterSupport(ABC):
    """Atomic fixed-window counters (rate limiting across workers)."""

    @abstractmethod
    def hit_counter(self, key: str, window_seconds: int, now: datetime) -> int:
        """Count one hit on `key` in the window containing `now` (windows are aligned to
        multiples of `window_seconds` since the epoch) and return the window's count so far,
        atomically across processes. Old windows may be forgotten. A key that starts with
        "<tenant>:" belongs to that tenant: `delete_tenant` removes it."""
