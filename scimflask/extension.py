"""The Flask extension: `Scim(app)` or `scim.init_app(app)`."""

from __future__ import annotations

from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from . import config as config_module
from .blueprint import make_blueprint
from .cli.flask_commands import register as register_cli_commands
from .config import ConfigKeys
from .errors import ConfigurationError
from .ops.admin.blueprint import admin_enabled, make_admin_blueprint
from .ops.console import make_console_blueprint
from .ops.health import make_health_blueprint
from .server.access_log import AccessLog
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
    SCIM_METRICS_ENABLED, SCIM_METRICS_PATH, SCIM_TRUSTED_PROXIES.

    The instance holds no app: state lives in `app.extensions["scim"]`, so one `Scim` can
    serve several apps, each with its own backend.
    """

    def __init__(self, app: Flask | None = None, **overrides: Any) -> None:
        self._overrides = overrides
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask) -> None:
        """Build the state from `app.config` (plus this instance's overrides), then mount it."""
        mount(app, self.state_for(app))

    def state_for(self, app: Flask) -> ScimState:
        """The state `app.config` (plus this instance's overrides) describes, not yet mounted."""
        if EXTENSION_KEY in app.extensions:
            raise ConfigurationError("a Scim instance has already been registered on this Flask app")
        for key, default in config_module.DEFAULTS.items():
            if key in self._overrides:
                app.config[key] = self._overrides[key]
            app.config.setdefault(key, default)
        config = config_module.validate(app.config)
        return ScimState.build(config, fallback_secret=app.config.get("SECRET_KEY"))


def mount(app: Flask, state: ScimState, *, owns_root: bool = False) -> None:
    """Serve `state` on `app`: the SCIM blueprint, the operating endpoints that are switched on,
    the request limits under the SCIM prefix, request ids and access lines, and ProxyFix when
    SCIM_TRUSTED_PROXIES is set (around the whole app: a host's own routes see the proxied
    client too; a host with a ProxyFix of its own leaves the key at 0).

    Request ids and access lines cover scimflask's own paths, or every path when the app is
    only a SCIM server (`owns_root`, as `create_app` mounts it).
    """
    config = state.config
    prefix = config[ConfigKeys.URL_PREFIX]
    proxies = config[ConfigKeys.TRUSTED_PROXIES]
    if proxies and isinstance(app.wsgi_app, ProxyFix):
        raise ConfigurationError(f"this app is already wrapped in ProxyFix; leave {ConfigKeys.TRUSTED_PROXIES} "
                                 "at 0 and let that one describe the proxies")
    served = [prefix]  # what scimflask answers on a host app: prefixes and operating paths
    if state.metrics is not None:
        served.append(config[ConfigKeys.METRICS_PATH])
        app.register_blueprint(state.metrics.blueprint(config[ConfigKeys.METRICS_PATH]))
    app.register_blueprint(make_blueprint(state), url_prefix=prefix)
    if config[ConfigKeys.HEALTH_ENABLED]:
        health = make_health_blueprint(state.storage)
        app.register_blueprint(health, url_prefix=config[ConfigKeys.HEALTH_PREFIX] or None)
        served.extend(rule.rule for rule in app.url_map.iter_rules() if rule.endpoint.startswith(health.name + "."))
    if admin_enabled(config, state.pm):
        served.append(config[ConfigKeys.ADMIN_URL_PREFIX])
        app.register_blueprint(make_admin_blueprint(state.admin, config, state.pm),
                               url_prefix=config[ConfigKeys.ADMIN_URL_PREFIX])
        app.register_blueprint(make_console_blueprint(state),
                               url_prefix=config[ConfigKeys.ADMIN_URL_PREFIX] + "/console")
    # Over-long URLs and headers under the prefix are refused as SCIM errors before routing.
    app.wsgi_app = RequestLimits(app.wsgi_app, prefix=prefix)  # type: ignore[method-assign]
    # Outside the limits, so that their refusals get a request id and an access line too.
    app.wsgi_app = AccessLog(  # type: ignore[method-assign]
        app.wsgi_app, prefixes=None if owns_root else tuple(served))
    if proxies:
        # Outermost: the access line and every URL the app builds see the client's view.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies,  # type: ignore[method-assign]
                                x_host=proxies, x_port=proxies, x_prefix=proxies)
    app.extensions[EXTENSION_KEY] = state
    app.teardown_appcontext(state.storage.release)
    register_cli_commands(app)
