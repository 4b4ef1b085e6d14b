"""The Flask extension: `Scim(app)` or `scim.init_app(app)`."""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass, field
from typing import Any, Mapping

import pluggy
from flask import Flask, current_app

from . import config as config_module
from .config import ConfigKeys
from .errors import ConfigurationError
from .plugins import make_plugin_manager
from .protocol.limits import RequestLimits
from .protocol.paging import CursorCodec
from .schema import default_catalog
from .schema.catalog import Catalog
from .storage.base import Storage
from .storage.registry import StorageRegistry

EXTENSION_KEY = "scim"
log = logging.getLogger("scimflask")


@dataclass
class ScimState:
    """Everything one app's SCIM endpoints need, built once in `init_app`."""

    config: Mapping[str, Any]
    pm: pluggy.PluginManager
    catalog: Catalog
    storage: Storage
    cursors: CursorCodec
    validators: dict = field(default_factory=dict)

    def validator(self, resource_type: str):
        """The request-body validator of a resource type (built on first use, then reused)."""
        from .schema.validate import ResourceValidator

        key = resource_type.lower()
        if key not in self.validators:
            unknown = "ignore" if self.config[ConfigKeys.UNKNOWN_ATTRIBUTES] == "ignore" else "raise"
            self.validators[key] = ResourceValidator(
                self.catalog, self.catalog.resource_type(resource_type), unknown=unknown)
        return self.validators[key]


def current_scim() -> ScimState:
    """The state of the current app's Scim extension."""
    try:
        return current_app.extensions[EXTENSION_KEY]
    except KeyError:
        raise RuntimeError(
            "scimflask is not initialised on this app; did you forget to call Scim.init_app(app)?"
        ) from None


class Scim:
    """SCIM 2.0 endpoints for a Flask app.

    Reads these `app.config` keys once (defaults in `scimflask.config.DEFAULTS`):
    SCIM_STORAGE_URI (required, no silent default), SCIM_STORAGE_OPTIONS, SCIM_URL_PREFIX,
    SCIM_BEARER_TOKENS, SCIM_DEFAULT_TENANT, SCIM_DEFAULT_PAGE_SIZE, SCIM_MAX_PAGE_SIZE,
    SCIM_MAX_PAYLOAD_BYTES, SCIM_MAX_FILTER_LENGTH, SCIM_BULK_MAX_OPERATIONS,
    SCIM_CURSOR_TIMEOUT, SCIM_SECRET_KEY, SCIM_UNKNOWN_MEMBERS, SCIM_UNKNOWN_ATTRIBUTES,
    SCIM_PATCH_RESPONSE, SCIM_PATCH_RESPONSE_MAX_MEMBERS, SCIM_PLUGINS, SCIM_BLOCKED_PLUGINS,
    SCIM_DISABLE_PLUGIN_AUTOLOAD.

    The instance holds no app: state lives in `app.extensions["scim"]`, so one `Scim` can
    serve several apps, each with its own backend.
    """

    def __init__(self, app: Flask | None = None, **overrides: Any) -> None:
        self._overrides = overrides
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask) -> None:
        if EXTENSION_KEY in app.extensions:
            raise ConfigurationError("a Scim instance has already been registered on this Flask app")
        for key, default in config_module.DEFAULTS.items():
            if key in self._overrides:
                app.config[key] = self._overrides[key]
            app.config.setdefault(key, default)
        config = config_module.validate(app.config)

        pm = make_plugin_manager(
            extra_plugins=config[ConfigKeys.PLUGINS],
            blocked=config[ConfigKeys.BLOCKED_PLUGINS],
            autoload=not config[ConfigKeys.DISABLE_PLUGIN_AUTOLOAD],
        )
        catalog = default_catalog()
        pm.hook.scimflask_register_schemas(catalog=catalog)
        registry = StorageRegistry()
        pm.hook.scimflask_register_storage(registry=registry)
        uri = config[ConfigKeys.STORAGE_URI]
        storage_class = registry.lookup(uri)
        storage = storage_class.from_uri(uri, dict(config[ConfigKeys.STORAGE_OPTIONS]), catalog)

        secret = config[ConfigKeys.SECRET_KEY] or app.config.get("SECRET_KEY")
        if not secret:
            secret = secrets.token_bytes(32)
            log.info("SCIM_SECRET_KEY not set: cursors are signed with a per-process key and "
                     "are only valid on the worker that issued them")
        if isinstance(secret, str):
            secret = secret.encode("utf-8")
        state = ScimState(
            config=config, pm=pm, catalog=catalog, storage=storage,
            cursors=CursorCodec(secret, config[ConfigKeys.CURSOR_TIMEOUT]),
        )
        from .blueprint import make_blueprint

        app.register_blueprint(make_blueprint(state), url_prefix=config[ConfigKeys.URL_PREFIX])
        # Over-long URLs and headers under the prefix are refused as SCIM errors before routing.
        app.wsgi_app = RequestLimits(app.wsgi_app, prefix=config[ConfigKeys.URL_PREFIX])
        app.extensions[EXTENSION_KEY] = state
        app.teardown_appcontext(storage.release)
