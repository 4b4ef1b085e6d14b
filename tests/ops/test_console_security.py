"""The console's defences, through Flask's test client: sign-in, sessions, CSRF, headers,
escaping, secrets, throttling, audit lines, and GET requests that change nothing."""

from __future__ import annotations

import json
import logging
import re

import pytest

from scimflask import hookimpl
from scimflask.auth import hash_secret
from scimflask.ops.console import session as console_session

from .test_console_support import (
    ADMIN_TOKEN,
    CONSOLE,
    ConsoleClient,
    console_app,
    scim,
    user,
)

XSS = "<script>alert(1)</script>"


@pytest.fixture
def app():
    return console_app()


@pytest.fixture
def console(app) -> ConsoleClient:
    client = ConsoleClient(app)
    assert client.sign_in().status_code == 303
    return client


def snapshot(app) -> tuple:
    """Everything an admin action could change: tenants, their state and their tokens."""
    service = app.extensions["scim"].admin
    tenants = sorted((t["id"], t["disabled"]) for t in service.list_tenants())
    tokens = sorted((t.id, t.tenant, t.expires) for t in app.extensions["scim"].storage.list_tokens())
    return tenants, tokens


def test_pages_need_a_signed_in_session(app):
    client = ConsoleClient(app)
    for path in ("/tenants", "/tenants/default", "/tenants/default/log", "/tenants/default/activity"):
        response = client.get(path)
        assert response.status_code == 303
        assert response.headers["Location"].endswith(CONSOLE + "/sign-in")
    assert client.get("/tenants/default/log/rows").status_code == 401  # the live tail is told, not redirected


@pytest.mark.parametrize("token", ["", "not-the-admin-token", ADMIN_TOKEN + "x", "scim-static-token-0123456789"])
def test_a_wrong_or_missing_admin_token_is_401(app, token):
    client = ConsoleClient(app)
    response = client.sign_in(token)
    assert response.status_code == 401
    assert "not an admin token" in response.get_data(as_text=True)
    assert client.get("/tenants").status_code == 303  # still not signed in


def test_the_right_admin_token_signs_in(console):
    page = console.get("/tenants")
    assert page.status_code == 200 and "Sign out" in page.get_data(as_text=True)


@pytest.mark.parametrize("csrf", [None, "", "forged-token"])
def test_a_post_without_the_sessions_csrf_token_is_refused(app, console, csrf):
    console.enable_scim("acme")
    before = snapshot(app)
    data = {} if csrf is None else {"csrf_token": csrf}
    for path in ("/tenants/acme/disable", "/tenants/acme/rotate", "/tenants/acme/tokens", "/sign-out"):
        response = console.post(path, data, csrf=False)
        assert response.status_code == 403, path
        assert "CSRF" in response.get_data(as_text=True)
    assert snapshot(app) == before
    assert console.get("/tenants").status_code == 200  # and the sign-out did not happen either


def test_a_csrf_token_of_another_session_is_refused(app, console):
    console.enable_scim("acme")
    other = ConsoleClient(app)
    other.sign_in()
    response = console.post("/tenants/acme/disable", {"csrf_token": other.csrf}, csrf=False)
    assert response.status_code == 403
    assert snapshot(app)[0] == [("acme", False)]


def test_the_sign_in_form_needs_its_csrf_token_too(app):
    client = ConsoleClient(app)
    client.get("/sign-in")
    response = client.post("/sign-in", {"token": ADMIN_TOKEN}, csrf=False)
    assert response.status_code == 403
    assert client.get("/tenants").status_code == 303


def test_an_expired_session_goes_back_to_sign_in(app, console, monkeypatch):
    assert console.get("/tenants").status_code == 200
    lifetime = app.extensions["scim"].config["SCIM_CONSOLE_SESSION_SECONDS"]
    now = console_session.clock()
    monkeypatch.setattr(console_session, "clock", lambda: now + lifetime + 5)
    response = console.get("/tenants")
    assert response.status_code == 303 and response.headers["Location"].endswith("/sign-in")
    # A form sent with the expired session's token is refused as well, and changes nothing.
    assert console.post("/tenants", {"tenant": "late"}).status_code in (303, 403)
    assert [t for t, _ in snapshot(app)[0]] == []


