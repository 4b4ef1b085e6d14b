"""POST /Bulk over HTTP (RFC 7644 §3.7); the scheduler alone is tested in tests/protocol/test_bulk_runner.py."""

from __future__ import annotations

from tests.conftest import ScimClient

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
BULK = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
BULK_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:BulkResponse"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def bulk(client: ScimClient, operations: list, **extra):
    return client.post("/Bulk", json={"schemas": [BULK], "Operations": operations, **extra})


def test_user_and_group_by_bulk_id_in_one_call(client: ScimClient):
    # The group comes first and references a user created later in the same request.
    response = bulk(client, [
        {"method": "POST", "path": "/Groups", "bulkId": "g1",
         "data": {"schemas": [GROUP], "displayName": "Tour Guides", "members": [{"type": "User", "value": "bulkId:u1"}]}},
        {"method": "POST", "path": "/Users", "bulkId": "u1",
         "data": {"schemas": [USER], "userName": "Alice"}},
        {"method": "PATCH", "path": "/Users/bulkId:u1",
         "data": {"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": "title", "value": "Guide"}]}},
    ])
    assert response.status_code == 200, response.json
    body = response.json
    assert body["schemas"] == [BULK_RESPONSE]
    statuses = {op.get("bulkId", op["method"]): op["status"] for op in body["Operations"]}
    assert statuses == {"g1": "201", "u1": "201", "PATCH": "200"}
    group_location = next(op["location"] for op in body["Operations"] if op.get("bulkId") == "g1")
    user_location = next(op["location"] for op in body["Operations"] if op.get("bulkId") == "u1")
    gid, uid = group_location.rsplit("/", 1)[1], user_location.rsplit("/", 1)[1]
    group = client.get(f"/Groups/{gid}").json
    assert [m["value"] for m in group["members"]] == [uid]
    user = client.get(f"/Users/{uid}").json
    assert user["title"] == "Guide" and [g["value"] for g in user["groups"]] == [gid]
    assert all(op.get("version", "").startswith('W/"') for op in body["Operations"] if op["status"] != "204")


def test_fail_on_errors_stops_and_reports_each_operation(client: ScimClient):
    client.post("/Users", json={"schemas": [USER], "userName": "taken"})
    response = bulk(client, [
        {"method": "POST", "path": "/Users", "bulkId": "a", "data": {"schemas": [USER], "userName": "taken"}},
        {"method": "POST", "path": "/Users", "bulkId": "b", "data": {"schemas": [USER], "userName": 5}},
        {"method": "POST", "path": "/Users", "bulkId": "c", "data": {"schemas": [USER], "userName": "never"}},
    ], failOnErrors=2)
    assert response.status_code == 200
    ops = response.json["Operations"]
    assert [op["bulkId"] for op in ops] == ["a", "b"]
    assert ops[0]["status"] == "409" and ops[0]["response"]["scimType"] == "uniqueness"
    assert ops[1]["status"] == "400" and ops[1]["response"]["scimType"] == "invalidValue"
    assert client.get('/Users?filter=userName eq "never"').json["totalResults"] == 0


def test_without_fail_on_errors_everything_runs(client: ScimClient):
    response = bulk(client, [
        {"method": "POST", "path": "/Users", "bulkId": "a", "data": {"schemas": [USER], "userName": 5}},
        {"method": "POST", "path": "/Users", "bulkId": "b", "data": {"schemas": [USER], "userName": "ok"}},
        {"method": "DELETE", "path": "/Users/nope"},
    ])
    assert [op["status"] for op in response.json["Operations"]] == ["400", "201", "404"]


def test_circular_and_self_references_get_409(client: ScimClient):
    response = bulk(client, [
        {"method": "POST", "path": "/Groups", "bulkId": "x",
         "data": {"schemas": [GROUP], "displayName": "X", "members": [{"value": "bulkId:y"}]}},
        {"method": "POST", "path": "/Groups", "bulkId": "y",
         "data": {"schemas": [GROUP], "displayName": "Y", "members": [{"value": "bulkId:x"}]}},
        {"method": "POST", "path": "/Groups", "bulkId": "self",
         "data": {"schemas": [GROUP], "displayName": "S", "members": [{"value": "bulkId:self"}]}},
        {"method": "POST", "path": "/Users", "bulkId": "fine", "data": {"schemas": [USER], "userName": "fine"}},
    ])
    statuses = {op["bulkId"]: op["status"] for op in response.json["Operations"]}
    assert statuses == {"x": "409", "y": "409", "self": "409", "fine": "201"}
    assert client.get("/Groups").json["totalResults"] == 0


