"""An Okta provisioning sequence: PUT-based user updates, PATCH-based groups; then each Okta
tolerance of scimflask.schema.tolerances replayed in both compatibility modes."""

from __future__ import annotations

import pytest

from scimflask.schema import tolerances as t
from tests.conftest import ScimClient
from tests.views.test_entra_replay import Replay, patch_to, run_replay, stored

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
OKTA_HEADERS = {"Accept": "application/scim+json", "Accept-Charset": "utf-8"}


def okta_user(user_name: str, **extra) -> dict:
    return {"schemas": [USER], "userName": user_name,
            "name": {"givenName": "Inez", "familyName": "Sanders"},
            "emails": [{"primary": True, "value": user_name, "type": "work"}],
            "displayName": "Inez Sanders", "locale": "en-US", "externalId": "00ujl29u0le5T6Aj10h7",
            "groups": [], "password": "1mz050nq", "active": True, **extra}


def test_okta_spec_sequence(client: ScimClient):
    # Test connection and the spec test's list/paging checks.
    first = client.get("/Users?startIndex=1&count=2", headers=OKTA_HEADERS)
    assert first.status_code == 200
    assert isinstance(first.json["itemsPerPage"], int) and isinstance(first.json["totalResults"], int)

    created = client.post("/Users", json=okta_user("isanders@example.com"), headers=OKTA_HEADERS)
    assert created.status_code == 201, created.json
    uid = created.json["id"]
    assert client.post("/Users", json=okta_user("isanders@example.com")).status_code == 409
    # Username case-sensitivity check: an upper-cased filter must match.
    upper = client.get('/Users?filter=userName eq "ISANDERS@EXAMPLE.COM"&startIndex=1&count=100').json
    assert [r["id"] for r in upper["Resources"]] == [uid]
    listed = client.get("/Users?count=1&startIndex=1").json
    assert listed["itemsPerPage"] == 1 and listed["Resources"]
    assert client.get("/Users/010-random-id-that-does-not-exist").status_code == 404
    assert client.get('/Users?filter=userName eq "random-9b1b@example.com"').json["totalResults"] == 0

    # Profile update by PUT with the whole user.
    updated = client.put(f"/Users/{uid}", json=okta_user("isanders@example.com", displayName="Inez S.",
                                                             name={"givenName": "Inez", "familyName": "S."}))
    assert updated.status_code == 200, updated.json
    assert client.get(f"/Users/{uid}").json["name"] == {"givenName": "Inez", "familyName": "S."}

    # Deactivate: Okta sends a path-less replace.
    resp = client.patch(f"/Users/{uid}", json={"schemas": [PATCH_OP],
                                              "Operations": [{"op": "replace", "value": {"active": False}}]})
    assert resp.status_code in (200, 204)
    assert client.get(f"/Users/{uid}").json["active"] is False

    # Groups: create empty, rename and add/remove members by PATCH.
    gid = client.post("/Groups", json={"schemas": [GROUP], "displayName": "Test SCIMv2", "members": []}).json["id"]
    resp = client.patch(f"/Groups/{gid}", json={"schemas": [PATCH_OP], "Operations": [
        {"op": "replace", "value": {"id": gid, "displayName": "Test SCIMv2 renamed"}},
        {"op": "add", "path": "members", "value": [{"value": uid, "display": "isanders@example.com"}]}]})
    assert resp.status_code in (200, 204), resp.json
    group = client.get(f"/Groups/{gid}").json
    assert group["displayName"] == "Test SCIMv2 renamed"
    assert group["members"] == [{"value": uid, "display": "isanders@example.com", "type": "User",
                                 "$ref": group["members"][0]["$ref"]}]
    resp = client.patch(f"/Groups/{gid}", json={"schemas": [PATCH_OP], "Operations": [
        {"op": "remove", "path": f'members[value eq "{uid}"]'}]})
    assert resp.status_code in (200, 204)
    assert client.get(f"/Groups/{gid}").json.get("members", []) == []
    assert client.delete(f"/Groups/{gid}").status_code == 204


REPLAYS: dict[str, Replay] = {
    # Okta removes a member by filter even when an earlier run already removed it.
    t.ABSENT_MEMBER_REMOVAL: Replay(
        patch_to("group", lambda ids: {"op": "remove", "path": f'members[value eq "{ids["other"]}"]'}),
        "noTarget",
        lambda c, ids: [m["value"] for m in stored(c, f"/Groups/{ids['group']}")["members"]] == [ids["user"]]),
    # Okta's group rename restates the group's own id in a path-less replace.
    t.RESTATED_ID: Replay(
        patch_to("group", lambda ids: {"op": "replace", "value": {"id": ids["group"], "displayName": "renamed"}}),
        "mutability",
        lambda c, ids: stored(c, f"/Groups/{ids['group']}")["displayName"] == "renamed"),
}


@pytest.mark.parametrize("mode", ["lenient", "strict"])
@pytest.mark.parametrize("name", list(REPLAYS))
def test_tolerance_replay(make_app, name, mode):
    run_replay(make_app, mode, REPLAYS[name])
