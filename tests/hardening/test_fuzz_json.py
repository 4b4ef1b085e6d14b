"""Hypothesis against JSON input: arbitrary bytes to the body parser, arbitrary JSON to POST.

`json_body` must turn any bytes into a value or a ScimError; POST /Users and POST /Groups must
answer any JSON document with 201 or a 4xx SCIM error, and a refused body must store nothing.
Strings are drawn without lone surrogates: that input is refused as a whole by the JSON
reader, covered by the catalogue's surrogate cases in test_bad_input.py.
"""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scimflask import create_app
from scimflask.errors import ScimError
from scimflask.protocol.messages import ERROR as ERROR_SCHEMA
from scimflask.views.http import json_body

from ..conftest import TOKEN, ScimClient
from .fuzz_settings import examples

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"

_app = create_app({"SCIM_STORAGE_URI": "memory://", "SCIM_BEARER_TOKENS": (TOKEN,), "TESTING": True,
                   "SCIM_MAX_PAYLOAD_BYTES": 4096})
_client = ScimClient(_app)

BYTE_SOUP = st.binary(max_size=300) | st.lists(st.sampled_from(
    [b"{", b"}", b"[", b"]", b'"', b":", b",", b"\\", b"\\u", b"0", b"1e400", b"-", b"NaN", b"true",
     b"null", b"\xef\xbb\xbf", b"\xff", b"\x00", b" ", b'"schemas"', b'"userName"', b"\xc3\xa9"]),
    max_size=60).map(b"".join)
NAMES = st.sampled_from(["schemas", "userName", "displayName", "name", "emails", "members", "active", "id",
                         "meta", "groups", "password", "externalId", "USERNAME", "x509Certificates",
                         "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User", "value", "primary",
                         "type", "givenName", "manager", "unknown"]) | st.text(max_size=8)
LEAVES = (st.none() | st.booleans() | st.integers(-2**66, 2**66) | st.floats(allow_nan=False, allow_infinity=False)
          | st.text(max_size=20) | st.sampled_from([USER, GROUP, "", "a@b", "true"]))
DOCUMENTS = st.recursive(LEAVES, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(NAMES, inner, max_size=5),
                         max_leaves=20)


@settings(max_examples=examples(300), deadline=None)
@given(raw=BYTE_SOUP, mimetype=st.sampled_from(["application/scim+json", "application/json", "text/plain", ""]))
def test_any_bytes_are_json_or_a_scim_error(raw, mimetype):
    headers = {"Content-Type": mimetype} if mimetype else {}
    with _app.test_request_context("/", method="POST", data=raw, headers=headers):
        try:
            json_body(4096)
        except ScimError as error:
            assert 400 <= error.status < 500


def _count(endpoint: str) -> int:
    return _client.get(f"{endpoint}?count=0").json["totalResults"]


@settings(max_examples=examples(150), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(document=DOCUMENTS | st.dictionaries(NAMES, DOCUMENTS, max_size=6).map(lambda d: {"schemas": [USER], **d}),
       endpoint=st.sampled_from(["/Users", "/Groups"]))
def test_any_json_document_is_created_or_refused_cleanly(document, endpoint):
    before = _count(endpoint)
    answer = _client.post(endpoint, json=document)
    assert answer.status_code == 201 or 400 <= answer.status_code < 500, answer.get_data(as_text=True)[:500]
    if answer.status_code == 201:
        assert _client.delete(f"{endpoint}/{answer.json['id']}").status_code == 204
    else:
        error = json.loads(answer.data)
        assert error["schemas"] == [ERROR_SCHEMA] and error["status"] == str(answer.status_code)
        assert _count(endpoint) == before
