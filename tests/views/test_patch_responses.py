"""What a PATCH answers (RFC 7644 §3.5.2: 200 with the resource, or 204) and how unknown member ids are handled (SCIM_UNKNOWN_MEMBERS)."""

from __future__ import annotations

import pytest

from tests.conftest import ScimClient

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def add_members(client, gid, ids):
    return client.patch(f"/Groups/{gid}", json={"schemas": [PATCH_OP], "Operations": [
        {"op": "add", "path": "members", "value": [{"value": i} for i in ids]}]})


def test_auto_answers_resource_for_small_groups_and_204_for_large(make_app):
    client = ScimClient(make_app(SCIM_PATCH_RESPONSE_MAX_MEMBERS=3))
    ids = [client.post("/Users", json={"schemas": [USER], "userName": f"u{i}"}).json["id"] for i in range(5)]
    gid = client.post("/Groups", json={"schemas": [GROUP], "displayName": "g"}).json["id"]
    small = add_members(client, gid, ids[:2])
    assert small.status_code == 200 and len(small.json["members"]) == 2
    large = add_members(client, gid, ids[2:])
    assert large.status_code == 204 and large.get_data() == b""
    assert large.headers["ETag"].startswith('W/"')
    # Without members in the answer the size does not matter.
    cheap = client.patch(f"/Groups/{gid}?excludedAttributes=members", json={"schemas": [PATCH_OP], "Operations": [
        {"op": "replace", "path": "displayName", "value": "g2"}]})
    assert cheap.status_code == 200 and "members" not in cheap.json and cheap.json["displayName"] == "g2"
    user = client.patch(f"/Users/{ids[0]}?attributes=title", json={"schemas": [PATCH_OP], "Operations": [
        {"op": "replace", "path": "title", "value": "t"}]})
    assert user.status_code == 200 and user.json["title"] == "t" and "userName" not in user.json


@pytest.mark.parametrize("mode,status", [("no-content", 204), ("resource", 200)])
def test_patch_response_modes(make_app, mode, status):
    client = ScimClient(make_app(SCIM_PATCH_RESPONSE=mode))
    uid = client.post("/Users", json={"schemas": [USER], "userName": "m"}).json["id"]
    response = client.patch(f"/Users/{uid}", json={"schemas": [PATCH_OP], "Operations": [
        {"op": "replace", "path": "title", "value": "t"}]})
    assert response.status_code == status


def test_unknown_member_ids_are_rejected_by_default(client: ScimClient):
    uid = client.post("/Users", json={"schemas": [USER], "userName": "real"}).json["id"]
    gid = client.post("/Groups", json={"schemas": [GROUP], "displayName": "g"}).json["id"]
    response = add_members(client, gid, [uid, "made-up-id"])
    assert response.status_code == 400 and response.json["scimType"] == "invalidValue"
    assert "made-up-id" in response.json["detail"]
    assert client.get(f"/Groups/{gid}").json.get("members", []) == []
    create = client.post("/Groups", json={"schemas": [GROUP], "displayName": "h", "members": [{"value": "nope"}]})
    assert create.status_code == 400


def test_unknown_member_ids_ignore_policy_drops_them(make_app):
    client = ScimClient(make_app(SCIM_UNKNOWN_MEMBERS="ignore"))
    uid = client.post("/Users", json={"schemas": [USER], "userName": "real"}).json["id"]
    gid = client.post("/Groups", json={"schemas": [GROUP], "displayName": "g"}).json["id"]
    assert add_members(client, gid, [uid, "made-up-id"]).status_code in (200, 204)
    assert [m["value"] for m in client.get(f"/Groups/{gid}").json["members"]] == [uid]


def test_unknown_member_ids_accept_policy_keeps_them(make_app):
    client = ScimClient(make_app(SCIM_UNKNOWN_MEMBERS="accept"))
    gid = client.post("/Groups", json={"schemas": [GROUP], "displayName": "g"}).json["id"]
    assert add_members(client, gid, ["external-123"]).status_code in (200, 204)
    assert [m["value"] for m in client.get(f"/Groups/{gid}").json["members"]] == ["external-123"]


def test_nested_group_member(client: ScimClient):
    inner = client.post("/Groups", json={"schemas": [GROUP], "displayName": "inner"}).json["id"]
    outer = client.post("/Groups", json={"schemas": [GROUP], "displayName": "outer"}).json["id"]
    assert add_members(client, outer, [inner]).status_code in (200, 204)
    member = client.get(f"/Groups/{outer}").json["members"][0]
    assert member["value"] == inner and member["type"] == "Group" and member["$ref"].endswith(f"/Groups/{inner}")


def test_user_patch_and_put_answer_with_groups_from_two_storage_calls(make_app):
    """The answer's `groups` come with the read before the write: no third storage call."""
    app = make_app()
    client = ScimClient(app)
    uid = client.post("/Users", json={"schemas": [USER], "userName": "counted"}).json["id"]
    gid = client.post("/Groups", json={"schemas": [GROUP], "displayName": "team"}).json["id"]
    assert add_members(client, gid, [uid]).status_code == 200
    storage = app.extensions["scim"].storage
    calls: list[str] = []
    for name in ("get", "update", "query"):
        original = getattr(storage, name)
        setattr(storage, name, lambda *a, _name=name, _original=original, **k: (calls.append(_name), _original(*a, **k))[1])
    patched = client.patch(f"/Users/{uid}", json={"schemas": [PATCH_OP], "Operations": [
        {"op": "replace", "path": "title", "value": "t"}]})
    assert patched.status_code == 200 and patched.json["title"] == "t"
    assert [g["value"] for g in patched.json["groups"]] == [gid]
    assert calls == ["get", "update"]
    calls.clear()
    replaced = client.put(f"/Users/{uid}", json={"schemas": [USER], "userName": "counted", "title": "u"})
    assert replaced.status_code == 200 and replaced.json["title"] == "u"
    assert [g["value"] for g in replaced.json["groups"]] == [gid]
    assert calls == ["get", "update"]
    calls.clear()
    # Without groups in the answer, none are read.
    bare = client.patch(f"/Users/{uid}?excludedAttributes=groups", json={"schemas": [PATCH_OP], "Operations": [
        {"op": "replace", "path": "title", "value": "v"}]})
    assert bare.status_code == 200 and "groups" not in bare.json and calls == ["get", "update"]