def test_an_altered_cookie_is_not_a_session(app, console):
    cookie = console.client.get_cookie(console_session.COOKIE_NAME, path=CONSOLE + "/")
    kind, rest = cookie.value.split(".", 1)
    tampered = kind[:-2] + ("AA" if kind[-2:] != "AA" else "BB") + "." + rest
    console.client.set_cookie(console_session.COOKIE_NAME, tampered, path=CONSOLE + "/")
    assert console.get("/tenants").status_code == 303


def test_a_session_ends_when_its_admin_token_is_removed(app, console):
    cookie = console.client.get_cookie(console_session.COOKIE_NAME, path=CONSOLE + "/")
    other_app = console_app(SCIM_ADMIN_TOKENS=("another-admin-token-0123456789",))
    client = ConsoleClient(other_app)
    client.client.set_cookie(console_session.COOKIE_NAME, cookie.value, path=CONSOLE + "/")
    assert client.get("/tenants").status_code == 303


def test_session_cookie_flags(app):
    plain = ConsoleClient(app)
    plain.get("/sign-in")
    response = plain.post("/sign-in", {"token": ADMIN_TOKEN})
    header = response.headers["Set-Cookie"]
    assert console_session.COOKIE_NAME + "=" in header
    assert "HttpOnly" in header and "SameSite=Strict" in header and f"Path={CONSOLE}/" in header
    assert "Max-Age=" in header and "Secure" not in header
    secure = ConsoleClient(app)
    secure.client.get(CONSOLE + "/sign-in", base_url="https://localhost")
    html = secure.client.get(CONSOLE + "/sign-in", base_url="https://localhost").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    response = secure.client.post(CONSOLE + "/sign-in", data={"token": ADMIN_TOKEN, "csrf_token": token},
                                  base_url="https://localhost")
    assert response.status_code == 303
    assert "Secure" in response.headers["Set-Cookie"] and "HttpOnly" in response.headers["Set-Cookie"]
    assert ADMIN_TOKEN not in response.headers["Set-Cookie"]


def _pages(console: ConsoleClient, tenant: str) -> list[str]:
    """Every GET page of the console for `tenant`, entry pages included."""
    log = console.get(f"/tenants/{tenant}/log").get_data(as_text=True)
    entries = re.findall(rf'href="{CONSOLE}/tenants/{tenant}/log/([0-9a-f]+)"', log)
    tokens = [t["id"] for t in console.app.extensions["scim"].admin.list_tokens(tenant)]
    paths = ["/tenants", "/sign-in", f"/tenants/{tenant}", f"/tenants/{tenant}/log",
             f"/tenants/{tenant}/log?outcome=failure", f"/tenants/{tenant}/log/rows", f"/tenants/{tenant}/activity",
             *(f"/tenants/{tenant}/{action}" for action in ("disable", "enable", "delete", "rotate")),
             *(f"/tenants/{tenant}/log/{entry}" for entry in entries),
             *(f"/tenants/{tenant}/tokens/{token}/revoke" for token in tokens)]
    return paths


def test_content_security_policy_and_headers_on_every_page(console):
    console.enable_scim("acme")
    for path in _pages(console, "acme") + ["/static/console.css", "/no-such-page"]:
        response = console.get(path)
        csp = response.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp, path
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["X-Frame-Options"] == "DENY"
        if response.mimetype == "text/html":
            html = response.get_data(as_text=True)
            assert response.headers["Cache-Control"] == "no-store"
            # Nothing the CSP would have to allow: no inline script, handlers or styles.
            assert not re.search(r"<script(?![^>]*\bsrc=)", html), path
            assert not re.search(r"\son[a-z]+=|\sstyle=|<style", html), path


