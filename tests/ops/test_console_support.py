"""What the console tests share: an app with the console mounted, and a signed-in test client.

It holds no tests. The console is mounted here when `mount` has not done it, so these tests
run the same whether or not the extension registers the console itself.
"""

from __future__ import annotations

import re
import secrets

from flask import Flask

from scimflask import create_app
from scimflask.ops.console import make_console_blueprint

ADMIN_TOKEN = "admin-token-0123456789"
CONSOLE = "/scim-admin/console"
SCIM_TOKEN = "scim-static-token-0123456789"
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def mount_console(app: Flask) -> Flask:
    """Register the console on `app` unless the extension already did."""
    if "scim_console" not in app.blueprints:
        state = app.extensions["scim"]
        app.register_blueprint(make_console_blueprint(state),
                               url_prefix=state.config["SCIM_ADMIN_URL_PREFIX"] + "/console")
    return app


def console_app(**config) -> Flask:
    """A standalone server on the memory backend with the admin API and the console on."""
    base = {"SCIM_STORAGE_URI": "memory://", "SCIM_ADMIN_TOKENS": (ADMIN_TOKEN,),
            "SCIM_SECRET_KEY": "console-test-secret", "SCIM_LOG_BACKGROUND": False,
            "SCIM_BEARER_TOKENS": (SCIM_TOKEN,), "SCIM_DEFAULT_TENANT": "default", "TESTING": True}
    base.update(config)
    return mount_console(create_app(base))


def csrf_of(html: str) -> str:
    found = _CSRF.search(html)
    assert found, "the page has no form with a CSRF token"
    return found.group(1)


def fresh_address() -> str:
    """A client address no other test uses: sign-in attempts are counted per address in the
    storage, which tests on a shared database or Redis have in common."""
    return f"2001:db8::{secrets.randbits(16):x}:{secrets.randbits(16):x}:{secrets.randbits(16):x}"


class ConsoleClient:
    """A Flask test client that fills in the CSRF token of the last page it read; it comes
    from `address`, else from an address of its own."""

    def __init__(self, app: Flask, address: str | None = None) -> None:
        self.app = app
        self.client = app.test_client()
        self.client.environ_base["REMOTE_ADDR"] = address or fresh_address()
        self.csrf = ""

    def get(self, path: str, **kwargs):
        response = self.client.get(CONSOLE + path, **kwargs)
        found = _CSRF.search(response.get_data(as_text=True))
        if found:
            self.csrf = found.group(1)
        return response

    def post(self, path: str, data: dict | None = None, *, csrf: bool = True, **kwargs):
        form = dict(data or {})
        if csrf:
            if not self.csrf:
                self.get("/sign-in")
            form.setdefault("csrf_token", self.csrf)
        return self.client.post(CONSOLE + path, data=form, **kwargs)

    def sign_in(self, token: str = ADMIN_TOKEN, **kwargs):
        self.get("/sign-in", **kwargs)
        response = self.post("/sign-in", {"token": token}, **kwargs)
        if response.status_code == 303:
            self.get("/tenants")  # the signed-in session has a CSRF token of its own
        return response

    def enable_scim(self, tenant: str) -> str:
        """Enable SCIM for `tenant` in the console; the secret from the one page that shows it."""
        response = self.post("/tenants", {"tenant": tenant})
        assert response.status_code == 201, response.get_data(as_text=True)
        return secret_on(response.get_data(as_text=True))


def secret_on(html: str) -> str:
    found = re.search(r'id="secret-token" type="text" value="([^"]+)"', html)
    assert found, "no secret on the page"
    return found.group(1)


def scim(app: Flask, token: str, method: str, path: str, body: dict | None = None):
    """A SCIM request as an identity provider sends it."""
    import json

    headers = {"Authorization": f"Bearer {token}"}
    data = None
    if body is not None:
        data = json.dumps(body)
        headers["Content-Type"] = "application/scim+json"
    return app.test_client().open("/scim/v2" + path, method=method, headers=headers, data=data)


def user(name: str) -> dict:
    return {"schemas": [USER_SCHEMA], "userName": name}
