"""Bad input gets an RFC 7644 §3.12 error and changes nothing."""

from __future__ import annotations

import json

import pytest

from tests.conftest import TOKEN, ScimClient

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
AUTH = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/scim+json"}


def assert_scim_error(response, status: int, scim_type: str | None = None) -> None:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/scim+json"
    body = response.json
    assert body["schemas"] == [ERROR]
    assert body["status"] == str(status)
    assert body.get("detail")
    if scim_type is not None:
        assert body.get("scimType") == scim_type
    assert "Traceback" not in response.get_data(as_text=True)


def snapshot(client: ScimClient) -> list:
    users = client.get("/Users?count=1000").json["Resources"]
    groups = client.get("/Groups?count=1000").json["Resources"]
    return sorted(json.dumps(r, sort_keys=True) for r in users + groups)


@pytest.fixture
def seeded(client: ScimClient):
    user = client.post("/Users", json={"schemas": [USER], "userName": "seed", "active": True}).json
    return client, user


RAW_BODIES = [
    (b"{", 400, "invalidSyntax"),
    (b"not json", 400, "invalidSyntax"),
    (b"[]", 400, "invalidSyntax"),
    (b'"a string"', 400, "invalidSyntax"),
    (b"", 400, "invalidSyntax"),
    (b"\xff\xfe{}", 400, "invalidSyntax"),
    (b'{"schemas": ["' + USER.encode() + b'"], "userName": NaN}', 400, "invalidSyntax"),
    (b"[" * 5000 + b"]" * 5000, 400, "invalidSyntax"),
]


@pytest.mark.parametrize("raw,status,scim_type", RAW_BODIES)
def test_malformed_bodies_on_create(seeded, raw, status, scim_type):
    client, _ = seeded
    before = snapshot(client)
    response = client.client.post("/scim/v2/Users", data=raw, headers=AUTH)
    assert_scim_error(response, status, scim_type)
    assert snapshot(client) == before


@pytest.mark.parametrize("method", ["PUT", "PATCH"])
@pytest.mark.parametrize("raw", [b"{", b"[1]", b"null"])
def test_malformed_bodies_on_update(seeded, method, raw):
    client, user = seeded
    before = snapshot(client)
    response = client.client.open(f"/scim/v2/Users/{user['id']}", method=method, data=raw, headers=AUTH)
    assert_scim_error(response, 400, "invalidSyntax")
    assert snapshot(client) == before


WRONG_TYPES = [
    {"userName": 42},
    {"userName": ["a", "b"]},
    {"userName": "x", "active": "maybe"},
    {"userName": "x", "active": 1},
    {"userName": "x", "name": "Barbara"},
    {"userName": "x", "name": {"givenName": 5}},
    {"userName": "x", "emails": 5},
    {"userName": "x", "emails": [{"value": 7}]},
    {"userName": "x", "emails": [{"value": "a@b.c", "primary": "perhaps"}]},
    {"userName": "x", "emails": [{"value": "a@b", "primary": True}, {"value": "b@c", "primary": True}]},
    {"userName": "x", "x509Certificates": [{"value": "not base64!!"}]},
    {"userName": "x", "profileUrl": {"a": 1}},
    {"userName": "x", "unknownAttribute": "y"},
    {"userName": "x", "emails": [{"value": "a@b.c", "colour": "red"}]},
    {"userName": "x", "title": "nul\u0000byte"},
    {"userName": ""},
    {},
]


@pytest.mark.parametrize("attributes", WRONG_TYPES)
def test_wrong_types_and_unknown_attributes(seeded, attributes):
    client, _ = seeded
    before = snapshot(client)
    response = client.post("/Users", json={"schemas": [USER], **attributes})
    assert_scim_error(response, 400)
    assert response.json["scimType"] in ("invalidValue", "invalidSyntax")
    assert snapshot(client) == before


def test_wrong_schemas(seeded):
    client, _ = seeded
    before = snapshot(client)
    for schemas in (None, [], ["urn:ietf:params:scim:schemas:core:2.0:Group"], "urn:x", [5]):
        body = {"userName": "new"} if schemas is None else {"schemas": schemas, "userName": "new"}
        assert_scim_error(client.post("/Users", json=body), 400, "invalidSyntax")
    assert snapshot(client) == before


