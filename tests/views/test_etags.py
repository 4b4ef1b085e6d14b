"""ETags and concurrency (RFC 7644 §3.14)."""

from __future__ import annotations

import threading

from tests.conftest import ScimClient

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def test_if_none_match_gives_304(client: ScimClient):
    doc = client.post("/Users", json={"schemas": [USER], "userName": "etag"}).json
    etag = doc["meta"]["version"]
    response = client.get(f"/Users/{doc['id']}", headers={"If-None-Match": etag})
    assert response.status_code == 304 and response.headers["ETag"] == etag
    assert client.get(f"/Users/{doc['id']}", headers={"If-None-Match": 'W/"999"'}).status_code == 200
    assert client.get(f"/Users/{doc['id']}", headers={"If-None-Match": "*"}).status_code == 304


def test_stale_if_match_is_412_and_changes_nothing(client: ScimClient):
    doc = client.post("/Users", json={"schemas": [USER], "userName": "stale", "title": "one"}).json
    stale = doc["meta"]["version"]
    fresh = client.patch(f"/Users/{doc['id']}", headers={"If-Match": stale}, json={
        "schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": "title", "value": "two"}]})
    assert fresh.status_code == 200, fresh.json
    for method, body in (("PATCH", {"schemas": [PATCH_OP], "Operations": [
            {"op": "replace", "path": "title", "value": "three"}]}),
            ("PUT", {"schemas": [USER], "userName": "stale", "title": "three"})):
        response = client.request(method, f"/Users/{doc['id']}", json=body, headers={"If-Match": stale})
        assert response.status_code == 412, response.json
        assert response.json["status"] == "412"
    assert client.delete(f"/Users/{doc['id']}", headers={"If-Match": stale}).status_code == 412
    assert client.get(f"/Users/{doc['id']}").json["title"] == "two"
    current = client.get(f"/Users/{doc['id']}").json["meta"]["version"]
    assert client.delete(f"/Users/{doc['id']}", headers={"If-Match": current}).status_code == 204


def test_malformed_if_match_is_412(client: ScimClient):
    doc = client.post("/Users", json={"schemas": [USER], "userName": "bad-etag"}).json
    for header in ("garbage", 'W/"abc"', '"', 'W/"1", nonsense'):
        response = client.put(f"/Users/{doc['id']}", json={"schemas": [USER], "userName": "bad-etag"},
                               headers={"If-Match": header})
        assert response.status_code == 412, header


def test_etag_header_matches_meta_version_and_changes_on_write(client: ScimClient):
    created = client.post("/Users", json={"schemas": [USER], "userName": "versions"})
    versions = {created.headers["ETag"]}
    uid = created.json["id"]
    for title in ("a", "b", "c"):
        response = client.patch(f"/Users/{uid}", json={"schemas": [PATCH_OP], "Operations": [
            {"op": "replace", "path": "title", "value": title}]})
        assert response.headers["ETag"] == response.json["meta"]["version"]
        versions.add(response.headers["ETag"])
    assert len(versions) == 4


def test_concurrent_patches_never_lose_an_update(client: ScimClient, app):
    users = [client.post("/Users", json={"schemas": [USER], "userName": f"c{i}"}).json["id"] for i in range(8)]
    gid = client.post("/Groups", json={"schemas": [GROUP], "displayName": "race"}).json["id"]
    target = client.post("/Users", json={"schemas": [USER], "userName": "attrs"}).json["id"]
    errors: list = []

    def add_member(uid: str, index: int) -> None:
        local = ScimClient(app)
        response = local.patch(f"/Groups/{gid}", json={"schemas": [PATCH_OP], "Operations": [
            {"op": "add", "path": "members", "value": [{"value": uid}]}]})
        if response.status_code not in (200, 204):
            errors.append(response.get_data(as_text=True))
        # Different attributes of one user, patched concurrently, must all survive.
        response = local.patch(f"/Users/{target}", json={"schemas": [PATCH_OP], "Operations": [
            {"op": "add", "path": "emails", "value": [{"value": f"e{index}@x.com", "type": f"t{index}"}]}]})
        if response.status_code not in (200, 204):
            errors.append(response.get_data(as_text=True))

    threads = [threading.Thread(target=add_member, args=(uid, i)) for i, uid in enumerate(users)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    members = client.get(f"/Groups/{gid}").json["members"]
    assert sorted(m["value"] for m in members) == sorted(users)
    emails = client.get(f"/Users/{target}").json["emails"]
    assert sorted(e["value"] for e in emails) == sorted(f"e{i}@x.com" for i in range(8))
