"""Request bodies: the nesting limit is exact and counts containers, not brackets in strings."""

from __future__ import annotations

import json

import pytest
from flask import Flask

from scimflask.errors import ScimError
from scimflask.protocol.media import MAX_JSON_DEPTH
from scimflask.views.http import json_body

APP = Flask(__name__)


def parse(raw: str):
    with APP.test_request_context("/", method="POST", data=raw.encode(), content_type="application/scim+json"):
        return json_body(10_000_000)


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def test_nesting_up_to_the_limit_is_accepted_and_one_more_refused():
    assert parse(nested(MAX_JSON_DEPTH)) == json.loads(nested(MAX_JSON_DEPTH))
    with pytest.raises(ScimError, match="nested deeper"):
        parse(nested(MAX_JSON_DEPTH + 1))
    with pytest.raises(ScimError, match="nested deeper"):
        parse('{"a":' * (MAX_JSON_DEPTH + 1) + "1" + "}" * (MAX_JSON_DEPTH + 1))


@pytest.mark.parametrize("depth", [2_000, 200_000])
def test_very_deep_bodies_are_refused_as_scim_errors(depth):
    with pytest.raises(ScimError) as caught:
        parse(nested(depth))
    assert caught.value.status == 400 and caught.value.scim_type == "invalidSyntax"


def test_brackets_inside_strings_do_not_count():
    text = json.dumps({"userName": "[" * 500 + "{" * 500, "x": ["\\\"[[["]})
    assert parse(text)["userName"].startswith("[[[")


def test_invalid_json_says_so():
    with pytest.raises(ScimError, match="not valid JSON"):
        parse('{"a": [1, 2}')
