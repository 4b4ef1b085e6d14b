"""The provisioning log: Entra ID's write sequence step by step, naming each target and why a
request failed, without any other value and never a password."""

from __future__ import annotations

import json
import logging
import time

import pytest

from scimflask.storage.capabilities import LogEntry, LogQuery

from .conftest import tenant_client

CORE = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def patch(*operations: dict) -> dict:
    return {"schemas": [PATCH], "Operations": list(operations)}


def test_entra_write_sequence(ops_app, admin, tenant, caplog):
    name = tenant + "-entra"
    scim = tenant_client(ops_app, admin, name)
    new_user = {"schemas": [CORE, ENTERPRISE], "externalId": "ext-1", "userName": "Test_User_1@contoso.com",
                "active": True, "password": "Hunter2-secret!", "displayName": "Test User",
                "emails": [{"primary": True, "type": "work", "value": "Test_User_1@contoso.com"}],
                "name": {"givenName": "Test", "familyName": "User"},
                ENTERPRISE: {"department": "Dept-Secret-42"}}
    with caplog.at_level(logging.INFO, logger="scimflask.audit"):
        assert scim.get('/Users?filter=userName+eq+"Test_User_1@contoso.com"').status_code == 200
        user_id = scim.post("/Users", json=new_user).get_json()["id"]
        assert scim.post("/Users", json=new_user).status_code == 409
        assert scim.patch(f"/Users/{user_id}", json=patch(
            {"op": "Replace", "path": "displayName", "value": "Renamed"},
            {"op": "Add", "path": 'emails[type eq "work"].value', "value": "new@contoso.com"},
            {"op": "replace", "path": "password", "value": "Another-secret-9"})).status_code == 200
        group_id = scim.post("/Groups", json={"schemas": [GROUP], "externalId": "g-1",
                                              "displayName": "Sales"}).get_json()["id"]
        assert scim.patch(f"/Groups/{group_id}", json=patch(
            {"op": "Add", "path": "members", "value": [{"value": user_id}]})).status_code in (200, 204)
        assert scim.patch(f"/Users/{user_id}", json=patch(
            {"op": "Replace", "path": "active", "value": "False"})).status_code == 200
        assert scim.delete(f"/Users/{user_id}").status_code == 204
        assert scim.delete(f"/Users/{user_id}").status_code == 404

    entries = admin.call("GET", f"/tenants/{name}/log").get_json()["entries"]
    steps = [(e["method"], e["path"].split("/")[1], e["status"], e["outcome"], e["changed"], e["scimType"],
              e["detail"]) for e in reversed(entries)]
    assert steps == [
        ("POST", "Users", 201, "success",
         sorted(["externalId", "userName", "active", "displayName", "emails", "name", ENTERPRISE]), None, None),
        ("POST", "Users", 409, "failure", [], "uniqueness", "userName is already in use by another User"),
        ("PATCH", "Users", 200, "success", ["displayName", "emails"], None, None),
        ("POST", "Groups", 201, "success", ["displayName", "externalId"], None, None),
        ("PATCH", "Groups", entries[3]["status"], "success", ["members"], None, None),
        ("PATCH", "Users", 200, "success", ["active"], None, None),
        ("DELETE", "Users", 204, "success", [], None, None),
        ("DELETE", "Users", 404, "failure", [], None, f"User '{user_id}' not found"),
    ]
    # Who: the target as it was at each write; the failed create names it from its body, the
    # DELETEs (which carry no document) from the user's latest entry.
    targets = [(e["userName"], e["displayName"], e["externalId"]) for e in reversed(entries)]
    user, renamed, group = ("Test_User_1@contoso.com", "Test User", "ext-1"), \
        ("Test_User_1@contoso.com", "Renamed", "ext-1"), (None, "Sales", "g-1")
    assert targets == [user, user, renamed, group, group, renamed, renamed, renamed]
    assert all(e["resourceId"] in (user_id, group_id) for e in entries if e["status"] != 409)
    assert {e["tokenId"] for e in entries} == {admin.call("GET", f"/tenants/{name}/tokens").get_json()["tokens"][0]["id"]}
    audit_lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "scimflask.audit"]
    assert [line["id"] for line in audit_lines] == [e["id"] for e in reversed(entries)]
    assert all(line["requestId"] and isinstance(line["durationMs"], int) for line in audit_lines)
    everything = json.dumps(entries) + caplog.text
    for secret in ("Hunter2", "Another-secret", "password", "Dept-Secret-42", "new@contoso.com", "givenName"):
        assert secret not in everything

    # paging: `before` continues below the last entry seen
    first = admin.call("GET", f"/tenants/{name}/log?limit=3").get_json()["entries"]
    rest = admin.call("GET", f"/tenants/{name}/log?limit=100&before={first[-1]['id']}").get_json()["entries"]
    assert [e["id"] for e in first + rest] == [e["id"] for e in entries]
    assert admin.call("GET", f"/tenants/{name}/log?limit=x").status_code == 400
    assert first == admin.call("GET", f"/tenants/{name}/log?limit=3").get_json()["entries"]
    assert admin.call("GET", f"/tenants/{name}/log?limit=3").get_json()["next"] == first[-1]["id"]


