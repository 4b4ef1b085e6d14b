"""RFC 7644 §3.12 / §7.5.2: a URL that names the password is refused with 403 `sensitive`; the
same search sent as a POST body is refused as a filter on a never-returned attribute."""

from __future__ import annotations

import pytest

from tests.conftest import ScimClient

SEARCH = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"


@pytest.fixture
def client(app):
    return ScimClient(app)


@pytest.mark.parametrize("query", [
    'filter=password eq "hunter2"',
    'filter=userName eq "a" or PASSWORD pr',
    'filter=urn:ietf:params:scim:schemas:core:2.0:User:password eq "x"',
    "sortBy=password",
])
def test_a_url_naming_the_password_is_refused_as_sensitive(client, query):
    answer = client.get(f"/Users?{query}")
    assert answer.status_code == 403, answer.json
    assert answer.json["scimType"] == "sensitive"
    assert "hunter2" not in answer.get_data(as_text=True)


@pytest.mark.parametrize("query", ['filter=userName eq "password"', 'filter=displayName co "passwords"'])
def test_the_word_inside_a_value_is_no_secret(client, query):
    assert client.get(f"/Users?{query}").status_code == 200


def test_the_same_search_by_post_is_an_invalid_filter(client):
    answer = client.post("/Users/.search", json={"schemas": [SEARCH], "filter": 'password eq "hunter2"'})
    assert answer.status_code == 400 and answer.json["scimType"] == "invalidFilter"
