"""The OpenAPI description: valid OpenAPI 3.1, served under the prefix, and true to the catalog."""

from __future__ import annotations

import re

import pytest
from openapi_spec_validator import validate

from scimflask.openapi import build_openapi
from scimflask.schema.catalog import NEVER, READ_ONLY, WRITE_ONLY, iter_attributes

from ..conftest import ScimClient

pytestmark = pytest.mark.parametrize("backend", ["memory"], indirect=True)


@pytest.fixture
def document(client) -> dict:
    answer = client.get("/openapi.json")
    assert answer.status_code == 200 and answer.mimetype == "application/json"
    return answer.json


def test_document_is_valid_openapi_31(document):
    assert document["openapi"].startswith("3.1")
    validate(document)


def test_document_needs_the_bearer_token(app):
    answer = ScimClient(app, token=None).get("/openapi.json")
    assert answer.status_code == 401 and answer.json["status"] == "401"
    assert "WWW-Authenticate" in answer.headers


def test_other_methods_are_405(client):
    answer = client.post("/openapi.json", json={})
    assert answer.status_code == 405 and answer.headers["Allow"] == "GET" and answer.json["status"] == "405"


def test_every_served_route_is_described(app, document):
    prefix = "/scim/v2"
    described = {re.sub(r"\{[^}]+\}", "<>", path) for path in document["paths"]}
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith(prefix) or "<path:unknown>" in rule.rule:
            continue
        route = re.sub(r"<[^>]+>", "<>", rule.rule[len(prefix):])
        assert route in described, f"{rule.rule} is served but not described"


def _resolve(document: dict, schema: dict) -> dict:
    while "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def _property(schema: dict, attribute, sub=None) -> dict | None:
    found = schema["properties"].get(attribute.name)
    if found is None or sub is None:
        return found
    inner = found["items"] if attribute.multi_valued else found
    return inner["properties"].get(sub.name)


def test_schemas_follow_every_attribute_definition(app, document):
    state = app.extensions["scim"]
    components = document["components"]["schemas"]
    for rt in state.catalog.resource_types:
        request_schema, response_schema = components[f"{rt.name}Request"], components[rt.name]
        for urn in rt.schema_ids:
            request_scope, response_scope = request_schema, response_schema
            if urn != rt.schema:
                request_scope, response_scope = request_schema["properties"][urn], response_schema["properties"][urn]
            for attribute, sub in iter_attributes(state.catalog.attributes(rt, urn)):
                definition = sub or attribute
                described = _property(request_scope, attribute, sub)
                assert described is not None, (rt.name, urn, attribute.name, sub)
                assert described.get("readOnly", False) == (definition.mutability == READ_ONLY)
                assert described.get("writeOnly", False) == (definition.mutability == WRITE_ONLY)
                assert (described.get("type") == "array") == definition.multi_valued
                hidden = definition.returned == NEVER or definition.mutability == WRITE_ONLY
                hidden = hidden or (sub is not None and (attribute.returned == NEVER))
                assert (_property(response_scope, attribute, sub) is None) == hidden, (attribute.name, sub)
                if sub is None and urn == rt.schema and attribute.required and attribute.mutability != READ_ONLY:
                    assert attribute.name in request_schema["required"]


def test_document_follows_the_configuration(make_app):
    app = make_app(SCIM_URL_PREFIX="/identity", SCIM_MAX_PAYLOAD_BYTES=5000)
    state = app.extensions["scim"]
    document = build_openapi(state.catalog, state.config, "1")
    assert document["servers"] == [{"url": "/identity"}]
    assert "5000 bytes" in document["info"]["description"]
    assert ScimClient(app, prefix="/identity").get("/openapi.json").json["servers"] == [{"url": "/identity"}]
