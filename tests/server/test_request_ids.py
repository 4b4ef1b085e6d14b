"""Request ids and access lines, in-process: every response names its request, every request
gets one access line, and no line holds a secret."""

from __future__ import annotations

import json
import logging
import re

import pytest
from flask import Flask

from scimflask import Scim, create_app
from scimflask.server.access_log import MAX_LOGGED_TARGET, loggable_target, scrub_query
from scimflask.server.limits import MAX_URI_LENGTH
from tests.conftest import TOKEN

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
GENERATED = re.compile(r"[0-9a-f]{13,}-[0-9a-f]+")  # random prefix and pid, then a counter


@pytest.fixture
def app():
    return create_app({"SCIM_STORAGE_URI": "memory://", "SCIM_BEARER_TOKENS": (TOKEN,),
                       "SCIM_SECRET_KEY": "request-ids", "SCIM_METRICS_ENABLED": True, "TESTING": True})


@pytest.fixture
def access_lines(caplog):
    """The `fields` of each access line logged so far (a response's line is written once its
    body has been read)."""
    caplog.set_level(logging.INFO, logger="scimflask.access")
    return lambda: [r.fields for r in caplog.records if r.name == "scimflask.access"]


def send(app, method: str, path: str, **kwargs):
    response = app.test_client().open(path, method=method, **kwargs)
    response.get_data()  # the whole body handed over: the access line is written now
    return response


def test_a_sane_request_id_is_echoed_and_logged(app, access_lines):
    response = send(app, "GET", "/scim/v2/Users", headers={**AUTH, "X-Request-Id": "entra-7f3a:9.1"})
    assert response.status_code == 200
    assert response.headers["X-Request-Id"] == "entra-7f3a:9.1"
    [line] = access_lines()
    assert line["requestId"] == "entra-7f3a:9.1"
    assert (line["method"], line["path"], line["status"]) == ("GET", "/scim/v2/Users", 200)
    assert line["tenant"] == "default" and line["tokenId"] == "config-0"
    assert line["durationMs"] >= 0 and line["client"] == "127.0.0.1"


@pytest.mark.parametrize("sent", ["x" * 129, "has space", "tab\there", "<script>", "quote\"", "", "é"])
def test_an_insane_request_id_is_replaced(app, access_lines, sent):
    response = send(app, "GET", "/scim/v2/Users", headers={**AUTH, "X-Request-Id": sent})
    assert GENERATED.fullmatch(response.headers["X-Request-Id"])
    assert access_lines()[0]["requestId"] == response.headers["X-Request-Id"]


def test_each_request_gets_its_own_id_and_one_line(app, access_lines):
    ids = {send(app, "GET", "/scim/v2/ServiceProviderConfig", headers=AUTH).headers["X-Request-Id"]
           for _ in range(3)}
    assert len(ids) == 3 and all(GENERATED.fullmatch(i) for i in ids)
    assert sorted(line["requestId"] for line in access_lines()) == sorted(ids)


@pytest.mark.parametrize("method, path, headers, status", [
    pytest.param("GET", "/scim/v2/Users", {}, 401, id="unauthenticated"),
    pytest.param("GET", "/scim/v2/Nothing", AUTH, 404, id="unknown-endpoint"),
    pytest.param("DELETE", "/scim/v2/ServiceProviderConfig", AUTH, 405, id="method"),
    pytest.param("GET", "/scim/v2/Users?filter=" + "a" * MAX_URI_LENGTH, AUTH, 414, id="limits-middleware"),
    pytest.param("GET", "/scim/v2/Users", {**AUTH, "X-Big": "b" * 9000}, 431, id="limits-header"),
    pytest.param("POST", "/scim/v2/Users", {**AUTH, "Content-Type": "application/scim+json"}, 400, id="bad-body"),
    pytest.param("GET", "/not-scim", {}, 404, id="outside-prefix"),
    pytest.param("GET", "/healthz", {}, 200, id="health"),
    pytest.param("GET", "/metrics", {}, 200, id="metrics"),
])
def test_every_answer_carries_the_request_id(app, access_lines, method, path, headers, status):
    response = send(app, method, path, headers={**headers, "X-Request-Id": "req-1"}, data=b"{not json")
    assert response.status_code == status
    assert response.headers["X-Request-Id"] == "req-1"
    [line] = access_lines()
    assert line["requestId"] == "req-1" and line["status"] == status


def test_access_lines_hold_no_secret(app, caplog, access_lines):
    send(app, "GET", "/scim/v2/Users?count=1&access_token=s3cret-1&Token=s3cret-2&apiKey=s3cret-3",
         headers=AUTH)
    [line] = access_lines()
    assert line["path"] == "/scim/v2/Users?count=1&access_token=[redacted]&Token=[redacted]&apiKey=[redacted]"
    text = caplog.text
    assert "s3cret" not in text and TOKEN not in text and "Bearer" not in text


def test_the_audit_line_names_the_request(app, caplog):
    caplog.set_level(logging.INFO, logger="scimflask.audit")
    response = send(app, "POST", "/scim/v2/Users", headers={**AUTH, "X-Request-Id": "create-1",
                                                            "Content-Type": "application/scim+json"},
                    data=json.dumps({"schemas": [USER], "userName": "ada"}))
    assert response.status_code == 201
    [audit] = [r for r in caplog.records if r.name == "scimflask.audit"]
    assert json.loads(audit.getMessage())["requestId"] == "create-1"
    assert audit.fields["requestId"] == "create-1" and audit.fields["method"] == "POST"


def test_an_embedding_host_keeps_its_own_routes(access_lines):
    host = Flask("host")

    @host.get("/page")
    def page():
        return "host page"

    Scim(host, SCIM_STORAGE_URI="memory://", SCIM_BEARER_TOKENS=(TOKEN,), SCIM_HEALTH_ENABLED=True)
    assert "X-Request-Id" not in send(host, "GET", "/page").headers
    assert "X-Request-Id" not in send(host, "GET", "/elsewhere").headers
    assert send(host, "GET", "/scim/v2/Users", headers=AUTH).headers["X-Request-Id"]
    assert send(host, "GET", "/readyz").headers["X-Request-Id"]
    assert [line["path"] for line in access_lines()] == ["/scim/v2/Users", "/readyz"]


def test_scrub_query_keeps_everything_but_secret_values():
    assert scrub_query("filter=userName%20eq%20%22a%22&count=5") == "filter=userName%20eq%20%22a%22&count=5"
    assert scrub_query("a=1&client_secret=x&password=y&sig&auth=z") == \
        "a=1&client_secret=[redacted]&password=[redacted]&sig&auth=[redacted]"
    assert scrub_query("access%5Ftoken=x") == "access%5Ftoken=[redacted]"


def test_loggable_target_is_one_bounded_line():
    assert loggable_target("/scim/v2/Users/a\nb\x1b") == "/scim/v2/Users/a\\x0ab\\x1b"
    long = loggable_target("/scim/v2/Users?filter=" + "a" * 10_000)
    assert len(long) == MAX_LOGGED_TARGET + 3 and long.endswith("...")
