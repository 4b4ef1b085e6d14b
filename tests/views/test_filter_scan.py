"""SCIM_MAX_FILTER_SCAN over HTTP: a filter no index narrows over a tenant larger than the bound
is answered 400 tooMany at once (RFC 7644 §3.12), on GET, on POST .search and at the root."""

from __future__ import annotations

import time

import pytest

from scimflask.config import ConfigKeys, ConfigValueError, from_environ, validate
from tests.conftest import ScimClient

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
SEARCH = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
BOUND = 5
REFUSAL_SECONDS = 1.0  # a refusal must not cost the scan it avoids


@pytest.fixture
def scim(make_app):
    client = ScimClient(make_app(SCIM_MAX_FILTER_SCAN=BOUND))
    for i in range(BOUND + 3):
        answer = client.post("/Users", json={"schemas": [USER], "userName": f"scan{i}@example.com",
                                             "title": "Engineer" if i % 2 else "Manager"})
        assert answer.status_code == 201, answer.get_json()
    return client


def _assert_too_many(answer) -> None:
    body = answer.get_json()
    assert answer.status_code == 400, body
    assert body["schemas"] == [ERROR] and body["status"] == "400" and body["scimType"] == "tooMany"
    assert str(BOUND) in body["detail"] and "SCIM_MAX_FILTER_SCAN" in body["detail"]


@pytest.mark.parametrize("text", ['title co "gine"', "title pr", 'not (title eq "Engineer")'])
def test_an_unindexed_filter_past_the_bound_is_too_many(scim, text):
    started = time.monotonic()
    _assert_too_many(scim.get("/Users", query_string={"filter": text}))
    _assert_too_many(scim.post("/Users/.search", json={"schemas": [SEARCH], "filter": text}))
    _assert_too_many(scim.post("/.search", json={"schemas": [SEARCH], "filter": text}))
    assert time.monotonic() - started < 3 * REFUSAL_SECONDS


def test_lookups_and_listing_are_not_bounded(scim):
    found = scim.get("/Users", query_string={"filter": 'userName eq "SCAN3@example.com"'}).get_json()
    assert found["totalResults"] == 1
    assert scim.get("/Users", query_string={"count": 2}).get_json()["totalResults"] == BOUND + 3


def test_a_higher_bound_answers_the_same_filter(make_app):
    client = ScimClient(make_app(SCIM_MAX_FILTER_SCAN=None))
    for i in range(BOUND + 3):
        client.post("/Users", json={"schemas": [USER], "userName": f"free{i}@example.com", "title": "Engineer"})
    answer = client.get("/Users", query_string={"filter": 'title co "gine"'})
    assert answer.status_code == 200 and answer.get_json()["totalResults"] == BOUND + 3


@pytest.mark.parametrize("text, value", [("250000", 250_000), ("none", None), (" NONE ", None)])
def test_the_environment_sets_the_bound(text, value):
    config = validate({"SCIM_STORAGE_URI": "memory://", **from_environ({"SCIM_MAX_FILTER_SCAN": text})})
    assert config[ConfigKeys.MAX_FILTER_SCAN] == value


@pytest.mark.parametrize("value", [0, -5, "lots", 2.5, True])
def test_a_bound_must_be_a_whole_number(value):
    with pytest.raises(ConfigValueError, match="SCIM_MAX_FILTER_SCAN"):
        validate({"SCIM_STORAGE_URI": "memory://", "SCIM_MAX_FILTER_SCAN": value})


def test_the_default_bound():
    assert validate({"SCIM_STORAGE_URI": "memory://"})[ConfigKeys.MAX_FILTER_SCAN] == 100_000
