"""Every HTTP method on every endpoint: allowed ones are served, others get a SCIM 405."""

from __future__ import annotations

import pytest

from scimflask.protocol.messages import ERROR as ERROR_SCHEMA

from ..conftest import ScimClient

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
# endpoint -> the methods it serves (ids filled in from a seeded User)
ENDPOINTS = {
    "/Users": ("GET", "POST"),
    "/Users/{user}": ("GET", "PUT", "PATCH", "DELETE"),
    "/Groups": ("GET", "POST"),
    "/Groups/{user}": ("GET", "PUT", "PATCH", "DELETE"),
    "/Users/.search": ("POST",),
    "/Groups/.search": ("POST",),
    "/.search": ("POST",),
    "/Bulk": ("POST",),
    "/ServiceProviderConfig": ("GET",),
    "/ResourceTypes": ("GET",),
    "/ResourceTypes/User": ("GET",),
    "/Schemas": ("GET",),
    f"/Schemas/{USER}": ("GET",),
    "/openapi.json": ("GET",),
}
pytestmark = pytest.mark.parametrize("backend", ["memory"], indirect=True)  # routing, not storage
PAIRS = [(endpoint, method) for endpoint, allowed in ENDPOINTS.items() for method in METHODS if method not in allowed]


@pytest.fixture
def user_id(client) -> str:
    return client.post("/Users", json={"schemas": [USER], "userName": "methods"}).json["id"]


@pytest.mark.parametrize("endpoint, method", PAIRS, ids=[f"{m} {e}" for e, m in PAIRS])
def test_unsupported_method_is_scim_405(client, user_id, endpoint, method):
    path = endpoint.replace("{user}", user_id)
    answer = client.request(method, path, json={} if method in ("POST", "PUT", "PATCH") else None)
    assert answer.status_code == 405, answer.get_data(as_text=True)
    assert answer.json["schemas"] == [ERROR_SCHEMA] and answer.json["status"] == "405"
    assert answer.headers["Allow"] == ", ".join(ENDPOINTS[endpoint])
    assert client.get(f"/Users/{user_id}").status_code == 200


@pytest.mark.parametrize("method", METHODS)
def test_me_without_a_mapped_user_is_501(client, method):
    answer = client.request(method, "/Me", json={} if method in ("POST", "PUT", "PATCH") else None)
    assert answer.status_code == 501 and answer.json["status"] == "501"


@pytest.mark.parametrize("method", METHODS)
def test_every_method_without_credentials_is_401(app, method):
    answer = ScimClient(app, token=None).request(method, "/Users")
    assert answer.status_code == 401 and answer.json["status"] == "401"
    assert answer.headers["WWW-Authenticate"].startswith("Bearer")