def test_no_stored_secret_or_hash_on_any_page(app, console):
    secrets = [console.enable_scim("acme")]
    issued = console.post("/tenants/acme/tokens", {"description": "second"})
    secrets.append(re.search(r'id="secret-token" type="text" value="([^"]+)"', issued.get_data(as_text=True)).group(1))
    rotated = console.post("/tenants/acme/rotate")
    assert rotated.status_code == 201
    secrets.append(re.search(r'id="secret-token" type="text" value="([^"]+)"', rotated.get_data(as_text=True)).group(1))
    assert scim(app, secrets[-1], "POST", "/Users", user("ada@example.com")).status_code == 201
    assert scim(app, secrets[-1], "POST", "/Users", user("ada@example.com")).status_code == 409
    forbidden = [*secrets, *(hash_secret(s) for s in secrets), ADMIN_TOKEN, hash_secret(ADMIN_TOKEN)]
    forbidden += [t.secret_hash for t in app.extensions["scim"].storage.list_tokens()]
    for path in _pages(console, "acme"):
        response = console.get(path)
        assert response.status_code == (303 if path == "/sign-in" else 200), path
        body = response.get_data(as_text=True) + str(response.headers)
        assert not [secret for secret in forbidden if secret in body], path


def test_a_new_secret_is_shown_once(console):
    secret = console.enable_scim("acme")
    assert "shown only on this page" in console.client.post(  # the POST response is the only place
        CONSOLE + "/tenants/acme/tokens", data={"csrf_token": console.csrf}).get_data(as_text=True)
    for path in _pages(console, "acme"):
        assert secret not in console.get(path).get_data(as_text=True)


def test_an_xss_user_name_is_shown_as_text(app, console):
    token = console.enable_scim("acme")
    created = scim(app, token, "POST", "/Users", user(XSS))
    assert created.status_code == 201
    assert scim(app, token, "POST", "/Users", user(XSS)).status_code == 409
    assert scim(app, token, "PUT", "/Users/" + XSS, user(XSS)).status_code == 404  # the path is in the log too
    escaped = "&lt;script&gt;alert(1)&lt;/script&gt;"
    entry = re.search(r'/tenants/acme/log/([0-9a-f]+)"', console.get("/tenants/acme/log").get_data(as_text=True))
    for path in ("/tenants/acme", "/tenants/acme/log", "/tenants/acme/log?q=script", "/tenants/acme/log/rows",
                 f"/tenants/acme/log/{entry.group(1)}"):
        html = console.get(path).get_data(as_text=True)
        assert XSS not in html and "<script>alert" not in html, path
        assert escaped in html, path


def test_sign_in_brute_force_gets_429(app):
    attacker = ConsoleClient(app, address="203.0.113.9")
    for _ in range(5):
        assert attacker.sign_in("guess").status_code == 401
    refused = attacker.sign_in(ADMIN_TOKEN)  # even the right token, until the window has passed
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
    assert attacker.get("/tenants").status_code == 303
    neighbour = ConsoleClient(app, address="203.0.113.10")
    assert neighbour.sign_in(ADMIN_TOKEN).status_code == 303


def test_admin_actions_are_audited(app, console, caplog):
    caplog.set_level(logging.INFO, logger="scimflask.audit")
    secret = console.enable_scim("acme")
    issued = console.post("/tenants/acme/tokens")
    console.post("/tenants/acme/rotate")
    token_id = re.search(r'id="token-id">([0-9a-f]+)<', issued.get_data(as_text=True)).group(1)
    console.post(f"/tenants/acme/tokens/{token_id}/revoke")
    console.post("/tenants/acme/disable")
    console.post("/tenants/acme/enable")
    console.post("/tenants/acme/delete", {"confirm": "acme"})
    console.post("/sign-out")
    stranger = ConsoleClient(app, address="192.0.2.77")
    stranger.sign_in("wrong")
    lines = [json.loads(r.getMessage()) for r in caplog.records
             if r.name == "scimflask.audit" and r.getMessage().startswith('{"time"')]
    events = [(line["event"], line["outcome"]) for line in lines]
    assert events == [("console.enable_scim", "success"), ("console.issue_token", "success"),
                      ("console.rotate", "success"), ("console.revoke", "success"), ("console.disable", "success"),
                      ("console.enable", "success"), ("console.delete", "success"), ("console.sign_out", "success"),
                      ("console.sign_in", "failure")]
    assert {line["client"] for line in lines[:-1]} == {console.client.environ_base["REMOTE_ADDR"]}
    assert lines[-1]["client"] == "192.0.2.77"
    assert {line["actor"] for line in lines[:-1]} == {lines[0]["actor"]} and lines[0]["actor"].startswith("admin-token:")
    assert lines[3]["tokenId"] == token_id and lines[1]["tenant"] == "acme"
    text = caplog.text
    assert secret not in text and ADMIN_TOKEN not in text


