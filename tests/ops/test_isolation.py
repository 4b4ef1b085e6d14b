"""Two tenants provision a user with the same userName; each sees and touches only its own,
through every endpoint, filter, /.search, Bulk and the provisioning log."""

from __future__ import annotations

from .conftest import tenant_client

CORE = "urn:ietf:params:scim:schemas:core:2.0:User"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def user(name: str, title: str) -> dict:
    return {"schemas": [CORE], "userName": name, "title": title}


def test_tenants_are_isolated(ops_app, admin, tenant):
    a = tenant_client(ops_app, admin, tenant + "-a")
    b = tenant_client(ops_app, admin, tenant + "-b")
    a_id = a.post("/Users", json=user("same@example.com", "A")).get_json()["id"]
    b_id = b.post("/Users", json=user("same@example.com", "B")).get_json()["id"]
    assert a_id != b_id

    for client, own, other, title in ((a, a_id, b_id, "A"), (b, b_id, a_id, "B")):
        listed = client.get("/Users").get_json()
        assert [r["id"] for r in listed["Resources"]] == [own]
        found = client.get('/Users?filter=userName eq "same@example.com"').get_json()
        assert [(r["id"], r["title"]) for r in found["Resources"]] == [(own, title)]
        searched = client.post("/.search", json={
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
            "filter": 'userName eq "same@example.com"'}).get_json()
        assert [r["id"] for r in searched["Resources"]] == [own]
        typed = client.post("/Users/.search", json={
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], "filter": f'id eq "{other}"'})
        assert typed.get_json()["totalResults"] == 0
        # the other tenant's resource does not exist for this token, whatever the method
        assert client.get(f"/Users/{other}").status_code == 404
        assert client.put(f"/Users/{other}", json=user("same@example.com", "X")).status_code == 404
        assert client.patch(f"/Users/{other}", json={"schemas": [PATCH], "Operations": [
            {"op": "replace", "path": "title", "value": "X"}]}).status_code == 404
        assert client.delete(f"/Users/{other}").status_code == 404
        bulk = client.post("/Bulk", json={
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
            "Operations": [{"method": "DELETE", "path": f"/Users/{other}"},
                           {"method": "PATCH", "path": f"/Users/{other}", "data": {
                               "schemas": [PATCH], "Operations": [{"op": "replace", "path": "title", "value": "X"}]}}]})
        assert [op["status"] for op in bulk.get_json()["Operations"]] == ["404", "404"]
        # a Group of this tenant cannot take the other tenant's user as member
        group = client.post("/Groups", json={"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                                             "displayName": "g", "members": [{"value": other}]})
        assert group.status_code == 400

    assert a.get(f"/Users/{a_id}").get_json()["title"] == "A"
    assert b.get(f"/Users/{b_id}").get_json()["title"] == "B"

    for name, own, other in ((tenant + "-a", a_id, b_id), (tenant + "-b", b_id, a_id)):
        entries = admin.call("GET", f"/tenants/{name}/log?limit=1000").get_json()["entries"]
        assert entries and all(e["tenant"] == name for e in entries)
        ids = {e["resourceId"] for e in entries}
        assert own in ids
        # the other tenant's id appears only as the target of this tenant's refused requests
        assert all(e["outcome"] == "failure" for e in entries if e["resourceId"] == other)
