"""Tenant and token administration, shared by the admin API and the CLI.

Neither front end talks to the storage directly: both call `AdminService`, so an operation
means the same thing whichever way an operator reaches it. Errors are `AdminError`s carrying an
HTTP status, which the API answers as JSON and the CLI prints.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from ...auth import new_token
from ...model import Token, format_datetime, utcnow
from ...storage.base import Storage
from ...storage.capabilities import LogQuery, Tenant, TenantSupport
from ..log_health import Health, assess, day_start
from ..provisioning_log import ProvisioningLog, entry_to_dict
from ..tenancy import TenantStatus

# Tenant ids end up in storage keys, URLs and log lines: keep them plain.
TENANT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
MAX_LOG_LIMIT = 1000
# Most entries one export (CSV or JSON) holds; it is read MAX_LOG_LIMIT at a time.
MAX_EXPORT = 100_000


class AdminError(Exception):
    """An administration request that cannot be done; `status` is its HTTP status."""

    def __init__(self, detail: str, status: int = 400) -> None:
        super().__init__(detail)
        self.detail = detail
        self.status = status


@dataclass(frozen=True)
class IssuedToken:
    """A freshly created token: the only moment its secret exists outside the client."""

    token: Token
    secret: str
    base_url: str
    tenant_created: bool = False

    def to_dict(self) -> dict:
        return {"baseUrl": self.base_url, "apiToken": self.secret, "tokenId": self.token.id,
                "tenant": self.token.tenant}


def token_to_dict(token: Token) -> dict:
    """Everything about a token except its secret (and its hash)."""
    return {
        "id": token.id, "tenant": token.tenant, "description": token.description,
        "created": format_datetime(token.created),
        "lastUsed": format_datetime(token.last_used) if token.last_used else None,
        "expires": format_datetime(token.expires) if token.expires else None,
    }


def tenant_to_dict(tenant: Tenant, tokens: int) -> dict:
    return {"id": tenant.id, "created": format_datetime(tenant.created), "disabled": tenant.disabled,
            "description": tenant.description, "tokens": tokens}


def check_tenant_id(tenant: str) -> str:
    if not isinstance(tenant, str) or not TENANT_ID.match(tenant):
        raise AdminError("a tenant id is 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit")
    return tenant


class AdminService:
    """The operations of the admin page, on one storage backend."""

    def __init__(self, storage: Storage, *, scim_prefix: str, default_tenant: str,
                 rotation_grace: int, log: ProvisioningLog | None = None,
                 tenant_status: TenantStatus | None = None) -> None:
        self.storage = storage
        self.scim_prefix = scim_prefix
        self.default_tenant = default_tenant
        self.rotation_grace = rotation_grace
        self.log = log
        self.tenant_status = tenant_status

    @property
    def tenants(self) -> TenantSupport:
        if not isinstance(self.storage, TenantSupport):
            raise AdminError(f"{type(self.storage).__name__} does not support tenant administration", 501)
        return self.storage

    def base_url(self, public_base_url: str) -> str:
        """The SCIM base URL of every tenant (the token, not the URL, carries the tenant)."""
        return public_base_url.rstrip("/") + self.scim_prefix

    # -- tenants ----------------------------------------------------------------------------
    def enable_scim(self, tenant: str, public_base_url: str, description: str = "") -> IssuedToken:
        """Make sure the tenant exists and is enabled, and issue a new token for it.

        Earlier tokens stay valid: issuing is not rotating (see `rotate`).
        """
        check_tenant_id(tenant)
        record = self.tenants.get_tenant(tenant)
        created = record is None
        if record is None:
            record = Tenant(id=tenant, created=utcnow(), description=description)
        self.tenants.put_tenant(replace(record, disabled=False))
        token, secret = new_token(self.storage, tenant, description or "issued by the admin API")
        return IssuedToken(token, secret, self.base_url(public_base_url), tenant_created=created)

    def list_tenants(self) -> list[dict]:
        """Tenant records, plus tenants that only have tokens (made by `scimflask token create`)."""
        tokens = self.storage.list_tokens()
        counts: dict[str, int] = {}
        for token in tokens:
            counts[token.tenant] = counts.get(token.tenant, 0) + 1
        out = []
        seen = set()
        for record in self.tenants.list_tenants():
            seen.add(record.id)
            out.append(tenant_to_dict(record, counts.get(record.id, 0)))
        for token in tokens:
            if token.tenant not in seen:
                seen.add(token.tenant)
                out.append(tenant_to_dict(Tenant(id=token.tenant, created=token.created),
                                          counts[token.tenant]))
        return out

    def set_disabled(self, tenant: str, disabled: bool) -> dict:
        check_tenant_id(tenant)
        record = self.tenants.get_tenant(tenant)
        if record is None:
            if not disabled and not self.storage.list_tokens(tenant):
                raise AdminError(f"no tenant {tenant!r}", 404)
            record = Tenant(id=tenant, created=utcnow())
        record = replace(record, disabled=disabled)
        self.tenants.put_tenant(record)
        if self.tenant_status is not None:
            self.tenant_status.forget(tenant)
        return tenant_to_dict(record, len(self.storage.list_tokens(tenant)))

    def delete_tenant(self, tenant: str) -> bool:
        """Delete the tenant with all its resources, tokens, log entries and counters."""
        check_tenant_id(tenant)
        if self.log is not None:
            self.log.flush()  # entries still waiting in this process would outlive the tenant
        had_tokens = bool(self.storage.list_tokens(tenant))
        existed = self.tenants.delete_tenant(tenant)
        return existed or had_tokens

    # -- tokens -----------------------------------------------------------------------------
    def list_tokens(self, tenant: str) -> list[dict]:
        check_tenant_id(tenant)
        return [token_to_dict(token) for token in self.storage.list_tokens(tenant)]

    def rotate(self, tenant: str, public_base_url: str, now: datetime | None = None) -> tuple[IssuedToken, datetime]:
        """Issue a new token; every older token of the tenant expires after the grace period."""
        check_tenant_id(tenant)
        now = now or utcnow()
        old = self.storage.list_tokens(tenant)
        if not old and (not isinstance(self.storage, TenantSupport) or self.tenants.get_tenant(tenant) is None):
            raise AdminError(f"no tenant {tenant!r}; enable SCIM for it first", 404)
        deadline = now + timedelta(seconds=self.rotation_grace)
        token, secret = new_token(self.storage, tenant, "rotated by the admin API")
        for record in old:
            if record.expires is None or record.expires > deadline:
                self.tenants.update_token(replace(record, expires=deadline))
        return IssuedToken(token, secret, self.base_url(public_base_url)), deadline

    def revoke(self, token_id: str) -> None:
        if not self.storage.delete_token(token_id):
            raise AdminError(f"no token {token_id!r}", 404)

    # -- the provisioning log ---------------------------------------------------------------
    def _log(self) -> ProvisioningLog:
        if self.log is None or self.log.store is None:
            raise AdminError(f"{type(self.storage).__name__} does not keep a provisioning log", 501)
        return self.log

    def query_log(self, tenant: str, query: LogQuery | None = None) -> list[dict]:
        """The entries `query` matches, newest first, as the admin API shows them."""
        check_tenant_id(tenant)
        query = query or LogQuery()
        if not 1 <= query.limit <= MAX_LOG_LIMIT:
            raise AdminError(f"limit must be between 1 and {MAX_LOG_LIMIT}")
        return [entry_to_dict(entry) for entry in self._log().query(tenant, query)]

    def export_log(self, tenant: str, query: LogQuery, maximum: int = MAX_EXPORT) -> Iterator[dict]:
        """Up to `maximum` matching entries, newest first, read a page at a time."""
        check_tenant_id(tenant)
        log = self._log()
        left = min(query.limit, maximum)
        while left > 0:
            size = min(left, MAX_LOG_LIMIT)
            page = log.query(tenant, replace(query, limit=size))
            yield from (entry_to_dict(entry) for entry in page)
            if len(page) < size:
                return
            left -= size
            query = replace(query, before=page[-1].id)

    def health(self, tenant: str, now: datetime | None = None, *, disabled: bool | None = None) -> Health:
        """The tenant's health (see `log_health`): its hourly counters, its newest entry and
        its tokens' last use, whichever the identity provider was seen at last."""
        check_tenant_id(tenant)
        now = now or utcnow()
        if disabled is None:
            record = self.tenants.get_tenant(tenant) if isinstance(self.storage, TenantSupport) else None
            disabled = record is not None and record.disabled
        used = [token.last_used for token in self.storage.list_tokens(tenant) if token.last_used]
        if self.log is None or self.log.store is None:
            return Health("disabled" if disabled else "unknown", max(used, default=None))
        newest = self.log.query(tenant, LogQuery(limit=1))
        seen = used + [newest[0].time] if newest else used
        return assess(self.log.hours(tenant, day_start(now)), now, last_seen=max(seen, default=None),
                      disabled=disabled)
