"""`/Me` (RFC 7644 §3.11): an alias of the credential's own User, or 501."""

from __future__ import annotations

from scimflask import hookimpl
from scimflask.auth import Principal
from tests.conftest import ScimClient

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def test_me_without_a_user_is_501(client: ScimClient):
    response = client.get("/Me")
    assert response.status_code == 501 and response.json["status"] == "501"


def test_me_is_the_mapped_user(make_app):
    mapping: dict = {}

    class SelfService:
        @hookimpl
        def scimflask_authenticate(self, request, config):
            if request.headers.get("Authorization") == "Bearer self-service":
                return Principal(tenant=config["SCIM_DEFAULT_TENANT"], token_id="self", user_id=mapping.get("id"))
            return None

    app = make_app(SCIM_PLUGINS=(SelfService(),))
    admin = ScimClient(app)
    mapping["id"] = admin.post("/Users", json={"schemas": [USER], "userName": "me@example.com"}).json["id"]
    me = ScimClient(app, token="self-service")
    response = me.get("/Me")
    assert response.status_code == 200 and response.json["id"] == mapping["id"]
    patched = me.patch("/Me", json={"schemas": [PATCH_OP], "Operations": [
        {"op": "replace", "path": "displayName", "value": "Me Myself"}]})
    assert patched.status_code == 200 and patched.json["displayName"] == "Me Myself"
    assert admin.get(f"/Users/{mapping['id']}").json["displayName"] == "Me Myself"
    assert me.post("/Me", json={"schemas": [USER], "userName": "x"}).status_code == 501
