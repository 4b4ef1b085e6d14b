"""Members on a type whose schema has none are refused by core before storage is called, so a
backend never has to know which types take members."""

from __future__ import annotations

import pytest

from tests.conftest import ScimClient

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


@pytest.fixture
def spied(app, monkeypatch):
    """The test client and a list of the storage writes the requests reached."""
    storage = app.extensions["scim"].storage
    writes: list[str] = []
    for name in ("create", "update"):
        original = getattr(storage, name)

        def spy(*args, _name=name, _original=original, **kwargs):
            writes.append(_name)
            return _original(*args, **kwargs)

        monkeypatch.setattr(storage, name, spy)
    return ScimClient(app), writes


def test_a_user_created_with_members_never_reaches_storage(spied):
    client, writes = spied
    response = client.post("/Users", json={"schemas": [USER], "userName": "m1", "members": [{"value": "x"}]})
    assert response.status_code == 400 and response.get_json()["scimType"] in ("invalidValue", "invalidSyntax")
    assert writes == []


@pytest.mark.parametrize("operation", [
    {"op": "add", "path": "members", "value": [{"value": "x"}]},
    {"op": "add", "value": {"members": [{"value": "x"}]}},
    {"op": "remove", "path": 'members[value eq "x"]'},
])
def test_member_patches_on_a_user_never_reach_storage(spied, operation):
    client, writes = spied
    user = client.post("/Users", json={"schemas": [USER], "userName": "m2"}).get_json()
    writes.clear()
    response = client.patch(f"/Users/{user['id']}", json={"schemas": [PATCH_OP], "Operations": [operation]})
    assert response.status_code == 400, response.get_json()
    assert writes == []
    assert client.get(f"/Users/{user['id']}").get_json()["meta"]["version"] == user["meta"]["version"]
