"""RFC 9865 cursors signed with itsdangerous: key rotation through SCIM_SECRET_KEY_FALLBACKS,
forged and expired cursors, and a host's Flask SECRET_KEY never used unsalted."""

from __future__ import annotations

import hashlib
import time
import uuid

import pytest
from itsdangerous import URLSafeSerializer

from scimflask import create_app
from scimflask.errors import ExpiredCursor, InvalidCursor
from scimflask.model import Keyset, RequestContext, Resource, utcnow
from scimflask.protocol.paging import CursorCodec, CursorPosition
from tests.conftest import TOKEN, ScimClient

UNRESERVED = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")


def test_a_cursor_of_a_rotated_out_key_still_decodes():
    before = CursorCodec(["old"], timeout=60)
    cursor = before.encode(CursorPosition(keyset=Keyset(value="b@x", id="42")), "fp")
    after = CursorCodec(["new", "old"], timeout=60)
    assert after.decode(cursor, "fp") == CursorPosition(keyset=Keyset(value="b@x", id="42"))
    assert after.encode(CursorPosition(offset=3), "fp") != before.encode(CursorPosition(offset=3), "fp")
    with pytest.raises(InvalidCursor):  # a new cursor is signed with the new key only
        before.decode(after.encode(CursorPosition(offset=3), "fp"), "fp")


def test_cursors_use_only_unreserved_characters():
    codec = CursorCodec(["k"], timeout=60)
    cursor = codec.encode(CursorPosition(keyset=Keyset(value="ä ö/?#&=+", id=str(uuid.uuid4()))), "fp")
    assert set(cursor) <= UNRESERVED


@pytest.mark.parametrize("keys", [["other"], ["other", "older"]])
def test_a_cursor_of_an_unknown_key_is_invalid(keys):
    cursor = CursorCodec(["old"], timeout=60).encode(CursorPosition(offset=2), "fp")
    with pytest.raises(InvalidCursor, match="not one this server issued"):
        CursorCodec(keys, timeout=60).decode(cursor, "fp")


def test_fingerprint_and_expiry_are_checked_after_the_signature(monkeypatch):
    codec = CursorCodec(["k"], timeout=60)
    cursor = codec.encode(CursorPosition(offset=2), "fp")
    with pytest.raises(InvalidCursor, match="different query"):
        codec.decode(cursor, "another")
    later = time.time() + 61
    monkeypatch.setattr("scimflask.protocol.paging.time.time", lambda: later)
    with pytest.raises(ExpiredCursor):
        codec.decode(cursor, "fp")
    with pytest.raises(InvalidCursor):  # an old cursor signed by a stranger is forged, not expired
        CursorCodec(["stranger"], timeout=60).decode(cursor, "fp")


def test_the_host_secret_key_is_not_the_raw_signing_key():
    """A cursor signed with the host's SECRET_KEY itself (no salt, no derivation) is refused."""
    codec = CursorCodec(["host-session-key"], timeout=60)
    genuine = codec.encode(CursorPosition(offset=1), "fp")
    raw = URLSafeSerializer("host-session-key", salt=None,
                            signer_kwargs={"key_derivation": "none", "digest_method": hashlib.sha256})
    forged = raw.dumps({"f": "fp", "t": int(time.time()), "o": 1})
    assert codec.decode(genuine, "fp") == CursorPosition(offset=1)
    with pytest.raises(InvalidCursor):
        codec.decode(forged, "fp")


# -- through the SCIM endpoints ---------------------------------------------------------

@pytest.fixture
def database(tmp_path):
    """One SQLite file, so apps configured with different keys see the same users."""
    uri = f"sqlite:///{tmp_path / 'cursors.db'}"
    app = scim_app(uri, SCIM_SECRET_KEY="seed")
    state = app.extensions["scim"]
    ctx = RequestContext(tenant=state.config["SCIM_DEFAULT_TENANT"])
    for index in range(5):
        now = utcnow()
        state.storage.create(ctx, Resource("User", str(uuid.uuid4()), {"userName": f"u{index}@x"}, now, now))
    return uri


def scim_app(uri: str, **config):
    return create_app({"SCIM_STORAGE_URI": uri, "SCIM_BEARER_TOKENS": (TOKEN,), "TESTING": True, **config})


def first_cursor(app) -> str:
    body = ScimClient(app).get("/Users?cursor=&count=2&sortBy=userName").json
    return body["nextCursor"]


def test_after_a_key_rotation_old_cursors_page_on(database):
    cursor = first_cursor(scim_app(database, SCIM_SECRET_KEY="2024-key"))
    rotated = scim_app(database, SCIM_SECRET_KEY="2025-key", SCIM_SECRET_KEY_FALLBACKS=("2024-key",))
    page = ScimClient(rotated).get(f"/Users?cursor={cursor}&count=2&sortBy=userName")
    assert page.status_code == 200, page.json
    assert [r["userName"] for r in page.json["Resources"]] == ["u2@x", "u3@x"]


def test_fallbacks_come_from_the_environment_too(database, monkeypatch):
    cursor = first_cursor(scim_app(database, SCIM_SECRET_KEY="2024-key"))
    monkeypatch.setenv("SCIM_SECRET_KEY", "2025-key")
    monkeypatch.setenv("SCIM_SECRET_KEY_FALLBACKS", "2023-key,2024-key")
    page = ScimClient(scim_app(database)).get(f"/Users?cursor={cursor}&count=2&sortBy=userName")
    assert page.status_code == 200, page.json


def test_a_cursor_of_an_unknown_key_is_400_invalid_cursor(database):
    cursor = first_cursor(scim_app(database, SCIM_SECRET_KEY="someone-else"))
    other = scim_app(database, SCIM_SECRET_KEY="2025-key", SCIM_SECRET_KEY_FALLBACKS=("2024-key",))
    answer = ScimClient(other).get(f"/Users?cursor={cursor}&count=2&sortBy=userName")
    assert answer.status_code == 400 and answer.json["scimType"] == "invalidCursor"


def test_an_expired_cursor_of_a_fallback_key_is_400_expired_cursor(database, monkeypatch):
    cursor = first_cursor(scim_app(database, SCIM_SECRET_KEY="2024-key"))
    rotated = scim_app(database, SCIM_SECRET_KEY="2025-key", SCIM_SECRET_KEY_FALLBACKS=("2024-key",),
                       SCIM_CURSOR_TIMEOUT=60)
    later = time.time() + 61
    monkeypatch.setattr("scimflask.protocol.paging.time.time", lambda: later)
    answer = ScimClient(rotated).get(f"/Users?cursor={cursor}&count=2&sortBy=userName")
    assert answer.status_code == 400 and answer.json["scimType"] == "expiredCursor"


def test_the_host_secret_key_signs_through_a_derived_key(database):
    app = scim_app(database, SECRET_KEY="host-session-key")
    cursor = first_cursor(app)
    assert ScimClient(app).get(f"/Users?cursor={cursor}&count=2&sortBy=userName").status_code == 200
    payload = cursor.rsplit(".", 1)[0]
    raw = URLSafeSerializer("host-session-key", salt=None,
                            signer_kwargs={"key_derivation": "none", "digest_method": hashlib.sha256})
    assert raw.dumps(raw.loads_unsafe(cursor)[1]).rsplit(".", 1)[0] == payload  # same body ...
    assert raw.dumps(raw.loads_unsafe(cursor)[1]) != cursor  # ... but not signed with the raw key
