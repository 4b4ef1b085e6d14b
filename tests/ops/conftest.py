"""Apps with the admin API on, and clients that act as one tenant's identity provider."""

from __future__ import annotations

import pytest

from scimflask.storage.capabilities import CounterSupport, ProvisioningLogSupport, TenantSupport
from tests.conftest import ScimClient

ADMIN_TOKEN = "admin-token-0123456789"


class AdminClient:
    """JSON calls to the admin API with the admin credential."""

    def __init__(self, app, prefix: str = "/scim-admin", token: str = ADMIN_TOKEN) -> None:
        self.client = app.test_client()
        self.prefix = prefix
        self.token = token

    def call(self, method: str, path: str, **kwargs):
        headers = {"Authorization": f"Bearer {self.token}"}
        return self.client.open(self.prefix + path, method=method, headers=headers, **kwargs)


def require_operations(app) -> None:
    """Skip (saying why) on a backend that does not implement the operations capabilities yet."""
    storage = app.extensions["scim"].storage
    missing = [cap.__name__ for cap in (TenantSupport, ProvisioningLogSupport, CounterSupport)
               if not isinstance(storage, cap)]
    if missing:
        pytest.skip(f"{type(storage).__name__} lacks {', '.join(missing)}")


@pytest.fixture
def ops_app(make_app):
    app = make_app(SCIM_ADMIN_TOKENS=(ADMIN_TOKEN,), SCIM_PUBLIC_BASE_URL="https://scim.example.com")
    require_operations(app)
    return app


@pytest.fixture
def admin(ops_app) -> AdminClient:
    return AdminClient(ops_app)


def tenant_client(app, admin: AdminClient, tenant: str) -> ScimClient:
    """Enable SCIM for `tenant` through the admin API; a client using the returned token."""
    answer = admin.call("PUT", f"/tenants/{tenant}/scim")
    assert answer.status_code in (200, 201), answer.get_json()
    body = answer.get_json()
    public = app.config["SCIM_PUBLIC_BASE_URL"] or "http://localhost"
    assert body["baseUrl"] == public + "/scim/v2"
    return ScimClient(app, token=body["apiToken"])
