"""The admin flow end to end, from the API and from the CLI: enable → provision → rotate →
old token refused after the grace period → revoke; plus disabling and deleting tenants."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from click.testing import CliRunner

import scimflask.auth
from scimflask import create_app, hookimpl
from scimflask.cli.main import main
from scimflask.model import utcnow
from tests.conftest import ScimClient

from .conftest import ADMIN_TOKEN, AdminClient, tenant_client

USER = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "ada@example.com"}


def later(monkeypatch, seconds: float) -> None:
    """Move authentication's clock forward."""
    moment = utcnow() + timedelta(seconds=seconds)
    monkeypatch.setattr(scimflask.auth, "utcnow", lambda: moment)


def test_admin_flow_over_the_api(ops_app, admin, tenant, monkeypatch):
    ops_app.extensions["scim"].admin.rotation_grace = 30
    name = tenant + "-acme"
    first = admin.call("PUT", f"/tenants/{name}/scim")
    assert first.status_code == 201
    body = first.get_json()
    assert set(body) >= {"baseUrl", "apiToken"} and body["baseUrl"] == "https://scim.example.com/scim/v2"
    old = ScimClient(ops_app, token=body["apiToken"])
    assert old.post("/Users", json=USER).status_code == 201

    listed = admin.call("GET", "/tenants").get_json()["tenants"]
    assert [t for t in listed if t["id"] == name][0]["disabled"] is False
    tokens = admin.call("GET", f"/tenants/{name}/tokens").get_json()["tokens"]
    assert [t["id"] for t in tokens] == [body["tokenId"]]
    assert tokens[0]["lastUsed"] is not None
    assert body["apiToken"] not in str(tokens) and "secret" not in str(tokens).lower()

    rotated = admin.call("POST", f"/tenants/{name}/tokens/rotate")
    assert rotated.status_code == 201
    new = ScimClient(ops_app, token=rotated.get_json()["apiToken"])
    assert old.get("/Users").status_code == 200  # both valid during the grace period
    assert new.get("/Users").get_json()["totalResults"] == 1
    later(monkeypatch, 31)
    assert old.get("/Users").status_code == 401
    assert new.get("/Users").status_code == 200

    new_id = rotated.get_json()["tokenId"]
    assert admin.call("DELETE", f"/tokens/{new_id}").status_code == 204
    assert new.get("/Users").status_code == 401
    assert admin.call("DELETE", f"/tokens/{new_id}").get_json() == {"status": 404, "detail": f"no token {new_id!r}"}


def test_disable_enable_and_delete_a_tenant(ops_app, admin, tenant):
    client = tenant_client(ops_app, admin, tenant + "-x")
    assert client.post("/Users", json=USER).status_code == 201
    assert admin.call("POST", f"/tenants/{tenant}-x/disable").get_json()["disabled"] is True
    refused = client.get("/Users")
    assert refused.status_code == 403 and "disabled" in refused.get_json()["detail"]
    assert admin.call("POST", f"/tenants/{tenant}-x/enable").get_json()["disabled"] is False
    assert client.get("/Users").get_json()["totalResults"] == 1

    assert admin.call("DELETE", f"/tenants/{tenant}-x").status_code == 204
    assert client.get("/Users").status_code == 401  # its tokens went with it
    again = tenant_client(ops_app, admin, tenant + "-x")
    assert again.get("/Users").get_json()["totalResults"] == 0  # and so did its users
    assert admin.call("DELETE", f"/tenants/{tenant}-nobody").status_code == 404


def test_default_tenant_needs_no_record(client, make_app):
    """A single-tenant deployment: static token, default tenant, no admin API, no records."""
    assert client.post("/Users", json=USER).status_code == 201
    assert client.get("/Users").get_json()["totalResults"] == 1
    assert client.client.get("/scim-admin/tenants").status_code == 404  # not registered


def test_admin_credentials(ops_app, tenant):
    assert AdminClient(ops_app, token="wrong").call("GET", "/tenants").status_code == 401
    scim_token = tenant_client(ops_app, AdminClient(ops_app), tenant).token
    refused = AdminClient(ops_app, token=scim_token).call("GET", "/tenants")
    assert refused.status_code == 401 and refused.get_json()["status"] == 401
    assert refused.headers["Cache-Control"] == "no-store"
    assert ScimClient(ops_app, token=ADMIN_TOKEN).get("/Users").status_code == 401


