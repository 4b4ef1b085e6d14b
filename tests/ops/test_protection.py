"""Rate limits (429 + Retry-After), oversized bodies (413), security headers; a noisy tenant
never disturbs another one."""

from __future__ import annotations

import pytest

from scimflask import create_app
from scimflask.errors import ConfigurationError
from scimflask.protocol.ratelimit import RateLimit

from .conftest import ADMIN_TOKEN, AdminClient, require_operations, tenant_client

USER = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "u@example.com"}


def test_rate_limit_answers_429_per_token(make_app, tenant):
    app = make_app(SCIM_ADMIN_TOKENS=(ADMIN_TOKEN,), SCIM_RATE_LIMIT="5/3600")
    require_operations(app)
    admin = AdminClient(app)
    noisy = tenant_client(app, admin, tenant + "-noisy")
    quiet = tenant_client(app, admin, tenant + "-quiet")
    assert [noisy.get("/Users").status_code for _ in range(5)] == [200] * 5
    refused = noisy.get("/Users")
    assert refused.status_code == 429
    assert refused.headers["Content-Type"].startswith("application/scim+json")
    assert 1 <= int(refused.headers["Retry-After"]) <= 3600
    assert refused.get_json()["status"] == "429"
    assert quiet.post("/Users", json=USER).status_code == 201
    assert quiet.get("/Users").status_code == 200


def test_rate_limit_spec_is_checked_at_start_up():
    assert RateLimit.parse(" 600 / 60 ") == RateLimit(600, 60)
    for bad in ("600", "0/60", "a/b", "600/0"):
        with pytest.raises(ConfigurationError):
            create_app({"SCIM_STORAGE_URI": "memory://", "SCIM_RATE_LIMIT": bad})


def test_five_megabyte_body_is_413_and_others_unaffected(ops_app, admin, tenant):
    big = tenant_client(ops_app, admin, tenant + "-big")
    other = tenant_client(ops_app, admin, tenant + "-other")
    body = b'{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"' + b"x" * (5 * 1024 * 1024) + b'"}'
    answer = big.request("POST", "/Users", data=body, headers={"Content-Type": "application/scim+json"})
    assert answer.status_code == 413
    assert answer.get_json()["status"] == "413"
    assert other.post("/Users", json=USER).status_code == 201
    assert big.post("/Users", json=USER).status_code == 201


def test_security_headers_on_every_scim_response(client):
    for response in (client.get("/Users"), client.get("/Users/nope"), client.get("/NoSuchThing"),
                     client.request("GET", "/Users", headers={"Authorization": "Bearer wrong"})):
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Cache-Control"] == "no-store"
        assert response.headers["Content-Security-Policy"] == "default-src 'none'"
        assert response.headers["Referrer-Policy"] == "no-referrer"


def test_token_in_query_string_is_not_accepted(client):
    client.token = None
    from tests.conftest import TOKEN

    assert client.get(f"/Users?access_token={TOKEN}").status_code == 401


def test_last_used_is_written_at_most_once_per_interval(ops_app, admin, tenant, monkeypatch):
    scim = tenant_client(ops_app, admin, tenant + "-t")
    storage = ops_app.extensions["scim"].storage
    touches = []
    original = storage.touch_token
    monkeypatch.setattr(storage, "touch_token", lambda token_id, when: (touches.append(token_id), original(token_id, when)))
    for _ in range(5):
        assert scim.get("/Users").status_code == 200
    assert len(touches) == 1
