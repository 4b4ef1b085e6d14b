"""The Flask extension: init_app, configuration, several apps in one process."""

from __future__ import annotations

import pytest
from flask import Flask

from scimflask import Scim, create_app
from scimflask.errors import ConfigurationError
from tests.conftest import ScimClient

USER = "urn:ietf:params:scim:schemas:core:2.0:User"


def test_two_apps_in_one_process_use_different_backends():
    scim = Scim()
    first, second = Flask("first"), Flask("second")
    first.config.update(SCIM_STORAGE_URI="memory://", SCIM_BEARER_TOKENS=("t1",))
    second.config.update(SCIM_STORAGE_URI="sqlite://", SCIM_BEARER_TOKENS=("t2",), SCIM_URL_PREFIX="/api/scim")
    scim.init_app(first)
    scim.init_app(second)
    assert type(first.extensions["scim"].storage).__name__ == "MemoryStorage"
    assert type(second.extensions["scim"].storage).__name__ == "SqlStorage"
    one = ScimClient(first, token="t1")
    two = ScimClient(second, prefix="/api/scim", token="t2")
    assert one.post("/Users", json={"schemas": [USER], "userName": "only-in-first"}).status_code == 201
    assert two.get("/Users").json["totalResults"] == 0
    assert ScimClient(second, prefix="/api/scim", token="t1").get("/Users").status_code == 401
    assert not hasattr(scim, "app")


def test_defaults_are_visible_in_app_config_and_init_twice_is_an_error():
    app = Flask("x")
    app.config["SCIM_STORAGE_URI"] = "memory://"
    Scim(app)
    assert app.config["SCIM_URL_PREFIX"] == "/scim/v2" and app.config["SCIM_MAX_PAGE_SIZE"] == 1000
    with pytest.raises(ConfigurationError, match="already been registered"):
        Scim(app)


@pytest.mark.parametrize("config, message", [
    ({}, "SCIM_STORAGE_URI is not set"),
    ({"SCIM_STORAGE_URI": "nosuch://x"}, "unknown storage scheme 'nosuch'; known: "),
    ({"SCIM_STORAGE_URI": "memory://", "SCIM_MAX_PAGE_SIZE": 0}, "SCIM_MAX_PAGE_SIZE"),
    ({"SCIM_STORAGE_URI": "memory://", "SCIM_URL_PREFIX": "scim/"}, "SCIM_URL_PREFIX"),
    ({"SCIM_STORAGE_URI": "memory://", "SCIM_UNKNOWN_MEMBERS": "maybe"}, "SCIM_UNKNOWN_MEMBERS"),
])
def test_configuration_errors_name_the_key(config, message):
    app = Flask("bad")
    app.config.update(config)
    with pytest.raises(ConfigurationError, match=message):
        Scim(app)


def test_environment_configures_the_standalone_app(monkeypatch):
    monkeypatch.setenv("SCIM_STORAGE_URI", "memory://")
    monkeypatch.setenv("SCIM_BEARER_TOKENS", "a,b")
    monkeypatch.setenv("SCIM_MAX_PAGE_SIZE", "500")
    app = create_app()
    assert app.config["SCIM_MAX_PAGE_SIZE"] == 500
    assert ScimClient(app, token="b").get("/Users").status_code == 200
