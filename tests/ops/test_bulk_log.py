"""A Bulk request's failed operations are logged one by one: each names its target (from the
operation's data, or the log for one that carries none) and why it failed, so an admin can see
which user failed, in the admin API too."""

from __future__ import annotations

from .conftest import tenant_client

CORE = "urn:ietf:params:scim:schemas:core:2.0:User"
BULK = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
TAKEN = "userName is already in use by another User"


def bulk(*operations: dict) -> dict:
    return {"schemas": [BULK], "Operations": list(operations)}


def post(bulk_id: str, name: str) -> dict:
    return {"method": "POST", "path": "/Users", "bulkId": bulk_id,
            "data": {"schemas": [CORE], "userName": name, "externalId": f"ext-{bulk_id}"}}


def test_a_failed_operation_is_an_entry_of_its_own(ops_app, admin, tenant):
    scim = tenant_client(ops_app, admin, tenant)
    assert scim.post("/Users", json={"schemas": [CORE], "userName": "taken@example.com"}).status_code == 201
    answer = scim.post("/Bulk", json=bulk(post("good", "new@example.com"), post("dup", "taken@example.com")))
    assert answer.status_code == 200
    assert [op["status"] for op in answer.get_json()["Operations"]] == ["201", "409"]

    entries = admin.call("GET", f"/tenants/{tenant}/log").get_json()["entries"]
    logged = [(e["method"], e["path"], e["status"], e["outcome"], e["userName"], e["externalId"])
              for e in reversed(entries)][1:]  # after the single create
    new_id = answer.get_json()["Operations"][0]["location"].rsplit("/", 1)[1]
    assert logged == [("POST", "/Bulk", 200, "success", None, None),
                      ("POST", f"/Users/{new_id}", 201, "success", "new@example.com", "ext-good"),
                      ("POST", "/Users", 409, "failure", "taken@example.com", "ext-dup")]
    failed = entries[0]
    assert (failed["resourceType"], failed["resourceId"]) == ("User", None)
    assert (failed["scimType"], failed["detail"]) == ("uniqueness", TAKEN)
    assert failed["requestId"] == entries[1]["requestId"] == answer.headers["X-Request-Id"]

    failures = admin.call("GET", f"/tenants/{tenant}/log?outcome=failure").get_json()["entries"]
    assert [(e["userName"], e["status"], e["scimType"], e["detail"]) for e in failures] == [
        ("taken@example.com", 409, "uniqueness", TAKEN)]


def test_failed_operations_name_their_path_with_the_references_that_resolved(ops_app, admin, tenant):
    scim = tenant_client(ops_app, admin, tenant)
    answer = scim.post("/Bulk", json=bulk(
        post("ok", "ok@example.com"),
        {"method": "PATCH", "path": "/Users/bulkId:ok",
         "data": {"schemas": [PATCH], "Operations": [{"op": "frobnicate", "path": "title"}]}},
        {"method": "POST", "path": "/Users", "bulkId": "bad", "data": {"schemas": [CORE]}},
        {"method": "DELETE", "path": "/Users/bulkId:bad"}))
    assert [op["status"] for op in answer.get_json()["Operations"]] == ["201", "400", "400", "409"]
    ok_id = answer.get_json()["Operations"][0]["location"].rsplit("/", 1)[1]

    failures = admin.call("GET", f"/tenants/{tenant}/log?outcome=failure").get_json()["entries"]
    assert [(e["method"], e["path"], e["status"], e["resourceId"], e["userName"]) for e in reversed(failures)] == [
        # the PATCH carries no identity: the log's entry of the create before it names the user
        ("PATCH", f"/Users/{ok_id}", 400, ok_id, "ok@example.com"),
        ("POST", "/Users", 400, None, None),
        ("DELETE", "/Users/bulkId:bad", 409, None, None)]
    assert all(e["detail"] for e in failures)
    assert "names no operation that succeeded" in failures[0]["detail"]
