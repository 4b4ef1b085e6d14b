"""`/ServiceProviderConfig`, `/ResourceTypes`, `/Schemas` (RFC 7643 §5-7, RFC 7644 §4)."""

from __future__ import annotations

from scimflask.schema.tolerances import TOLERANCES
from tests.conftest import ScimClient

LIST = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
TYPES = {"string", "boolean", "decimal", "integer", "dateTime", "binary", "reference", "complex"}
MUTABILITY = {"readOnly", "readWrite", "immutable", "writeOnly"}
RETURNED = {"always", "never", "default", "request"}
UNIQUENESS = {"none", "server", "global"}
SPC_EXTENSION = "urn:scimflask:params:scim:schemas:extension:2.0:ServiceProviderConfig"


def check_attribute(attr: dict, where: str) -> None:
    """RFC 7643 §7: the characteristics every attribute definition carries."""
    for key in ("name", "type", "multiValued", "description", "required", "mutability", "returned"):
        assert key in attr, f"{where}.{attr.get('name')} lacks {key}"
    assert attr["type"] in TYPES
    assert attr["mutability"] in MUTABILITY and attr["returned"] in RETURNED
    if attr["type"] in ("string", "reference", "binary"):
        assert isinstance(attr["caseExact"], bool)
    if "uniqueness" in attr:
        assert attr["uniqueness"] in UNIQUENESS
    if attr["type"] == "complex":
        assert attr["subAttributes"], f"{where}.{attr['name']} is complex without subAttributes"
        for sub in attr["subAttributes"]:
            assert sub["type"] != "complex", "complex attributes cannot nest (RFC 7643 §2.3.8)"
            check_attribute(sub, f"{where}.{attr['name']}")
    else:
        assert "subAttributes" not in attr


def test_service_provider_config_is_complete_and_truthful(client: ScimClient):
    spc = client.get("/ServiceProviderConfig")
    assert spc.status_code == 200
    body = spc.json
    # RFC 7643 §5 exactly: our extension is returned only on request.
    assert body["schemas"] == ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"]
    assert SPC_EXTENSION not in body
    for feature in ("patch", "changePassword", "sort", "etag"):
        assert body[feature] == {"supported": True}
    assert body["bulk"]["supported"] is True and body["bulk"]["maxOperations"] > 0
    assert body["bulk"]["maxPayloadSize"] > 0
    assert body["filter"]["supported"] is True and body["filter"]["maxResults"] > 0
    scheme = body["authenticationSchemes"][0]
    assert scheme["type"] == "oauthbearertoken" and scheme["name"] and scheme["description"]
    assert body["pagination"]["cursor"] is True and body["pagination"]["index"] is True
    assert body["pagination"]["maxPageSize"] == body["filter"]["maxResults"]


def test_spc_reflects_configuration(make_app):
    app = make_app(SCIM_MAX_PAGE_SIZE=50, SCIM_DEFAULT_PAGE_SIZE=10, SCIM_BULK_MAX_OPERATIONS=7)
    body = ScimClient(app).get("/ServiceProviderConfig").json
    assert body["filter"]["maxResults"] == 50 and body["bulk"]["maxOperations"] == 7
    assert body["pagination"]["defaultPageSize"] == 10


def test_spc_extension_advertises_compatibility_on_request(make_app):
    asked = f"/ServiceProviderConfig?attributes={SPC_EXTENSION}"
    lenient = ScimClient(make_app()).get(asked).json
    assert lenient["schemas"] == ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig", SPC_EXTENSION]
    assert lenient[SPC_EXTENSION] == {"compatibility": "lenient", "tolerances": [t.name for t in TOLERANCES],
                                      "maxMultiValues": 100}
    assert lenient["patch"] == {"supported": True}  # the rest of the document is still there
    strict = ScimClient(make_app(SCIM_COMPATIBILITY="strict", SCIM_MAX_MULTI_VALUES=20))
    assert strict.get(asked).json[SPC_EXTENSION] == {
        "compatibility": "strict", "tolerances": [], "maxMultiValues": 20}
    # A sub-attribute asks for it too, in any case, among other names.
    sub = f"/ServiceProviderConfig?attributes=patch,{SPC_EXTENSION.upper()}:compatibility"
    assert strict.get(sub).json[SPC_EXTENSION]["compatibility"] == "strict"
    assert SPC_EXTENSION not in strict.get("/ServiceProviderConfig?attributes=patch").json
    # A server configuration extension, not a resource schema: /Schemas does not list it.
    assert SPC_EXTENSION not in {s["id"] for s in strict.get("/Schemas").json["Resources"]}