def test_wrong_types_on_put_change_nothing(seeded):
    client, user = seeded
    before = snapshot(client)
    response = client.put(f"/Users/{user['id']}", json={"schemas": [USER], "userName": "seed", "active": "x"})
    assert_scim_error(response, 400, "invalidValue")
    assert snapshot(client) == before


def test_unsupported_content_type_is_415(seeded):
    client, _ = seeded
    response = client.client.post("/scim/v2/Users", data="userName=x",
                                  headers={"Authorization": AUTH["Authorization"],
                                           "Content-Type": "application/x-www-form-urlencoded"})
    assert_scim_error(response, 415)


def test_application_json_and_charset_are_accepted(seeded):
    client, _ = seeded
    for content_type in ("application/json", "application/json; charset=utf-8",
                         "application/scim+json; charset=utf-8"):
        name = f"ct-{len(content_type)}"
        response = client.client.post("/scim/v2/Users", data=json.dumps({"schemas": [USER], "userName": name}),
                                      headers={"Authorization": AUTH["Authorization"], "Content-Type": content_type})
        assert response.status_code == 201, response.json


def test_get_without_accept_or_content_type(seeded):
    client, _ = seeded
    response = client.client.get("/scim/v2/Users", headers={"Authorization": AUTH["Authorization"], "Accept": "*/*"})
    assert response.status_code == 200


def test_payload_too_large_is_413(make_app):
    client = ScimClient(make_app(SCIM_MAX_PAYLOAD_BYTES=1000))
    response = client.post("/Users", json={"schemas": [USER], "userName": "big", "title": "x" * 5000})
    assert_scim_error(response, 413)


@pytest.mark.parametrize("method,path,allowed", [
    ("DELETE", "/Users", "GET, POST"),
    ("PUT", "/Users", "GET, POST"),
    ("POST", "/Users/abc", "GET, PUT, PATCH, DELETE"),
    ("POST", "/Schemas", "GET"),
    ("DELETE", "/ServiceProviderConfig", "GET"),
    ("GET", "/Bulk", "POST"),
    ("GET", "/.search", "POST"),
    ("PATCH", "/ResourceTypes", "GET"),
])
def test_wrong_method_is_405_with_scim_body(client: ScimClient, method, path, allowed):
    response = client.request(method, path)
    assert_scim_error(response, 405)
    assert response.headers["Allow"] == allowed


def test_unknown_method_under_prefix_is_405_scim(app):
    response = app.test_client().open("/scim/v2/Users", method="BREW", headers=AUTH)
    assert_scim_error(response, 405)


def test_unknown_endpoint_is_404_scim(client: ScimClient):
    assert_scim_error(client.get("/Nothing/here"), 404)


def test_missing_resource_errors(client: ScimClient):
    assert_scim_error(client.get("/Users/does-not-exist"), 404)
    assert_scim_error(client.put("/Users/does-not-exist", json={"schemas": [USER], "userName": "x"}), 404)
    assert_scim_error(client.patch("/Users/does-not-exist", json={
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "path": "title", "value": "x"}]}), 404)
    assert_scim_error(client.delete("/Users/does-not-exist"), 404)


def test_invalid_filter_is_400(client: ScimClient):
    assert_scim_error(client.get('/Users?filter=userName eq'), 400, "invalidFilter")
    assert_scim_error(client.get('/Users?filter=nosuchattr eq "x"'), 400, "invalidFilter")


def test_host_app_error_pages_are_untouched(make_app):
    app = make_app()

    @app.route("/hello")
    def hello():
        return "hi"

    client = app.test_client()
    assert client.get("/elsewhere").status_code == 404
    assert client.get("/elsewhere").mimetype == "text/html"
    assert client.post("/hello").status_code == 405
    assert client.post("/hello").mimetype == "text/html"


def test_unexpected_exception_is_generic_500(make_app):
    from scimflask import hookimpl

    class Boom:
        @hookimpl
        def scimflask_authenticate(self, request, config):
            raise RuntimeError("secret internal detail")

    app = make_app(SCIM_PLUGINS=(Boom(),))
    app.config["PROPAGATE_EXCEPTIONS"] = False
    response = app.test_client().get("/scim/v2/Users", headers=AUTH)
    assert_scim_error(response, 500)
    assert "secret internal detail" not in response.get_data(as_text=True)
