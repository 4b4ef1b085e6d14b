"""What authentication adds for a multi-tenant service: disabled tenants and token last use.

A tenant needs no record to work: the default tenant (and any tenant whose tokens were made
with `scimflask token create`) is enabled until someone disables it. A disabled tenant's tokens
get 403: the credential is genuine, the service is switched off for its owner (401 would make an
identity provider report a wrong secret).
"""

from __future__ import annotations

import threading
import time
from datetime import datetime

from ..errors import Forbidden
from ..storage.base import Storage
from ..storage.capabilities import TenantSupport

# A token's `last_used` is written at most this often per process: a write per request would
# double the load of a provisioning burst for a value that only needs minute precision.
LAST_USED_INTERVAL = 60.0


# How long a worker trusts what it last read about a tenant being disabled. Reading the tenant
# record on every request would add a storage round trip to each one; disabling is rare, and
# takes effect in every worker within this many seconds (at once in the worker that did it).
TENANT_STATUS_TTL = 5.0


class TenantStatus:
    """Refuses requests of disabled tenants, remembering each tenant's state briefly."""

    def __init__(self, ttl: float = TENANT_STATUS_TTL) -> None:
        self.ttl = ttl
        self._disabled: dict[str, tuple[bool, float]] = {}
        self._lock = threading.Lock()

    def check(self, storage: Storage, tenant: str) -> None:
        """Raise Forbidden for a disabled tenant (never on backends without tenant records)."""
        if not isinstance(storage, TenantSupport):
            return
        now = time.monotonic()
        with self._lock:
            known = self._disabled.get(tenant)
        if known is None or now - known[1] >= self.ttl:
            record = storage.get_tenant(tenant)
            known = (record is not None and record.disabled, now)
            with self._lock:
                self._disabled[tenant] = known
        if known[0]:
            raise Forbidden("SCIM provisioning is disabled for this tenant.")

    def forget(self, tenant: str) -> None:
        """Drop what is remembered about `tenant` (after this process changed it)."""
        with self._lock:
            self._disabled.pop(tenant, None)


class TokenUsage:
    """Throttled `last_used` updates: one storage write per token per interval per process."""

    def __init__(self, interval: float = LAST_USED_INTERVAL) -> None:
        self.interval = interval
        self._written: dict[str, float] = {}
        self._lock = threading.Lock()

    def used(self, storage: Storage, token_id: str | None, when: datetime) -> None:
        if token_id is None or token_id.startswith("config-"):
            return  # static tokens from the configuration have no record
        now = time.monotonic()
        with self._lock:
            last = self._written.get(token_id)
            if last is not None and now - last < self.interval:
                return
            self._written[token_id] = now
        storage.touch_token(token_id, when)
