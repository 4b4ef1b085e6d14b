"""A resource type a plugin registers is served at its own endpoint, and every URL the server
hands out for it resolves: the create `Location`, `meta.location`, Bulk results and `$ref`s.

`Policy` lives at `/Policies`, an endpoint that is not the type name plus "s", so a URL built
by pluralising the name would answer 404.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from scimflask import hookimpl
from scimflask.schema.catalog import Attribute, ResourceType, Schema
from tests.conftest import ScimClient

POLICY = "urn:example:params:scim:schemas:core:2.0:Policy"
BULK = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"


class PolicyPlugin:
    """Registers the `Policy` resource type, as a third-party plugin would."""

    @hookimpl
    def scimflask_register_schemas(self, catalog) -> None:
        catalog.add_schema(Schema(id=POLICY, name="Policy", description="An access policy.", attributes=(
            Attribute("displayName", required=True, description="The policy's name."),
            Attribute("rule", description="What the policy allows."),
        )))
        catalog.add_resource_type(ResourceType(id="Policy", name="Policy", endpoint="/Policies",
                                               description="Access policies", schema=POLICY))


@pytest.fixture
def client(make_app):
    return ScimClient(make_app(SCIM_PLUGINS=(PolicyPlugin(),)))


def _resolve(client: ScimClient, url: str) -> dict:
    """GET a URL the server handed out; it must name the resource it was given for."""
    path = urlsplit(url).path
    assert path.startswith(client.prefix + "/"), url
    response = client.get(path[len(client.prefix):])
    assert response.status_code == 200, (url, response.get_json())
    return response.get_json()


def test_create_location_and_meta_location_resolve(client):
    created = client.post("/Policies", json={"schemas": [POLICY], "displayName": "weekdays", "rule": "mon-fri"})
    assert created.status_code == 201, created.get_json()
    body = created.get_json()
    assert created.headers["Location"] == body["meta"]["location"]
    assert urlsplit(created.headers["Location"]).path.endswith(f"/Policies/{body['id']}")
    fetched = _resolve(client, created.headers["Location"])
    assert fetched["id"] == body["id"] and fetched["displayName"] == "weekdays"
    assert _resolve(client, fetched["meta"]["location"])["id"] == body["id"]
    listed = client.get('/Policies?filter=displayName eq "weekdays"').get_json()
    assert [r["meta"]["location"] for r in listed["Resources"]] == [body["meta"]["location"]]


def test_bulk_result_locations_resolve(client):
    response = client.post("/Bulk", json={"schemas": [BULK], "Operations": [
        {"method": "POST", "path": "/Policies", "bulkId": "p1",
         "data": {"schemas": [POLICY], "displayName": "night"}},
        {"method": "PUT", "path": "/Policies/bulkId:p1",
         "data": {"schemas": [POLICY], "displayName": "night", "rule": "22-06"}},
        {"method": "PATCH", "path": "/Policies/bulkId:p1",
         "data": {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                  "Operations": [{"op": "replace", "path": "rule", "value": "23-06"}]}},
    ]})
    assert response.status_code == 200, response.get_json()
    results = response.get_json()["Operations"]
    assert [r["status"] for r in results] == ["201", "200", "200"]
    locations = {r["location"] for r in results}
    assert len(locations) == 1
    assert _resolve(client, locations.pop())["rule"] == "23-06"


def test_member_and_group_refs_resolve(client):
    user = client.post("/Users", json={"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                                       "userName": "ref-user"}).get_json()
    inner = client.post("/Groups", json={"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                                         "displayName": "inner"}).get_json()
    outer = client.post("/Groups", json={"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                                         "displayName": "outer",
                                         "members": [{"value": user["id"]}, {"value": inner["id"]}]})
    assert outer.status_code == 201, outer.get_json()
    members = outer.get_json()["members"]
    assert {m["value"]: _resolve(client, m["$ref"])["id"] for m in members} == {
        user["id"]: user["id"], inner["id"]: inner["id"]}
    groups = client.get(f"/Users/{user['id']}").get_json()["groups"]
    assert [_resolve(client, g["$ref"])["displayName"] for g in groups] == ["outer"]


def test_filters_on_locations_use_the_endpoint(client):
    # Backends that answer filters in their own query language build the same URLs.
    policy = client.post("/Policies", json={"schemas": [POLICY], "displayName": "located"}).get_json()
    found = client.get(f'/Policies?filter=meta.location eq "{policy["meta"]["location"]}"').get_json()
    assert [r["id"] for r in found["Resources"]] == [policy["id"]]
    user = client.post("/Users", json={"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                                       "userName": "located-user"}).get_json()
    group = client.post("/Groups", json={"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                                         "displayName": "located-group", "members": [{"value": user["id"]}]}).get_json()
    by_member = client.get(f'/Groups?filter=members.$ref eq "{user["meta"]["location"]}"').get_json()
    assert [r["id"] for r in by_member["Resources"]] == [group["id"]]
    by_group = client.get(f'/Users?filter=groups.$ref eq "{group["meta"]["location"]}"').get_json()
    assert [r["id"] for r in by_group["Resources"]] == [user["id"]]


def test_the_resource_type_is_discoverable_at_its_endpoint(client):
    found = client.get("/ResourceTypes/Policy").get_json()
    assert found["endpoint"] == "/Policies"
    assert _resolve(client, found["meta"]["location"])["id"] == "Policy"
