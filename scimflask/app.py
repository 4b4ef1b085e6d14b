"""`create_app(config)`: a Flask app that is only a SCIM server (the standalone mode)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask

from .config import ConfigKeys, from_environ
from .extension import Scim, mount


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build a standalone SCIM app. `SCIM_*` environment variables are read first, then
    `config` overrides them."""
    app = Flask("scimflask")
    # A standalone server owns its root, so its health checks are on unless switched off.
    app.config[ConfigKeys.HEALTH_ENABLED] = True
    app.config.update(from_environ())
    if config:
        app.config.update(config)
    # It owns every path too: requests for any of them get request ids and access lines (an
    # identity provider configured with a wrong Tenant URL shows up in the log).
    mount(app, Scim().state_for(app), owns_root=True)
    return app
