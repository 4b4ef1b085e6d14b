"""Users and Groups over HTTP: create, read, replace, delete, uniqueness (RFC 7644 §3.3, §3.4.1, §3.5.1, §3.6)."""

from __future__ import annotations

from tests.conftest import ScimClient

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"


def full_user(user_name: str = "bjensen@example.com") -> dict:
    return {
        "schemas": [USER, ENTERPRISE],
        "userName": user_name,
        "externalId": "bjensen",
        "name": {"formatted": "Ms. Barbara J Jensen III", "familyName": "Jensen", "givenName": "Barbara",
                 "middleName": "Jane", "honorificPrefix": "Ms.", "honorificSuffix": "III"},
        "displayName": "Babs Jensen",
        "nickName": "Babs",
        "profileUrl": "https://login.example.com/bjensen",
        "title": "Tour Guide",
        "userType": "Employee",
        "preferredLanguage": "en-US",
        "locale": "en-US",
        "timezone": "America/Los_Angeles",
        "active": True,
        "password": "t1meMa$heen",
        "emails": [{"value": "bjensen@example.com", "type": "work", "primary": True},
                   {"value": "babs@jensen.org", "type": "home"}],
        "phoneNumbers": [{"value": "555-555-5555", "type": "work"}],
        "ims": [{"value": "someaimhandle", "type": "aim"}],
        "photos": [{"value": "https://photos.example.com/profilephoto/72930000000Ccne/F", "type": "photo"}],
        "addresses": [{"type": "work", "streetAddress": "100 Universal City Plaza", "locality": "Hollywood",
                       "region": "CA", "postalCode": "91608", "country": "USA", "primary": True}],
        "entitlements": [{"value": "dev"}],
        "roles": [{"value": "admin", "primary": True}],
        "x509Certificates": [{"value": "MIIDQzCCAqygAwIBAgICEAAwDQYJKoZIhvcNAQEFBQAw"}],
        ENTERPRISE: {"employeeNumber": "701984", "costCenter": "4130", "organization": "Universal Studios",
                     "division": "Theme Park", "department": "Tour Operations",
                     "manager": {"value": "26118915-6090-4610-87e4-49d8ca9f808d"}},
    }


def strip_server(doc: dict) -> dict:
    return {k: v for k, v in doc.items() if k not in ("id", "meta", "groups", "schemas")}


def test_create_then_get_returns_identical_attributes(client: ScimClient):
    body = full_user()
    created = client.post("/Users", json=body)
    assert created.status_code == 201, created.json
    assert created.mimetype == "application/scim+json"
    doc = created.json
    assert created.headers["Location"] == doc["meta"]["location"]
    assert created.headers["ETag"] == doc["meta"]["version"]
    assert doc["meta"]["resourceType"] == "User"
    fetched = client.get(f"/Users/{doc['id']}")
    assert fetched.status_code == 200
    expected = {k: v for k, v in body.items() if k not in ("schemas", "password")}
    assert strip_server(fetched.json) == expected
    assert "password" not in fetched.json
    assert set(fetched.json["schemas"]) == {USER, ENTERPRISE}
    assert fetched.json["meta"]["location"].endswith(f"/scim/v2/Users/{doc['id']}")


def test_put_changes_version_and_replaces(client: ScimClient):
    doc = client.post("/Users", json=full_user()).json
    replacement = {"schemas": [USER], "userName": "bjensen@example.com", "displayName": "Barbara"}
    replaced = client.put(f"/Users/{doc['id']}", json=replacement)
    assert replaced.status_code == 200, replaced.json
    assert replaced.json["meta"]["version"] != doc["meta"]["version"]
    assert replaced.json["displayName"] == "Barbara"
    # RFC 7644 §3.5.1: attributes left out of a PUT are cleared.
    assert "emails" not in replaced.json and ENTERPRISE not in replaced.json
    assert replaced.json["meta"]["created"] == doc["meta"]["created"]


def test_delete_then_get_is_404(client: ScimClient):
    doc = client.post("/Users", json=full_user()).json
    assert client.delete(f"/Users/{doc['id']}").status_code == 204
    gone = client.get(f"/Users/{doc['id']}")
    assert gone.status_code == 404
    assert gone.json["schemas"] == [ERROR] and gone.json["status"] == "404"
    assert client.delete(f"/Users/{doc['id']}").status_code == 404


def test_duplicate_user_name_in_other_case_is_409(client: ScimClient):
    assert client.post("/Users", json={"schemas": [USER], "userName": "Alice@Example.com"}).status_code == 201
    again = client.post("/Users", json={"schemas": [USER], "userName": "alice@example.COM"})
    assert again.status_code == 409
    assert again.json["scimType"] == "uniqueness" and again.json["status"] == "409"
    assert again.json["detail"]
    listed = client.get('/Users?filter=userName eq "alice@example.com"').json
    assert listed["totalResults"] == 1


def test_filter_miss_is_empty_list_not_404(client: ScimClient):
    response = client.get('/Users?filter=userName+eq+%227d420df3-9995-4831-a406-ecf8166f5f6a%22')
    assert response.status_code == 200
    body = response.json
    assert body["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:ListResponse"]
    assert body["totalResults"] == 0 and body["Resources"] == [] and body["startIndex"] == 1


def test_group_crud_and_member_removed_on_user_delete(client: ScimClient):
    user = client.post("/Users", json={"schemas": [USER], "userName": "member1"}).json
    group = client.post("/Groups", json={"schemas": [GROUP], "displayName": "Admins",
                                         "members": [{"value": user["id"]}]})
    assert group.status_code == 201, group.json
    gid = group.json["id"]
    assert [m["value"] for m in group.json["members"]] == [user["id"]]
    assert group.json["members"][0]["type"] == "User"
    fetched_user = client.get(f"/Users/{user['id']}").json
    assert [g["value"] for g in fetched_user["groups"]] == [gid]
    assert fetched_user["groups"][0]["display"] == "Admins"
    assert client.delete(f"/Users/{user['id']}").status_code == 204
    assert client.get(f"/Groups/{gid}").json.get("members", []) == []
    dup = client.post("/Groups", json={"schemas": [GROUP], "displayName": "admins"})
    assert dup.status_code == 409 and dup.json["scimType"] == "uniqueness"


def test_put_keeps_password_when_omitted_and_never_returns_it(client: ScimClient, app):
    doc = client.post("/Users", json={"schemas": [USER], "userName": "pw", "password": "s3cret!"}).json
    assert "password" not in doc
    client.put(f"/Users/{doc['id']}", json={"schemas": [USER], "userName": "pw", "title": "x"})
    with app.app_context():
        state = app.extensions["scim"]
        from scimflask.model import RequestContext

        stored = state.storage.get(RequestContext(tenant=state.config["SCIM_DEFAULT_TENANT"]), "User", doc["id"])
    from scimflask.passwords import verify_password

    assert stored.data["password"] != "s3cret!"
    assert verify_password("s3cret!", stored.data["password"])
