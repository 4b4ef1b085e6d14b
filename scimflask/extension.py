"""The Flask extension: `Scim(app)` or `scim.init_app(app)`."""

from __future__ import annotations

from typing import Any

from flask import Flask

from . import config as config_module
from .blueprint import make_blueprint
from .config import ConfigKeys
from .errors import ConfigurationError
from .ops.admin.blueprint import admin_enabled, make_admin_blueprint
from .ops.health import make_health_blueprint
from .server.limits import RequestLimits
from .state import EXTENSION_KEY, ScimState


class Scim:
    """SCIM 2.0 endpoints for a Flask app.

    Reads these `app.config` keys once (defaults in `scimflask.config.DEFAULTS`):
    SCIM_STORAGE_URI (required, no silent default), SCIM_STORAGE_OPTIONS, SCIM_URL_PREFIX,
    SCIM_BEARER_TOKENS, SCIM_DEFAULT_TENANT, SCIM_DEFAULT_PAGE_SIZE, SCIM_MAX_PAGE_SIZE,
    SCIM_MAX_PAYLOAD_BYTES, SCIM_MAX_FILTER_LENGTH, SCIM_BULK_MAX_OPERATIONS,
    SCIM_CURSOR_TIMEOUT, SCIM_SECRET_KEY, SCIM_UNKNOWN_MEMBERS, SCIM_UNKNOWN_ATTRIBUTES,
    SCIM_PATCH_RESPONSE, SCIM_PATCH_RESPONSE_MAX_MEMBERS, SCIM_PLUGINS, SCIM_BLOCKED_PLUGINS,
    SCIM_DISABLE_PLUGIN_AUTOLOAD, SCIM_PUBLIC_BASE_URL, SCIM_ADMIN_TOKENS, SCIM_ADMIN_URL_PREFIX,
    SCIM_TOKEN_ROTATION_GRACE, SCIM_LOG_ENABLED, SCIM_LOG_READS, SCIM_LOG_RETENTION_DAYS,
    SCIM_LOG_MAX_ENTRIES_PER_TENANT, SCIM_RATE_LIMIT, SCIM_HEALTH_ENABLED, SCIM_HEALTH_PREFIX,
    SCIM_METRICS_ENABLED, SCIM_METRICS_PATH.

    The instance holds no app: state lives in `app.extensions["scim"]`, so one `Scim` can
    serve several apps, each with its own backend.
    """

    def __init__(self, app: Flask | None = None, **overrides: Any) -> None:
        self._overrides = overrides
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask) -> None:
        """Build the state from `app.config` (plus this instance's overrides), then mount it."""
        if EXTENSION_KEY in app.extensions:
            raise ConfigurationError("a Scim instance has already been registered on this Flask app")
        for key, default in config_module.DEFAULTS.items():
            if key in self._overrides:
                app.config[key] = self._overrides[key]
            app.config.setdefault(key, default)
        config = config_module.validate(app.config)
        state = ScimState.build(config, fallback_secret=app.config.get("SECRET_KEY"))
        mount(app, state)


def mount(app: Flask, state: ScimState) -> None:
    """Serve `state` on `app`: the SCIM blueprint, the operating endpoints that are switched on,
    and the request limits under the SCIM prefix."""
    config = state.config
    prefix = config[ConfigKeys.URL_PREFIX]
    if state.metrics is not None:
        app.register_blueprint(state.metrics.blueprint(config[ConfigKeys.METRICS_PATH]))
    app.register_blueprint(make_blueprint(state), url_prefix=prefix)
    if config[ConfigKeys.HEALTH_ENABLED]:
        app.register_blueprint(make_health_blueprint(state.storage),
                               url_prefix=config[ConfigKeys.HEALTH_PREFIX] or None)
    if admin_enabled(config, state.pm):
        app.register_blueprint(make_admin_blueprint(state.admin, config, state.pm),
                               url_prefix=config[ConfigKeys.ADMIN_URL_PREFIX])
    # Over-long URLs and headers under the prefix are refused as SCIM errors before routing.
    app.wsgi_app = RequestLimits(app.wsgi_app, prefix=prefix)  # type: ignore[method-assign]
    app.extensions[EXTENSION_KEY] = state
    app.teardown_appcontext(state.storage.release)
