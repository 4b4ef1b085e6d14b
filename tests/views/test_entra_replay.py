"""Replays of a Microsoft Entra ID provisioning cycle with the exact bodies it sends (from
Microsoft's provisioning documentation and validators), asserting the stored state after every
step; then each Entra tolerance of scimflask.schema.tolerances replayed in both compatibility
modes: accepted when lenient, refused with a SCIM error and nothing changed when strict."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from scimflask.schema import tolerances as t
from tests.conftest import ScimClient

PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


def patch(client: ScimClient, path: str, operations: list, expect=(200, 204)):
    response = client.patch(path, json={"schemas": [PATCH_OP], "Operations": operations})
    assert response.status_code in expect, response.get_data(as_text=True)
    return response


def stored(client: ScimClient, path: str) -> dict:
    response = client.get(path)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.json


def test_entra_user_and_group_cycle(client: ScimClient):
    # Test Connection: a random GUID that matches nobody.
    probe = client.get('/Users?filter=userName+eq+%227d420df3-9995-4831-a406-ecf8166f5f6a%22')
    assert probe.status_code == 200 and probe.json["totalResults"] == 0 and probe.json["Resources"] == []

    # Match query, then create (verbatim create body).
    user_name = "Test_User_ab6490ee-1e48-479e-a20b-2d77186b5dd1"
    miss = client.get(f'/Users?filter=userName eq "{user_name}"').json
    assert miss["totalResults"] == 0
    created = client.post("/Users", json={
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User",
                    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
        "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
        "userName": user_name,
        "active": True,
        "emails": [{"primary": True, "type": "work",
                    "value": "Test_User_fd0ea19b-0777-472c-9f96-4f70d2226f2e@testuser.com"}],
        "meta": {"resourceType": "User"},
        "name": {"formatted": "givenName familyName", "familyName": "familyName", "givenName": "givenName"},
        "roles": []})
    assert created.status_code == 201, created.json
    uid = created.json["id"]
    path = f"/Users/{uid}"
    again = client.post("/Users", json={"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                                        "userName": user_name.upper()})
    assert again.status_code == 409 and again.json["scimType"] == "uniqueness" and again.json["detail"]

    # Lookups by every matching attribute Entra may use.
    for flt in (f'userName eq "{user_name.lower()}"', 'externalId eq "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef"',
                'emails[type eq "work"].value eq "test_user_fd0ea19b-0777-472c-9f96-4f70d2226f2e@testuser.com"'):
        found = client.get(f"/Users?filter={flt}").json
        assert [r["id"] for r in found["Resources"]] == [uid], flt

    # Default-mode updates.
    patch(client, path, [
        {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "updatedEmail@microsoft.com"},
        {"op": "Replace", "path": "name.familyName", "value": "updatedFamilyName"}])
    user = stored(client, path)
    assert [e["value"] for e in user["emails"] if e.get("type") == "work"] == ["updatedEmail@microsoft.com"]
    assert user["name"]["familyName"] == "updatedFamilyName"

    patch(client, path, [{"op": "Replace", "path": "userName",
                          "value": "5b50642d-79fc-4410-9e90-4c077cdd1a59@testuser.com"}])
    assert stored(client, path)["userName"] == "5b50642d-79fc-4410-9e90-4c077cdd1a59@testuser.com"

    patch(client, path, [{"op": "Add", "path": "nickName", "value": "Babs"}])
    assert stored(client, path)["nickName"] == "Babs"

    patch(client, path, [
        {"op": "Replace", "path": "displayName", "value": "Pvlo"},
        {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "TestBcwqnm@test.microsoft.com"},
        {"op": "Replace", "path": "name.givenName", "value": "Gtfd"},
        {"op": "Replace", "path": "name.familyName", "value": "Pkqf"},
        {"op": "Replace", "path": "externalId", "value": "Eqpj"},
        {"op": "Replace", "path": f"{ENTERPRISE}:employeeNumber", "value": "Eqpj"}])
    user = stored(client, path)
    assert (user["displayName"], user["name"]["givenName"], user["name"]["familyName"], user["externalId"]) == (
        "Pvlo", "Gtfd", "Pkqf", "Eqpj")
    assert user[ENTERPRISE]["employeeNumber"] == "Eqpj"
    assert len([e for e in user["emails"] if e.get("type") == "work"]) == 1

    # Feature-flag form: lower-case ops and a path-less replace with dotted keys.
    patch(client, path, [
        {"op": "replace", "path": "emails[type eq \"work\"].value", "value": "TestMhvaes@test.microsoft.com"},
        {"op": "replace", "value": {"displayName": "Bjfe", "name.givenName": "Kkom", "name.familyName": "Unua",
                                    f"{ENTERPRISE}:employeeNumber": "Aklq"}}])
    user = stored(client, path)
    assert user["displayName"] == "Bjfe" and user["name"] == {
        "formatted": "givenName familyName", "givenName": "Kkom", "familyName": "Unua"}
    assert user[ENTERPRISE]["employeeNumber"] == "Aklq" and "name.givenName" not in json.dumps(user)

    # Manager: the user's manager is provisioned, then set by bare id, then cleared.
    manager = client.post("/Users", json={"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                                          "userName": "manager@contoso.com"}).json
    patch(client, path, [{"op": "add", "path": f"{ENTERPRISE}:manager", "value": manager["id"]}])
    assert stored(client, path)[ENTERPRISE]["manager"]["value"] == manager["id"]
    patch(client, path, [{"op": "Replace", "path": f"{ENTERPRISE}:manager", "value": ""}])
    assert "manager" not in stored(client, path).get(ENTERPRISE, {})

    # Disable with the string "False", re-enable with a boolean; disabled users stay findable.
    patch(client, path, [{"op": "Replace", "path": "active", "value": "False"}])
    assert stored(client, path)["active"] is False
    assert client.get('/Users?filter=userName eq "5b50642d-79fc-4410-9e90-4c077cdd1a59@testuser.com"').json[
        "totalResults"] == 1
    patch(client, path, [{"op": "Replace", "path": "active", "value": True}])
    assert stored(client, path)["active"] is True

    # Groups: match by displayName without members, create, rename, add/remove members in batches.
    members = [client.post("/Users", json={"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                                           "userName": f"member{i}@contoso.com"}).json["id"] for i in range(3)]
    lookup = client.get('/Groups?excludedAttributes=members&filter=displayName eq "displayName"')
    assert lookup.status_code == 200 and lookup.json["totalResults"] == 0
    group = client.post("/Groups", json={
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group",
                    "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],
        "externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159", "displayName": "displayName",
        "meta": {"resourceType": "Group"}})
    assert group.status_code == 201, group.json
    gpath = f"/Groups/{group.json['id']}"
    found = client.get('/Groups?excludedAttributes=members&filter=displayName eq "displayName"').json
    assert found["totalResults"] == 1 and "members" not in found["Resources"][0]
    single = client.get(f"{gpath}?excludedAttributes=members")
    assert single.status_code == 200 and "members" not in single.json

    patch(client, gpath, [{"op": "Replace", "path": "displayName", "value": "displayName-updatedDisplayName"}])
    patch(client, gpath, [{"op": "Add", "path": "members",
                           "value": [{"$ref": None, "value": members[0]}, {"$ref": None, "value": members[1]}]},
                          {"op": "Add", "path": "members", "value": [{"$ref": None, "value": members[2]}]}])
    patch(client, gpath, [{"op": "Add", "path": "members", "value": [{"$ref": None, "value": members[0]}]}])
    group_doc = stored(client, gpath)
    assert group_doc["displayName"] == "displayName-updatedDisplayName"
    assert sorted(m["value"] for m in group_doc["members"]) == sorted(members)

    patch(client, gpath, [{"op": "Remove", "path": "members", "value": [{"$ref": None, "value": members[0]}]}])
    assert sorted(m["value"] for m in stored(client, gpath)["members"]) == sorted(members[1:])
    patch(client, gpath, [{"op": "remove", "path": f'members[value eq "{members[1]}"]'}])
    patch(client, gpath, [{"op": "Remove", "path": "members", "value": [{"$ref": None, "value": members[0]}]}])
    assert [m["value"] for m in stored(client, gpath)["members"]] == [members[2]]
    assert [g["value"] for g in stored(client, f"/Users/{members[2]}")["groups"]] == [group.json["id"]]

    # Hard delete of user and group.
    assert client.delete(path).status_code == 204
    assert client.get(path).status_code == 404
    assert client.delete(gpath).status_code == 204
    assert client.get(gpath).status_code == 404
    assert client.get(f"/Users/{members[2]}").json.get("groups", []) == []


def test_entra_post_with_nulls_and_custom_extension(client: ScimClient):
    response = client.post("/Users", json={
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User",
                    "urn:ietf:params:scim:schemas:extension:custom:2.0:User"],
        "userName": "nulls@contoso.com", "active": "True", "addresses": None, "title": "scim tester",
        f"{ENTERPRISE}": {"manager": None},
        "urn:ietf:params:scim:schemas:extension:custom:2.0:User": {"anything": "goes"}})
    assert response.status_code == 201, response.json
    assert response.json["active"] is True and response.json["title"] == "scim tester"
    assert "addresses" not in response.json


def test_entra_add_work_email_when_absent_creates_it(client: ScimClient):
    uid = client.post("/Users", json={"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                                      "userName": "noemail"}).json["id"]
    patch(client, f"/Users/{uid}", [{"op": "Replace", "path": "title", "value": "tester"},
                                    {"op": "Add", "path": "emails[type eq \"work\"].value", "value": "x@joe.com"}])
    patch(client, f"/Users/{uid}", [{"op": "Add", "path": "emails[type eq \"work\"].value", "value": "y@joe.com"}])
    user = stored(client, f"/Users/{uid}")
    assert user["emails"] == [{"type": "work", "value": "y@joe.com"}] and user["title"] == "tester"


# -- each tolerance, replayed in both modes ----------------------------------------------------

@dataclass(frozen=True)
class Replay:
    """A client's quirky request against the seeded tenant (`ids`: user, manager, other, group), the
    scimType strict mode answers it with, and whether lenient mode left the expected state."""

    send: Callable[[ScimClient, dict], object]
    strict_type: str
    check: Callable[[ScimClient, dict], bool]


def seed(client: ScimClient) -> dict:
    """A user with a manager and a home email only, another user, and a group holding the user."""
    manager = client.post("/Users", json={"schemas": [USER], "userName": "replay.manager"}).json["id"]
    other = client.post("/Users", json={"schemas": [USER], "userName": "replay.other"}).json["id"]
    user = client.post("/Users", json={
        "schemas": [USER, ENTERPRISE], "userName": "replay.user", "displayName": "Replay", "active": True,
        "emails": [{"value": "home@example.com", "type": "home"}], ENTERPRISE: {"manager": {"value": manager}}})
    assert user.status_code == 201, user.json
    group = client.post("/Groups", json={"schemas": [GROUP], "displayName": "replay.group",
                                         "members": [{"value": user.json["id"]}]})
    assert group.status_code == 201, group.json
    return {"user": user.json["id"], "manager": manager, "other": other, "group": group.json["id"]}


def patch_to(kind: str, *operations: dict | Callable[[dict], dict]) -> Callable[[ScimClient, dict], object]:
    """Send one PATCH to the seeded `kind` ("user" or "group"); an operation may be built from `ids`."""
    def send(client: ScimClient, ids: dict):
        built = [op(ids) if callable(op) else op for op in operations]
        endpoint = "/Users" if kind == "user" else "/Groups"
        return client.patch(f"{endpoint}/{ids[kind]}", json={"schemas": [PATCH_OP], "Operations": built})
    return send


def user_of(client: ScimClient, ids: dict) -> dict:
    return stored(client, f"/Users/{ids['user']}")


def state(client: ScimClient, ids: dict) -> dict:
    """Everything the replays can touch, as the client reads it."""
    return {"users": sorted(client.get("/Users").json["Resources"], key=lambda doc: doc["id"]),
            "group": stored(client, f"/Groups/{ids['group']}")}


def run_replay(make_app, mode: str, replay: Replay) -> None:
    client = ScimClient(make_app(SCIM_COMPATIBILITY=mode))
    ids = seed(client)
    before = state(client, ids)
    answer = replay.send(client, ids)
    if mode == "lenient":
        assert answer.status_code in (200, 201, 204), answer.get_data(as_text=True)
        assert replay.check(client, ids), state(client, ids)
    else:
        assert answer.status_code == 400, answer.get_data(as_text=True)
        assert answer.json["scimType"] == replay.strict_type, answer.json
        assert state(client, ids) == before


def _manager_of(client: ScimClient, ids: dict) -> dict | None:
    return user_of(client, ids).get(ENTERPRISE, {}).get("manager")


REPLAYS: dict[str, Replay] = {
    t.PATCH_OP_CASE: Replay(
        patch_to("user", {"op": "Replace", "path": "displayName", "value": "Pvlo"}), "invalidSyntax",
        lambda c, ids: user_of(c, ids)["displayName"] == "Pvlo"),
    t.BOOLEAN_STRINGS: Replay(
        patch_to("user", {"op": "replace", "path": "active", "value": "False"}), "invalidValue",
        lambda c, ids: user_of(c, ids)["active"] is False),
    t.EMPTY_STRING_CLEARS: Replay(
        patch_to("user", {"op": "replace", "path": f"{ENTERPRISE}:manager", "value": ""}), "invalidValue",
        lambda c, ids: _manager_of(c, ids) is None),
    t.MANAGER_BARE_ID: Replay(
        patch_to("user", lambda ids: {"op": "add", "path": f"{ENTERPRISE}:manager", "value": ids["other"]}),
        "invalidValue",
        lambda c, ids: _manager_of(c, ids) == {"value": ids["other"]}),
    t.MANAGER_IN_LIST: Replay(
        patch_to("user", lambda ids: {"op": "add", "path": f"{ENTERPRISE}:manager", "value": [
            {"$ref": f"http://example.com/Users/{ids['other']}", "value": ids["other"]}]}),
        "invalidValue",
        lambda c, ids: _manager_of(c, ids)["value"] == ids["other"]),
    t.EXTENSION_ATTRIBUTE_WITHOUT_URN: Replay(
        patch_to("user", lambda ids: {"op": "add", "path": "manager", "value": {"value": ids["other"]}}),
        "invalidPath",
        lambda c, ids: _manager_of(c, ids) == {"value": ids["other"]}),
    t.PATHLESS_KEYS_AS_PATHS: Replay(
        patch_to("user", {"op": "replace", "value": {"name.givenName": "Kkom", f"{ENTERPRISE}:employeeNumber": "Aklq"}}),
        "invalidValue",
        lambda c, ids: (user_of(c, ids)["name"] == {"givenName": "Kkom"}
                        and user_of(c, ids)[ENTERPRISE]["employeeNumber"] == "Aklq")),
    t.TYPE_FILTER_UPSERT: Replay(
        patch_to("user", {"op": "add", "path": 'emails[type eq "work"].value', "value": "x@joe.com"}), "noTarget",
        lambda c, ids: user_of(c, ids)["emails"] == [{"value": "home@example.com", "type": "home"},
                                                    {"type": "work", "value": "x@joe.com"}]),
    t.MEMBERS_REMOVE_BY_VALUE: Replay(
        patch_to("group", lambda ids: {"op": "remove", "path": "members",
                                       "value": [{"$ref": None, "value": ids["user"]}]}),
        "invalidValue",
        lambda c, ids: stored(c, f"/Groups/{ids['group']}").get("members", []) == []),
    t.UNREGISTERED_EXTENSION_OBJECT: Replay(
        lambda c, ids: c.post("/Users", json={
            "schemas": [USER], "userName": "custom@contoso.com",
            "urn:ietf:params:scim:schemas:extension:custom:2.0:User": {"anything": "goes"}}),
        "invalidValue",
        lambda c, ids: c.get('/Users?filter=userName eq "custom@contoso.com"').json["totalResults"] == 1),
    t.FOREIGN_SCHEMA_URI: Replay(
        lambda c, ids: c.post("/Groups", json={
            "schemas": [GROUP, "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],
            "displayName": "adscim", "meta": {"resourceType": "Group"}}),
        "invalidSyntax",
        lambda c, ids: c.get('/Groups?filter=displayName eq "adscim"').json["totalResults"] == 1),
}


@pytest.mark.parametrize("mode", ["lenient", "strict"])
@pytest.mark.parametrize("name", list(REPLAYS))
def test_tolerance_replay(make_app, name, mode):
    run_replay(make_app, mode, REPLAYS[name])