def test_reference_to_unknown_or_failed_bulk_id(client: ScimClient):
    response = bulk(client, [
        {"method": "POST", "path": "/Users", "bulkId": "bad", "data": {"schemas": [USER]}},
        {"method": "POST", "path": "/Groups", "bulkId": "g",
         "data": {"schemas": [GROUP], "displayName": "G", "members": [{"value": "bulkId:bad"}]}},
        {"method": "POST", "path": "/Groups", "bulkId": "h",
         "data": {"schemas": [GROUP], "displayName": "H", "members": [{"value": "bulkId:nowhere"}]}},
    ])
    statuses = {op["bulkId"]: op["status"] for op in response.json["Operations"]}
    assert statuses == {"bad": "400", "g": "409", "h": "409"}


def test_limits_are_enforced_and_advertised(make_app):
    client = ScimClient(make_app(SCIM_BULK_MAX_OPERATIONS=2, SCIM_MAX_PAYLOAD_BYTES=4000))
    spc = client.get("/ServiceProviderConfig").json["bulk"]
    assert spc == {"supported": True, "maxOperations": 2, "maxPayloadSize": 4000}
    ops = [{"method": "POST", "path": "/Users", "bulkId": str(i), "data": {"schemas": [USER], "userName": str(i)}}
           for i in range(3)]
    response = bulk(client, ops)
    assert response.status_code == 413 and response.json["status"] == "413"
    big = [{"method": "POST", "path": "/Users", "bulkId": "b", "data": {"schemas": [USER], "userName": "x" * 5000}}]
    assert bulk(client, big).status_code == 413
    assert client.get("/Users").json["totalResults"] == 0


def test_malformed_bulk_requests(client: ScimClient):
    for body in ({"Operations": []}, {"schemas": [BULK]}, {"schemas": [BULK], "Operations": [5]},
                 {"schemas": [BULK], "Operations": [{"method": "GET", "path": "/Users"}]},
                 {"schemas": [BULK], "Operations": [{"method": "POST", "path": "/Users", "data": {}}]},
                 {"schemas": [BULK], "failOnErrors": "x", "Operations": [
                     {"method": "DELETE", "path": "/Users/1"}]}):
        response = client.post("/Bulk", json=body)
        assert response.status_code == 400, body
        assert response.json["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]


def test_paths_are_routed_like_single_requests(client: ScimClient):
    response = bulk(client, [
        {"method": "POST", "path": "/Users", "bulkId": "u", "data": {"schemas": [USER], "userName": "routed"}},
        {"method": "POST", "path": "/Users/bulkId:u", "bulkId": "again", "data": {"schemas": [USER], "userName": "x"}},
        {"method": "PUT", "path": "/Users", "data": {"schemas": [USER], "userName": "x"}},
        {"method": "PATCH", "path": "/Users/bulkId:u/extra", "data": {"schemas": [PATCH_OP], "Operations": []}},
        {"method": "DELETE", "path": "/Nowhere/1"},
    ])
    ops = response.json["Operations"]
    assert [op["status"] for op in ops] == ["201", "405", "405", "404", "404"]
    # Errors quote the path as the client sent it, before its bulkId was replaced.
    assert ops[3]["response"]["detail"] == "no resource endpoint at '/Users/bulkId:u/extra'"
    assert client.get('/Users?filter=userName eq "x"').json["totalResults"] == 0


def test_locations_versions_and_preconditions(client: ScimClient):
    response = bulk(client, [
        {"method": "POST", "path": "/Users", "bulkId": "u", "data": {"schemas": [USER], "userName": "v"}},
        {"method": "PUT", "path": "/Users/bulkId:u", "version": 'W/"1"', "data": {"schemas": [USER], "userName": "v2"}},
        {"method": "PATCH", "path": "/Users/bulkId:u", "version": 'W/"1"',
         "data": {"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": "title", "value": "stale"}]}},
        {"method": "DELETE", "path": "/Users/bulkId:u", "version": 'W/"2"'},
    ])
    created, put, stale, deleted = response.json["Operations"]
    uid = created["location"].rsplit("/", 1)[1]
    location = f"http://localhost/scim/v2/Users/{uid}"
    assert created == {"method": "POST", "location": location, "version": 'W/"1"', "status": "201", "bulkId": "u"}
    assert put == {"method": "PUT", "location": location, "version": 'W/"2"', "status": "200"}
    assert stale["status"] == "412" and "location" not in stale and "version" not in stale
    assert deleted == {"method": "DELETE", "location": location, "status": "204"}
    assert client.get(f"/Users/{uid}").status_code == 404
