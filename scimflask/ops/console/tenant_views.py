"""The tenant pages: the list, one tenant, and its tokens and state changes.

Everything goes through `AdminService`, like the admin API and the CLI. A state change is a
POST from a form; the destructive ones (disable, enable, delete, rotate, revoke) are first
shown as a confirmation page at the same URL, fetched with GET, which changes nothing. A new
secret exists only in the response to the POST that made it: it is never stored, logged or
retrievable again.
"""

from __future__ import annotations

from flask import g, request

from ...config import ConfigKeys
from ...model import utcnow
from ...state import ScimState
from ...storage.capabilities import LogQuery
from ..admin.service import AdminError, AdminService, check_tenant_id
from . import audit
from .names import resource_names
from .rendering import page, see_other

ACTIONS = {
    "disable": ("Disable", "Its identity providers get 403 for every request until you enable it again. "
                           "Nothing is deleted."),
    "enable": ("Enable", "Its tokens work again at once."),
    "rotate": ("Rotate tokens", "A new token is issued and shown once; every older token of the tenant "
                                "stops working after the rotation grace period ({grace} seconds)."),
    "delete": ("Delete", "The tenant, its users, groups, tokens and provisioning log are deleted for good."),
}
RECENT = 50
MAX_DESCRIPTION = 200


def find_tenant(service: AdminService, tenant: str) -> dict:
    """The tenant as `AdminService.list_tenants` describes it, or a 404 AdminError."""
    check_tenant_id(tenant)
    for record in service.list_tenants():
        if record["id"] == tenant:
            return record
    raise AdminError(f"no tenant {tenant!r}", 404)


class TenantViews:
    def __init__(self, state: ScimState) -> None:
        self.service = state.admin
        self.storage = state.storage
        self.config = state.config

    def _public_url(self) -> str:
        """Where clients reach this server: SCIM_PUBLIC_BASE_URL, else the host of this request."""
        return self.config[ConfigKeys.PUBLIC_BASE_URL] or request.host_url

    def _record(self, tenant: str) -> dict:
        return find_tenant(self.service, tenant)

    def _actor(self) -> str | None:
        return g.console_visitor.actor

    # -- pages ------------------------------------------------------------------------------
    def tenants(self):
        now = utcnow()
        rows = [(record, self.service.health(record["id"], now, disabled=record["disabled"]))
                for record in self.service.list_tenants()]
        return page("tenants.html", rows=rows)

    def tenant(self, tenant: str):
        record = self._record(tenant)
        health = self.service.health(tenant, utcnow(), disabled=record["disabled"])
        recent = self._recent_resources(tenant) if health.logged else []
        return page("tenant.html", tenant=record, health=health, tokens=self.service.list_tokens(tenant),
                    tenant_url=self.service.base_url(self._public_url()), recent=recent)

    def _recent_resources(self, tenant: str) -> list[tuple[dict, str | None]]:
        """The newest entry of each resource the latest log entries touched, with its name."""
        entries = self.service.query_log(tenant, LogQuery(limit=RECENT))
        names = resource_names(self.storage, tenant, entries)
        seen: set[tuple[str, str]] = set()
        recent = []
        for entry in entries:
            key = (entry["resourceType"], entry["resourceId"])
            if key[0] and key[1] and key not in seen:
                seen.add(key)
                recent.append((entry, entry["userName"] or entry["displayName"] or names.get(key)))
        return recent[:10]

    def confirm(self, tenant: str, action: str):
        record = self._record(tenant)
        verb, consequence = ACTIONS[action]
        return page("confirm.html", tenant=record, action=action, verb=verb,
                    consequence=consequence.format(grace=self.service.rotation_grace))

    def confirm_revoke(self, tenant: str, token_id: str):
        record = self._record(tenant)
        return page("confirm.html", tenant=record, action="revoke", verb="Revoke", token=self._token(tenant, token_id),
                    consequence="The identity provider using this token gets 401 from now on.")

    def _token(self, tenant: str, token_id: str) -> dict:
        for token in self.service.list_tokens(tenant):
            if token["id"] == token_id:
                return token
        raise AdminError(f"tenant {tenant!r} has no token {token_id!r}", 404)

    # -- actions ----------------------------------------------------------------------------
    def enable_scim(self):
        tenant = request.form.get("tenant", "").strip()
        description = request.form.get("description", "").strip()[:MAX_DESCRIPTION]
        issued = self.service.enable_scim(tenant, self._public_url(), description)
        audit.record("console.enable_scim", actor=self._actor(), tenant=tenant, tokenId=issued.token.id,
                     tenantCreated=issued.tenant_created)
        return page("issued.html", 201, issued=issued, heading="SCIM is enabled for " + tenant)

    def issue(self, tenant: str):
        record = self._record(tenant)
        if record["disabled"]:
            raise AdminError("the tenant is disabled; enable it before issuing tokens", 409)
        description = request.form.get("description", "").strip()[:MAX_DESCRIPTION]
        issued = self.service.enable_scim(tenant, self._public_url(), description or "issued in the console")
        audit.record("console.issue_token", actor=self._actor(), tenant=tenant, tokenId=issued.token.id)
        return page("issued.html", 201, issued=issued, heading="New token for " + tenant)

    def rotate(self, tenant: str):
        self._record(tenant)
        issued, deadline = self.service.rotate(tenant, self._public_url())
        audit.record("console.rotate", actor=self._actor(), tenant=tenant, tokenId=issued.token.id)
        return page("issued.html", 201, issued=issued, deadline=deadline, heading="Tokens rotated for " + tenant)

    def revoke(self, tenant: str, token_id: str):
        self._record(tenant)
        self._token(tenant, token_id)  # only a token of this tenant, whatever the form says
        self.service.revoke(token_id)
        audit.record("console.revoke", actor=self._actor(), tenant=tenant, tokenId=token_id)
        return see_other(".tenant", tenant=tenant, notice="revoked")

    def disable(self, tenant: str):
        self._record(tenant)
        self.service.set_disabled(tenant, True)
        audit.record("console.disable", actor=self._actor(), tenant=tenant)
        return see_other(".tenant", tenant=tenant, notice="disabled")

    def enable(self, tenant: str):
        self._record(tenant)
        self.service.set_disabled(tenant, False)
        audit.record("console.enable", actor=self._actor(), tenant=tenant)
        return see_other(".tenant", tenant=tenant, notice="enabled")

    def delete(self, tenant: str):
        record = self._record(tenant)
        if request.form.get("confirm", "").strip() != tenant:
            verb, consequence = ACTIONS["delete"]
            return page("confirm.html", 400, tenant=record, action="delete", verb=verb, consequence=consequence,
                        error="Type the tenant id exactly to confirm.")
        self.service.delete_tenant(tenant)
        audit.record("console.delete", actor=self._actor(), tenant=tenant)
        return see_other(".tenants", notice="deleted")