def test_bulk_writes_are_logged_one_by_one(ops_app, admin, tenant):
    scim = tenant_client(ops_app, admin, tenant + "-bulk")
    answer = scim.post("/Bulk", json={"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
                                      "Operations": [
        {"method": "POST", "path": "/Users", "bulkId": "u", "data": {"schemas": [CORE], "userName": "bulk1"}},
        {"method": "POST", "path": "/Groups", "bulkId": "g", "data": {"schemas": [GROUP], "displayName": "G",
                                                        "members": [{"value": "bulkId:u"}]}}]})
    assert answer.status_code == 200
    entries = admin.call("GET", f"/tenants/{tenant}-bulk/log").get_json()["entries"]
    assert [(e["method"], e["resourceType"], e["status"]) for e in reversed(entries)] == [
        ("POST", None, 200), ("POST", "User", 201), ("POST", "Group", 201)]


def test_reads_are_logged_only_when_asked(make_app, tenant):
    from tests.conftest import ScimClient

    from .conftest import ADMIN_TOKEN, AdminClient, require_operations

    app = make_app(SCIM_ADMIN_TOKENS=(ADMIN_TOKEN,), SCIM_LOG_READS=True)
    require_operations(app)
    admin = AdminClient(app)
    ScimClient(app).get("/Users?filter=userName eq \"x\"")
    entries = admin.call("GET", f"/tenants/{tenant}/log").get_json()["entries"]
    assert [(e["method"], e["path"], e["resourceType"]) for e in entries] == [("GET", "/Users", "User")]


def test_a_failing_log_never_fails_the_request(ops_app, admin, tenant, monkeypatch, caplog):
    scim = tenant_client(ops_app, admin, tenant + "-f")
    storage = ops_app.extensions["scim"].storage

    def broken(entry: LogEntry) -> None:
        raise RuntimeError("log store is down")

    monkeypatch.setattr(storage, "append_log", broken)
    monkeypatch.setattr(storage, "append_logs", lambda entries: broken(entries[0]))
    response = scim.post("/Users", json={"schemas": [CORE], "userName": "still-works"})
    assert response.status_code == 201
    ops_app.extensions["scim"].log.flush()  # the background writer's turn, now
    assert "could not store 1 entry" in caplog.text


@pytest.mark.parametrize("background", [True, False])
def test_entries_are_stored_once_each_in_the_background_or_within_the_request(make_app, tenant, background):
    from tests.conftest import ScimClient

    from .conftest import require_operations

    app = make_app(SCIM_LOG_BACKGROUND=background)
    require_operations(app)
    state = app.extensions["scim"]
    stored: list[list] = []
    original = state.storage.append_logs
    state.storage.append_logs = lambda entries: (original(entries), stored.append(list(entries)))[0]
    client = ScimClient(app)
    for index in range(20):
        assert client.post("/Users", json={"schemas": [CORE], "userName": f"bg{index}"}).status_code == 201
    if background:
        # Nothing stored inside the requests themselves unless the writer already ran; all of it
        # within a moment, in fewer writes than entries.
        deadline = time.monotonic() + 5
        while sum(len(batch) for batch in stored) < 20 and time.monotonic() < deadline:
            time.sleep(0.01)
    else:
        assert [len(batch) for batch in stored] == [1] * 20
    assert sum(len(batch) for batch in stored) == 20
    found = state.log.query(tenant, LogQuery(limit=100))
    assert sorted(e.path for e in found if e.method == "POST") == ["/Users"] * 20


def test_retention_keeps_the_newest_entries(make_app, tenant, monkeypatch):
    from scimflask.ops import provisioning_log
    from tests.conftest import ScimClient

    from .conftest import ADMIN_TOKEN, AdminClient, require_operations

    monkeypatch.setattr(provisioning_log, "PRUNE_EVERY", 1)
    app = make_app(SCIM_ADMIN_TOKENS=(ADMIN_TOKEN,), SCIM_LOG_MAX_ENTRIES_PER_TENANT=3)
    require_operations(app)
    client = ScimClient(app)
    for index in range(6):
        client.post("/Users", json={"schemas": [CORE], "userName": f"r{index}"})
    entries = AdminClient(app).call("GET", f"/tenants/{tenant}/log").get_json()["entries"]
    assert len(entries) == 3  # pruned after each append
    assert entries[0]["path"] == "/Users" and entries[0]["status"] == 201
