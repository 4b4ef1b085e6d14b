"""Behind a proxy: SCIM_TRUSTED_PROXIES (werkzeug's ProxyFix) and SCIM_PUBLIC_BASE_URL decide the
URLs the server hands out (meta.location, Location, $ref) and the client address it logs."""

from __future__ import annotations

import json
import logging

import pytest
from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from scimflask import Scim, create_app
from scimflask.errors import ConfigurationError
from tests.conftest import TOKEN

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
FORWARDED = {"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https",
             "X-Forwarded-Host": "scim.example.com", "X-Forwarded-Port": "443",
             "X-Forwarded-Prefix": "/idp"}


def make(**config):
    return create_app({"SCIM_STORAGE_URI": "memory://", "SCIM_BEARER_TOKENS": (TOKEN,),
                       "SCIM_SECRET_KEY": "proxies", "TESTING": True, **config})


def create_user_and_group(app, headers=None) -> tuple:
    client = app.test_client()
    sent = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/scim+json", **(headers or {})}
    user = client.post("/scim/v2/Users", headers=sent, data=json.dumps({"schemas": [USER], "userName": "ada"}))
    group = client.post("/scim/v2/Groups", headers=sent, data=json.dumps(
        {"schemas": [GROUP], "displayName": "staff", "members": [{"value": user.get_json()["id"]}]}))
    return user, group


def test_forwarded_headers_are_ignored_without_trusted_proxies():
    user, _ = create_user_and_group(make(), FORWARDED)
    assert user.headers["Location"].startswith("http://localhost/scim/v2/Users/")


def test_trusted_proxies_give_the_client_facing_urls_and_address(caplog):
    caplog.set_level(logging.INFO, logger="scimflask.access")
    user, group = create_user_and_group(make(SCIM_TRUSTED_PROXIES=1), FORWARDED)
    base = "https://scim.example.com/idp/scim/v2"
    user_id = user.get_json()["id"]
    assert user.headers["Location"] == f"{base}/Users/{user_id}"
    assert user.get_json()["meta"]["location"] == f"{base}/Users/{user_id}"
    assert group.get_json()["members"][0]["$ref"] == f"{base}/Users/{user_id}"
    assert {r.fields["client"] for r in caplog.records if r.name == "scimflask.access"} == {"203.0.113.9"}


def test_only_the_trusted_number_of_proxies_counts():
    headers = {**FORWARDED, "X-Forwarded-Host": "forged.example, scim.example.com"}
    user, _ = create_user_and_group(make(SCIM_TRUSTED_PROXIES=1), headers)
    assert user.headers["Location"].startswith("https://scim.example.com/idp/scim/v2/Users/")


def test_public_base_url_wins_over_the_request():
    app = make(SCIM_PUBLIC_BASE_URL="https://public.example.org/", SCIM_TRUSTED_PROXIES=1)
    user, group = create_user_and_group(app, FORWARDED)
    base = "https://public.example.org/scim/v2"
    user_id = user.get_json()["id"]
    assert user.headers["Location"] == f"{base}/Users/{user_id}"
    assert user.get_json()["meta"]["location"] == f"{base}/Users/{user_id}"
    assert group.get_json()["members"][0]["$ref"] == f"{base}/Users/{user_id}"
    config = app.test_client().get("/scim/v2/ServiceProviderConfig", headers={"Authorization": f"Bearer {TOKEN}"})
    assert config.get_json()["meta"]["location"] == f"{base}/ServiceProviderConfig"


def host_with_proxy_fix() -> Flask:
    host = Flask("host")
    host.wsgi_app = ProxyFix(host.wsgi_app, x_proto=1, x_host=1)  # type: ignore[method-assign]
    return host


def test_an_app_with_its_own_proxy_fix_is_told_to_keep_one():
    with pytest.raises(ConfigurationError, match="already wrapped in ProxyFix"):
        Scim(host_with_proxy_fix(), SCIM_STORAGE_URI="memory://", SCIM_TRUSTED_PROXIES=1)
    host = host_with_proxy_fix()
    Scim(host, SCIM_BEARER_TOKENS=(TOKEN,), SCIM_STORAGE_URI="memory://")  # its own ProxyFix alone serves
    user, _ = create_user_and_group(host, FORWARDED)
    assert user.headers["Location"].startswith("https://scim.example.com/scim/v2/Users/")
