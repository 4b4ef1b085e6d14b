"""Password hashing for the writeOnly User `password`: werkzeug.security's format, so a host
app can check SCIM-set passwords itself; hashes of the earlier format still verify."""

import base64
import hashlib

import pytest
from werkzeug.security import check_password_hash, generate_password_hash

from scimflask.passwords import hash_password, needs_rehash, verify_password


@pytest.fixture(scope="module")
def hashed():
    return hash_password("correct horse battery staple")


def legacy_hash(plain: str, n: int = 2**10, salt: bytes = b"0123456789abcdef") -> str:
    """A hash in the format earlier scimflask versions stored."""
    key = hashlib.scrypt(plain.encode(), salt=salt, n=n, r=8, p=1, dklen=32)
    return f"scrypt${n}$8$1${base64.b64encode(salt).decode()}${base64.b64encode(key).decode()}"


def test_hash_is_werkzeugs_scrypt_and_hides_the_password(hashed):
    assert hashed.startswith("scrypt:") and hashed.count("$") == 2
    assert "correct horse" not in hashed
    assert check_password_hash(hashed, "correct horse battery staple")
    assert not check_password_hash(hashed, "correct horse battery stapler")


def test_verify_accepts_the_password_and_rejects_others(hashed):
    assert verify_password("correct horse battery staple", hashed)
    assert not verify_password("correct horse battery stapler", hashed)
    assert not verify_password("", hashed)


def test_hashes_made_by_the_host_app_verify_too():
    assert verify_password("pw", generate_password_hash("pw", method="pbkdf2:sha256:1000"))
    assert not verify_password("pW", generate_password_hash("pw", method="pbkdf2:sha256:1000"))


def test_hashes_are_salted():
    assert hash_password("same") != hash_password("same")


def test_non_ascii_password_round_trips():
    assert verify_password("pässwörd-🔑", hash_password("pässwörd-🔑"))


@pytest.mark.parametrize(
    "stored",
    ["", "plain-text", "bcrypt$12$abc", "scrypt$16384$8$1$!!$AAAA",
     "scrypt$x$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAA",
     "scrypt$16383$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAA==",  # N not a power of 2
     "scrypt$1073741824$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAA",  # would need 1 TiB
     "scrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA==$",
     "scrypt:1073741824:8:1$salt$00",  # werkzeug format asking for 1 TiB
     "scrypt:16384:8$salt$00", "scrypt:a:b:c$salt$00",
     "pbkdf2:sha256:999999999$salt$00",  # minutes of CPU
     "pbkdf2:nosuchdigest:1000$salt$00", "md5$salt$00", "argon2$x$y"],
)
def test_unreadable_or_hostile_hashes_do_not_verify(stored):
    assert verify_password("anything", stored) is False


def test_legacy_hash_still_verifies_with_its_own_cost():
    """Stored parameters, not the current constants, drive verification."""
    stored = legacy_hash("pw")
    assert verify_password("pw", stored)
    assert not verify_password("pW", stored)
    assert not check_password_hash(stored, "pw")  # werkzeug does not read it: it needs a rehash


def test_only_current_hashes_need_no_rehash(hashed):
    assert not needs_rehash(hashed)
    assert needs_rehash(legacy_hash("pw"))
    assert needs_rehash(generate_password_hash("pw", method="pbkdf2:sha256:1000"))


@pytest.fixture
def client(make_app):
    from tests.conftest import ScimClient

    return ScimClient(make_app())


def stored_password(client, user_id: str) -> str:
    from scimflask.model import RequestContext

    state = client.client.application.extensions["scim"]
    tenant = state.config["SCIM_DEFAULT_TENANT"]
    return state.storage.get(RequestContext(tenant=tenant), "User", user_id).data["password"]


@pytest.mark.parametrize("backend", ["memory"], indirect=True)
def test_a_password_set_over_scim_is_checked_by_werkzeug(client):
    schema = "urn:ietf:params:scim:schemas:core:2.0:User"
    created = client.post("/Users", json={"schemas": [schema], "userName": "ada", "password": "t1me$Machine"})
    assert created.status_code == 201, created.json
    assert "password" not in created.json
    assert check_password_hash(stored_password(client, created.json["id"]), "t1me$Machine")


@pytest.mark.parametrize("backend", ["memory"], indirect=True)
def test_a_legacy_hash_is_kept_until_a_write_sets_a_password(client):
    """PUT without a password carries the stored hash forward (SCIM cannot rehash it without the
    password); the next write that sets a password stores werkzeug's format."""
    from dataclasses import replace

    from scimflask.model import RequestContext

    schema = "urn:ietf:params:scim:schemas:core:2.0:User"
    user_id = client.post("/Users", json={"schemas": [schema], "userName": "bob"}).json["id"]
    state = client.client.application.extensions["scim"]
    ctx = RequestContext(tenant=state.config["SCIM_DEFAULT_TENANT"])
    resource = state.storage.get(ctx, "User", user_id)
    old = legacy_hash("old-pw")
    state.storage.delete(ctx, "User", user_id)
    state.storage.create(ctx, replace(resource, data={**resource.data, "password": old}))

    kept = client.put(f"/Users/{user_id}", json={"schemas": [schema], "userName": "bob", "displayName": "B"})
    assert kept.status_code == 200, kept.json
    assert stored_password(client, user_id) == old and verify_password("old-pw", old)

    patched = client.patch(f"/Users/{user_id}", json={
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "path": "password", "value": "new-pw"}]})
    assert patched.status_code in (200, 204)
    new = stored_password(client, user_id)
    assert not needs_rehash(new) and check_password_hash(new, "new-pw")