def test_sign_in_is_audited(app, caplog):
    caplog.set_level(logging.INFO, logger="scimflask.audit")
    ConsoleClient(app).sign_in()
    line = json.loads(caplog.records[-1].getMessage())
    assert line["event"] == "console.sign_in" and line["outcome"] == "success" and line["actor"].startswith("admin-token:")


def test_get_never_changes_state(app, console):
    console.enable_scim("acme")
    before = snapshot(app)
    paths = _pages(console, "acme")
    token = before[1][0][0]
    paths += ["/tenants/acme/tokens", f"/tenants/acme/tokens/{token}/revoke", "/sign-out",
              "/tenants/acme/disable?csrf_token=" + console.csrf, "/tenants/acme/delete?confirm=acme"]
    for path in paths:
        for method in ("GET", "HEAD"):
            console.client.open(CONSOLE + path, method=method)
    assert snapshot(app) == before
    assert console.get("/tenants/acme/tokens").status_code == 405
    assert console.get("/sign-out").status_code == 405
    assert console.get("/tenants").status_code == 200  # still signed in


def test_revoking_needs_the_tokens_own_tenant(app, console):
    console.enable_scim("acme")
    console.enable_scim("other")
    other_token = app.extensions["scim"].admin.list_tokens("other")[0]["id"]
    assert console.post(f"/tenants/acme/tokens/{other_token}/revoke").status_code == 404
    assert [t["id"] for t in app.extensions["scim"].admin.list_tokens("other")] == [other_token]


def test_delete_needs_the_tenant_id_typed(app, console):
    console.enable_scim("acme")
    assert console.post("/tenants/acme/delete", {"confirm": "acm"}).status_code == 400
    assert snapshot(app)[0] == [("acme", False)]
    assert console.post("/tenants/acme/delete", {"confirm": "acme"}).status_code == 303
    assert snapshot(app)[0] == []


class HostAdmits:
    """The host's own login: admits requests with X-Host-Admin: yes, refuses X-Host-Admin: no."""

    @hookimpl
    def scimflask_authorize_admin(self, request, config):
        return {"yes": True, "no": False}.get(request.headers.get("X-Host-Admin", ""))


def test_the_host_hook_admits_without_a_sign_in_form():
    app = console_app(SCIM_PLUGINS=(HostAdmits(),))
    host = ConsoleClient(app)
    page = host.get("/tenants", headers={"X-Host-Admin": "yes"})
    assert page.status_code == 200 and "Admitted by the host application" in page.get_data(as_text=True)
    assert host.get("/sign-in", headers={"X-Host-Admin": "yes"}).status_code == 303
    # Its forms still need the CSRF token.
    assert host.post("/tenants", {"tenant": "acme"}, csrf=False, headers={"X-Host-Admin": "yes"}).status_code == 403
    assert host.post("/tenants", {"tenant": "acme"}, headers={"X-Host-Admin": "yes"}).status_code == 201
    # A refusal by the host stands even for a visitor signed in with an admin token.
    signed_in = ConsoleClient(app)
    assert signed_in.sign_in().status_code == 303
    assert signed_in.get("/tenants", headers={"X-Host-Admin": "no"}).status_code == 403
    assert signed_in.get("/tenants").status_code == 200