@pytest.mark.parametrize("bad", ["a b", "-x", "x" * 65, "a/b"])
def test_tenant_ids_are_checked(ops_app, admin, bad):
    answer = admin.call("PUT", f"/tenants/{bad}/scim")
    assert answer.status_code in (400, 404)
    assert set(answer.get_json()) == {"status", "detail"}


def test_unknown_admin_endpoint_is_json(ops_app, admin):
    answer = admin.call("GET", "/nothing/here")
    assert answer.status_code == 404 and answer.get_json()["detail"]


class AllowHeader:
    """Host authorisation: any request carrying X-Host-Admin: yes."""

    @hookimpl
    def scimflask_authorize_admin(self, request, config):
        return request.headers.get("X-Host-Admin") == "yes"


def test_hook_scimflask_authorize_admin():
    app = create_app({"SCIM_STORAGE_URI": "memory://", "SCIM_PLUGINS": (AllowHeader(),)})
    client = app.test_client()
    assert client.get("/scim-admin/tenants").status_code == 401
    assert client.get("/scim-admin/tenants", headers={"X-Host-Admin": "yes"}).status_code == 200


# -- the same flow from the CLI -------------------------------------------------------------

def _secret(output: str) -> str:
    return re.search(r"Secret Token: (\S+)", output).group(1)


def test_admin_flow_from_the_cli(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'scim.db'}"
    monkeypatch.setenv("SCIM_STORAGE_URI", url)
    monkeypatch.setenv("SCIM_TOKEN_ROTATION_GRACE", "5")
    runner = CliRunner()

    def run(*args: str) -> str:
        result = runner.invoke(main, list(args), catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.output

    app = create_app({"SCIM_STORAGE_URI": url})
    from tests.ops.conftest import require_operations

    require_operations(app)
    # The CLI changes tenants through an app of its own, like another worker would; this app
    # re-reads tenant state on every request instead of trusting it for TENANT_STATUS_TTL.
    app.extensions["scim"].tenant_status.ttl = 0
    enabled = run("tenant", "enable", "acme", "--public-url", "https://scim.example.com")
    assert "Tenant URL:   https://scim.example.com/scim/v2" in enabled
    old = ScimClient(app, token=_secret(enabled))
    assert old.post("/Users", json=USER).status_code == 201
    assert "acme  enabled  tokens=1" in run("tenant", "list")

    rotated = run("token", "rotate", "--tenant", "acme")
    new = ScimClient(app, token=_secret(rotated))
    assert old.get("/Users").status_code == 200
    later(monkeypatch, 6)
    assert old.get("/Users").status_code == 401
    assert new.get("/Users").status_code == 200

    # Another process reads the log: entries are stored in the background within ~50 ms.
    app.extensions["scim"].log.flush()
    log = run("log", "--tenant", "acme")
    assert "POST   /Users  201 success  User" in log and "userName" in log
    tokens = run("tenant", "tokens", "acme")
    new_id = re.search(r"Token id:\s+(\S+)", rotated).group(1)
    assert new_id in tokens and _secret(rotated) not in tokens

    run("tenant", "disable", "acme")
    assert new.get("/Users").status_code == 403
    run("tenant", "enable", "acme", "--no-token")
    assert new.get("/Users").status_code == 200
    run("token", "revoke", new_id)
    assert new.get("/Users").status_code == 401
    run("tenant", "delete", "acme", "--yes")
    assert "acme" not in run("tenant", "list")


def test_tenant_state_is_trusted_briefly_by_other_workers(monkeypatch):
    """A worker re-reads a tenant's record at most every TENANT_STATUS_TTL seconds; the worker
    that disables the tenant knows at once."""
    from scimflask_memory import MemoryStorage

    from scimflask.errors import Forbidden
    from scimflask.ops.tenancy import TenantStatus
    from scimflask.schema import default_catalog
    from scimflask.storage.capabilities import Tenant

    storage = MemoryStorage(default_catalog())
    clock = [100.0]
    monkeypatch.setattr("scimflask.ops.tenancy.time.monotonic", lambda: clock[0])
    status = TenantStatus(ttl=5.0)
    status.check(storage, "acme")  # no record: enabled
    storage.put_tenant(Tenant(id="acme", created=utcnow(), disabled=True))
    status.check(storage, "acme")  # still trusted
    clock[0] += 5.0
    with pytest.raises(Forbidden):
        status.check(storage, "acme")
    storage.put_tenant(Tenant(id="acme", created=utcnow(), disabled=False))
    status.forget("acme")
    status.check(storage, "acme")
