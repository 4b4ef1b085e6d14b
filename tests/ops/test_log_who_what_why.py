"""The provisioning log answers who, what and why on every backend: a failed write shows its
target and the error's detail in the admin API, on the command line and in the console; every
filter, the CSV export and tenant health work end to end; identities can be hashed or left out."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import datetime, timedelta, timezone

import pytest

from scimflask.errors import ConfigurationError
from scimflask.ops.log_health import QUARANTINE_MIN_WRITES

from .conftest import ADMIN_TOKEN, AdminClient, require_operations, tenant_client
from .test_console_support import ConsoleClient, mount_console

CORE = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
ENTRA = {"User-Agent": "Microsoft.Azure.Active.Directory.Provisioning/1.0"}
OKTA = {"User-Agent": "Okta SCIM Client 1.0.0"}
TAKEN = "userName is already in use by another User"


def user(name: str, **more) -> dict:
    return {"schemas": [CORE], "userName": name, **more}


@pytest.fixture
def log_app(make_app):
    """An app with the admin API and the console, storing log entries within each request."""
    app = mount_console(make_app(SCIM_ADMIN_TOKENS=(ADMIN_TOKEN,), SCIM_LOG_BACKGROUND=False))
    require_operations(app)
    return app


def cli(app, *args: str):
    result = app.test_cli_runner().invoke(args=["scim", *args])
    assert result.exit_code == 0, result.output
    return result.output


def test_a_failed_create_names_its_target_and_why_in_the_api_cli_and_console(log_app, tenant):
    admin = AdminClient(log_app)
    scim = tenant_client(log_app, admin, tenant)
    assert scim.post("/Users", json=user("ada@example.com", externalId="e-ada"), headers=OKTA).status_code == 201
    failed = scim.post("/Users", json=user("ada@example.com", displayName="Ada L."), headers=ENTRA)
    assert failed.status_code == 409

    entries = admin.call("GET", f"/tenants/{tenant}/log?outcome=failure").get_json()["entries"]
    assert len(entries) == 1
    entry = entries[0]
    assert (entry["userName"], entry["displayName"], entry["externalId"]) == ("ada@example.com", "Ada L.", None)
    assert (entry["status"], entry["scimType"], entry["detail"]) == (409, "uniqueness", TAKEN)
    assert (entry["client"], entry["userAgent"]) == ("entra", ENTRA["User-Agent"])
    assert entry["requestId"] == failed.headers["X-Request-Id"]
    assert isinstance(entry["durationMs"], int) and entry["durationMs"] >= 0
    created = admin.call("GET", f"/tenants/{tenant}/log?outcome=failure&status=2xx").get_json()["entries"]
    assert created == []
    everything = admin.call("GET", f"/tenants/{tenant}/log").get_json()["entries"]
    assert [(e["client"], e["externalId"]) for e in everything] == [("entra", None), ("okta", "e-ada")]

    printed = cli(log_app, "log", "--tenant", tenant, "--failed")
    assert printed.count("\n") == 1 and "ada@example.com" in printed and f"uniqueness: {TAKEN}" in printed
    assert "[Entra ID]" in printed

    console = ConsoleClient(log_app)
    assert console.sign_in().status_code == 303
    page = console.get(f"/tenants/{tenant}/log?outcome=failure").get_data(as_text=True)
    assert "ada@example.com" in page and TAKEN in page and page.count("data-entry-id=") == 1
    detail = console.get(f"/tenants/{tenant}/log/{entry['id']}").get_data(as_text=True)
    assert "ada@example.com" in detail and f"This request failed (uniqueness): {TAKEN}." in detail
    assert "Entra ID" in detail and entry["requestId"] in detail


def test_tenant_health_counts_failures_and_names_their_reasons(log_app, tenant):
    admin = AdminClient(log_app)
    scim = tenant_client(log_app, admin, tenant)
    assert scim.post("/Users", json=user("bob@example.com")).status_code == 201
    assert scim.post("/Users", json=user("bob@example.com")).status_code == 409
    assert scim.put("/Users/missing", json=user("nobody@example.com")).status_code == 404
    health = admin.call("GET", f"/tenants/{tenant}/health").get_json()
    assert health["state"] == "failing" and health["quarantineRisk"] is False
    for window in ("lastHour", "lastDay"):
        assert {k: health[window][k] for k in ("requests", "failures", "writes", "failedWrites")} == {
            "requests": 3, "failures": 2, "writes": 3, "failedWrites": 2}
    assert health["topFailureReasons"] == [{"reason": "404", "count": 1}, {"reason": "409 uniqueness", "count": 1}]
    seen = datetime.fromisoformat(health["lastSeen"].replace("Z", "+00:00"))
    assert datetime.now(timezone.utc) - seen < timedelta(minutes=5)

    status = cli(log_app, "tenant", "status", tenant)
    assert "State:         failing" in status and "409 uniqueness x1" in status and "Warning" not in status
    assert json.loads(cli(log_app, "tenant", "status", tenant, "--json")) == health

    console = ConsoleClient(log_app)
    console.sign_in()
    page = console.get(f"/tenants/{tenant}").get_data(as_text=True)
    assert "<code>409 uniqueness</code></a>: 1" in page and 'id="quarantine-warning"' not in page


def test_most_writes_failing_warns_of_quarantine(log_app, tenant):
    admin = AdminClient(log_app)
    scim = tenant_client(log_app, admin, tenant)
    assert scim.post("/Users", json=user("dup@example.com")).status_code == 201
    for _ in range(QUARANTINE_MIN_WRITES - 1):
        assert scim.post("/Users", json=user("dup@example.com")).status_code == 409
    health = admin.call("GET", f"/tenants/{tenant}/health").get_json()
    assert health["state"] == "at-risk" and health["quarantineRisk"] is True
    assert health["warning"].startswith("95% of the last day's 20 writes failed")
    assert "Warning:       95% of the last day's 20 writes failed" in cli(log_app, "tenant", "status", tenant)
    console = ConsoleClient(log_app)
    console.sign_in()
    assert re.search(rf'data-health="{tenant}"><span class="badge badge-at-risk">at risk',
                     console.get("/tenants").get_data(as_text=True))
    assert 'id="quarantine-warning"' in console.get(f"/tenants/{tenant}").get_data(as_text=True)


def test_too_few_writes_are_no_quarantine_risk(log_app, tenant):
    admin = AdminClient(log_app)
    scim = tenant_client(log_app, admin, tenant)
    for _ in range(3):
        scim.post("/Users", json=user("few@example.com"))
    assert admin.call("GET", f"/tenants/{tenant}/health").get_json()["state"] == "failing"


@pytest.fixture
def traffic(log_app, tenant):
    """Seven requests of one tenant: (admin client, {name: resource id})."""
    admin = AdminClient(log_app)
    scim = tenant_client(log_app, admin, tenant)
    ids = {name: scim.post("/Users", json=user(f"{name}@example.com")).get_json()["id"] for name in ("u0", "u1")}
    assert scim.post("/Users", json=user("u0@example.com")).status_code == 409
    assert scim.put("/Users/no-such-user", json=user("ghost@example.com")).status_code == 404
    ids["team"] = scim.post("/Groups", json={"schemas": [GROUP], "displayName": "Team U"}).get_json()["id"]
    patch = {"schemas": [PATCH], "Operations": [{"op": "replace", "path": "active", "value": False}]}
    assert scim.patch(f"/Users/{ids['u1']}", json=patch).status_code == 200
    assert scim.delete(f"/Users/{ids['u1']}").status_code == 204
    return admin, ids


def _statuses(admin, tenant: str, query: str) -> list:
    answer = admin.call("GET", f"/tenants/{tenant}/log?{query}")
    assert answer.status_code == 200, answer.get_json()
    return [(e["method"], e["status"]) for e in answer.get_json()["entries"]]


def test_every_admin_api_filter(traffic, tenant):
    admin, ids = traffic
    everything = [("DELETE", 204), ("PATCH", 200), ("POST", 201), ("PUT", 404), ("POST", 409), ("POST", 201),
                  ("POST", 201)]
    assert _statuses(admin, tenant, "") == everything
    assert _statuses(admin, tenant, "outcome=failure") == [("PUT", 404), ("POST", 409)]
    assert _statuses(admin, tenant, "status=4xx&method=PUT") == [("PUT", 404)]
    assert _statuses(admin, tenant, "status=409") == [("POST", 409)]
    assert _statuses(admin, tenant, "method=post&resourceType=User") == [("POST", 409), ("POST", 201), ("POST", 201)]
    assert _statuses(admin, tenant, "resourceType=Group") == [("POST", 201)]
    assert _statuses(admin, tenant, f"resourceId={ids['u1']}") == [("DELETE", 204), ("PATCH", 200), ("POST", 201)]
    assert _statuses(admin, tenant, "q=U0@") == [("POST", 409), ("POST", 201)]
    assert _statuses(admin, tenant, "q=team") == [("POST", 201)]
    assert _statuses(admin, tenant, "q=ghost&outcome=failure") == [("PUT", 404)]
    assert _statuses(admin, tenant, "since=1h") == everything
    assert _statuses(admin, tenant, "until=2020-01-01T00:00:00Z") == []
    assert _statuses(admin, tenant, "since=2020-01-01&until=1w") == []
    first = admin.call("GET", f"/tenants/{tenant}/log?limit=2").get_json()
    assert first["next"] == first["entries"][-1]["id"]
    rest = _statuses(admin, tenant, f"limit=100&before={first['next']}")
    assert rest == everything[2:]
    assert _statuses(admin, tenant, f"after={first['next']}") == everything[:1]


@pytest.mark.parametrize("query", ["since=yesterday", "until=13:99", "status=4x", "status=600", "method=FETCH",
                                   "limit=0", "limit=1001", "before=bad!id", "outcome=maybe"])
def test_a_bad_filter_is_a_400_that_says_why(traffic, tenant, query):
    admin, _ = traffic
    answer = admin.call("GET", f"/tenants/{tenant}/log?{query}")
    assert answer.status_code == 400 and answer.get_json()["detail"].split()[0] in query


def test_the_csv_export(traffic, tenant, log_app):
    admin, ids = traffic
    scim = tenant_client(log_app, admin, tenant)
    assert scim.post("/Users", json=user("=HYPERLINK(1)@example.com")).status_code == 201
    answer = admin.call("GET", f"/tenants/{tenant}/log.csv?status=4xx")
    assert answer.status_code == 200 and answer.mimetype == "text/csv"
    assert answer.headers["Content-Disposition"] == f'attachment; filename="scimflask-log-{tenant}.csv"'
    rows = list(csv.DictReader(io.StringIO(answer.get_data(as_text=True))))
    assert [(row["status"], row["userName"], row["detail"]) for row in rows] == [
        ("404", "ghost@example.com", "User 'no-such-user' not found"), ("409", "u0@example.com", TAKEN)]
    everything = list(csv.DictReader(io.StringIO(admin.call("GET", f"/tenants/{tenant}/log.csv").get_data(as_text=True))))
    assert len(everything) == 8 and everything[0]["userName"] == "'=HYPERLINK(1)@example.com"
    assert admin.call("GET", f"/tenants/{tenant}/log.csv?status=bad").status_code == 400
    exported = cli(log_app, "log", "--tenant", tenant, "--format", "csv", "--status", "4xx")
    assert list(csv.DictReader(io.StringIO(exported))) == rows


def test_delete_and_a_failed_patch_name_their_target_from_the_log(make_app, tenant):
    app = make_app(SCIM_ADMIN_TOKENS=(ADMIN_TOKEN,))  # stored in the background, in batches
    require_operations(app)
    admin = AdminClient(app)
    scim = tenant_client(app, admin, tenant)
    user_id = scim.post("/Users", json=user("eve@example.com", externalId="e-eve")).get_json()["id"]
    app.extensions["scim"].log.flush()
    bad = {"schemas": [PATCH], "Operations": [{"op": "replace", "path": "nosuchattribute", "value": 1}]}
    assert scim.patch(f"/Users/{user_id}", json=bad).status_code == 400
    assert scim.delete(f"/Users/{user_id}").status_code == 204
    entries = admin.call("GET", f"/tenants/{tenant}/log?resourceId={user_id}").get_json()["entries"]
    assert [(e["method"], e["status"], e["userName"], e["externalId"]) for e in entries] == [
        ("DELETE", 204, "eve@example.com", "e-eve"), ("PATCH", 400, "eve@example.com", "e-eve"),
        ("POST", 201, "eve@example.com", "e-eve")]
    assert entries[1]["scimType"] in ("invalidPath", "noTarget", "invalidValue") and entries[1]["detail"]


def test_hashed_identities_are_found_by_the_value_but_never_stored(make_app, tenant):
    app = make_app(SCIM_ADMIN_TOKENS=(ADMIN_TOKEN,), SCIM_LOG_BACKGROUND=False, SCIM_LOG_IDENTITIES="hashed")
    require_operations(app)
    admin = AdminClient(app)
    scim = tenant_client(app, admin, tenant)
    scim.post("/Users", json=user("Grace@Example.com", externalId="g-1", displayName="Grace H"))
    scim.post("/Users", json=user("grace@example.com"))
    answer = admin.call("GET", f"/tenants/{tenant}/log").get_data(as_text=True)
    assert "race" not in answer.lower() and "g-1" not in answer
    entries = json.loads(answer)["entries"]
    assert all(re.fullmatch(r"h:[0-9a-f]{16}", e["userName"]) for e in entries)
    assert entries[0]["userName"] == entries[1]["userName"]  # the same user, whatever the case
    assert len(_statuses(admin, tenant, "q=GRACE@example.com")) == 2
    assert _statuses(admin, tenant, f"q={entries[1]['externalId']}") == [("POST", 201)]
    assert _statuses(admin, tenant, "q=grace") == []  # a hash matches the whole value only
    assert "409" in cli(app, "log", "--tenant", tenant, "--search", "grace@example.com")


def test_identities_can_be_left_out(make_app, tenant):
    app = make_app(SCIM_ADMIN_TOKENS=(ADMIN_TOKEN,), SCIM_LOG_BACKGROUND=False, SCIM_LOG_IDENTITIES="none")
    require_operations(app)
    admin = AdminClient(app)
    scim = tenant_client(app, admin, tenant)
    scim.post("/Users", json=user("hidden@example.com", externalId="x-1"))
    scim.post("/Users", json=user("hidden@example.com"))
    entries = admin.call("GET", f"/tenants/{tenant}/log").get_json()["entries"]
    assert [(e["userName"], e["displayName"], e["externalId"]) for e in entries] == [(None, None, None)] * 2
    assert entries[0]["detail"] == TAKEN


def test_hashed_identities_need_a_secret_key(make_app):
    with pytest.raises(ConfigurationError, match="SCIM_LOG_IDENTITIES"):
        make_app(SCIM_LOG_IDENTITIES="hashed", SCIM_SECRET_KEY=None)
    with pytest.raises(ConfigurationError, match="SCIM_LOG_IDENTITIES"):
        make_app(SCIM_LOG_IDENTITIES="some")


def test_bulk_operations_name_their_targets(log_app, tenant):
    admin = AdminClient(log_app)
    scim = tenant_client(log_app, admin, tenant)
    answer = scim.post("/Bulk", json={"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], "Operations": [
        {"method": "POST", "path": "/Users", "bulkId": "u", "data": user("bulk1@example.com")},
        {"method": "POST", "path": "/Groups", "bulkId": "g", "data": {"schemas": [GROUP], "displayName": "Bulk G"}}]})
    assert answer.status_code == 200
    entries = admin.call("GET", f"/tenants/{tenant}/log").get_json()["entries"]
    assert [(e["resourceType"], e["userName"], e["displayName"]) for e in reversed(entries)] == [
        (None, None, None), ("User", "bulk1@example.com", None), ("Group", None, "Bulk G")]
