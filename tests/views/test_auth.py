"""Bearer-token authentication (RFC 6750 §2.1; RFC 7644 §2)."""

from __future__ import annotations

import pytest

from tests.conftest import ScimClient

BAD_HEADERS = [
    None, "", "Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "bearer wrong-token", "Bearer  a b",
    "Token test-token-0123456789", "Bearer " + "x" * 5000, "Bearer t\u00e9st", "Bearer \x00",
]


@pytest.mark.parametrize("header", BAD_HEADERS)
def test_missing_or_bad_token_is_401_with_challenge(app, header):
    client = app.test_client()
    headers = {} if header is None else {"Authorization": header}
    response = client.get("/scim/v2/Users", headers=headers)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert response.json["status"] == "401"


def test_token_in_query_string_is_not_accepted(app):
    response = app.test_client().get("/scim/v2/Users?access_token=test-token-0123456789")
    assert response.status_code == 401


def test_bearer_scheme_is_case_insensitive(client: ScimClient):
    response = client.get("/Users", headers={"Authorization": "bearer test-token-0123456789"})
    assert response.status_code == 200


def test_stored_token_authenticates_and_is_stored_hashed(app):
    from scimflask.auth import hash_secret, new_token

    state = app.extensions["scim"]
    record, secret = new_token(state.storage, "another-tenant")
    assert record.secret_hash == hash_secret(secret) and secret not in repr(record)
    client = ScimClient(app, token=secret)
    assert client.get("/Users").status_code == 200
    assert state.storage.delete_token(record.id)
    assert client.get("/Users").status_code == 401


def test_authenticate_hook_can_replace_bearer_check(make_app):
    from scimflask import hookimpl
    from scimflask.auth import Principal

    class HeaderAuth:
        @hookimpl
        def scimflask_authenticate(self, request, config):
            if request.headers.get("X-Internal") == "yes":
                return Principal(tenant=config["SCIM_DEFAULT_TENANT"], token_id="internal")
            return None

    app = make_app(SCIM_PLUGINS=(HeaderAuth(),))
    client = app.test_client()
    assert client.get("/scim/v2/Users", headers={"X-Internal": "yes"}).status_code == 200
    assert client.get("/scim/v2/Users").status_code == 401