def test_resource_types(client: ScimClient):
    body = client.get("/ResourceTypes").json
    assert body["schemas"] == [LIST] and body["totalResults"] == 2
    by_name = {rt["name"]: rt for rt in body["Resources"]}
    assert by_name["User"]["endpoint"] == "/Users"
    assert by_name["User"]["schema"] == "urn:ietf:params:scim:schemas:core:2.0:User"
    assert by_name["User"]["schemaExtensions"] == [
        {"schema": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User", "required": False}]
    assert by_name["Group"]["endpoint"] == "/Groups"
    for rt in body["Resources"]:
        assert rt["meta"]["resourceType"] == "ResourceType"
        one = client.get(f"/ResourceTypes/{rt['id']}")
        assert one.status_code == 200 and one.json == rt
    assert client.get("/ResourceTypes/Nope").status_code == 404


def test_schemas_describe_every_attribute(client: ScimClient):
    body = client.get("/Schemas").json
    ids = {s["id"] for s in body["Resources"]}
    assert ids == {"urn:ietf:params:scim:schemas:core:2.0:User", "urn:ietf:params:scim:schemas:core:2.0:Group",
                   "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"}
    for schema in body["Resources"]:
        assert schema["schemas"] == ["urn:ietf:params:scim:schemas:core:2.0:Schema"]
        assert schema["name"] and schema["attributes"]
        for attr in schema["attributes"]:
            check_attribute(attr, schema["id"])
        one = client.get(f"/Schemas/{schema['id']}")
        assert one.status_code == 200 and one.json == schema
    user = next(s for s in body["Resources"] if s["name"] == "User")
    attrs = {a["name"]: a for a in user["attributes"]}
    assert attrs["password"]["mutability"] == "writeOnly" and attrs["password"]["returned"] == "never"
    assert attrs["userName"]["uniqueness"] == "server" and attrs["userName"]["required"] is True
    assert attrs["groups"]["mutability"] == "readOnly"
    for name in ("emails", "phoneNumbers", "addresses", "ims", "photos", "entitlements", "roles", "x509Certificates"):
        assert attrs[name]["multiValued"] is True
    assert "id" not in attrs  # common attributes are not part of a schema (RFC 7643 §3.1)
    assert client.get("/Schemas/urn:nope").status_code == 404


def test_discovery_refuses_filters(client: ScimClient):
    response = client.get('/Schemas?filter=id eq "x"')
    assert response.status_code == 403


def test_custom_extension_registered_by_hook_is_served(make_app):
    from scimflask import hookimpl
    from scimflask.schema import Attribute, Schema

    urn = "urn:example:params:scim:schemas:extension:acme:2.0:User"

    class Acme:
        @hookimpl
        def scimflask_register_schemas(self, catalog):
            catalog.add_extension("User", Schema(id=urn, name="AcmeUser", description="Acme",
                                                 attributes=(Attribute("badge"),)))

    client = ScimClient(make_app(SCIM_PLUGINS=(Acme(),)))
    assert urn in {s["id"] for s in client.get("/Schemas").json["Resources"]}
    user = client.post("/Users", json={"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", urn],
                                       "userName": "acme1", urn: {"badge": "B-7"}})
    assert user.status_code == 201, user.json
    assert user.json[urn] == {"badge": "B-7"}
    found = client.get(f'/Users?filter={urn}:badge eq "B-7"').json
    assert found["totalResults"] == 1
