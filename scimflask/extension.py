"""The Flask extension: `Scim(app)` or `scim.init_app(app)`."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pluggy
from flask import Flask, current_app

from . import config as config_module
from .auth import hash_secret
from .config import ConfigKeys
from .errors import ConfigurationError
from .plugins import make_plugin_manager
from .protocol.limits import RequestLimits
from .protocol.paging import CursorCodec
from .protocol.ratelimit import RateLimit
from .provisioning_log import ProvisioningLog
from .schema import default_catalog
from .schema.catalog import Catalog
from .storage.base import Storage
from .storage.capabilities import CounterSupport
from .storage.registry import StorageRegistry
from .tenancy import TenantStatus, TokenUsage

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
    log: ProvisioningLog
    rate_limit: RateLimit | None = None
    metrics: Any = None  # scimflask.metrics.ScimMetrics when SCIM_METRICS_ENABLED
    admin: Any = None  # scimflask.admin.AdminService
    token_usage: TokenUsage = field(default_factory=TokenUsage)
    tenant_status: TenantStatus = field(default_factory=TenantStatus)
    static_token_hashes: tuple[str, ...] = ()
    validators: dict = field(default_factory=dict)

    parse_filter: Callable[[str, str], Any] = field(init=False)

    def __post_init__(self) -> None:
        from .filter.cache import FilterCache

        # Identity providers repeat the same few filter shapes with new values: the cache
        # parses each shape once (see scimflask.filter.cache).
        self.parse_filter = FilterCache(self.catalog, max_length=self.config[ConfigKeys.MAX_FILTER_LENGTH]).parse

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
        provisioning_log = ProvisioningLog(
            storage, catalog, enabled=config[ConfigKeys.LOG_ENABLED], reads=config[ConfigKeys.LOG_READS],
            retention_days=config[ConfigKeys.LOG_RETENTION_DAYS],
            max_entries=config[ConfigKeys.LOG_MAX_ENTRIES_PER_TENANT],
            background=config[ConfigKeys.LOG_BACKGROUND])
        pm.register(provisioning_log, name="scimflask.provisioning_log")
        state = ScimState(
            config=config, pm=pm, catalog=catalog, storage=storage,
            cursors=CursorCodec(secret, config[ConfigKeys.CURSOR_TIMEOUT]),
            log=provisioning_log, rate_limit=_rate_limit(config, storage),
            static_token_hashes=tuple(hash_secret(t) for t in config[ConfigKeys.BEARER_TOKENS]),
        )
        from .admin.service import AdminService
        from .blueprint import make_blueprint

        state.admin = AdminService(storage, scim_prefix=config[ConfigKeys.URL_PREFIX],
                                   default_tenant=config[ConfigKeys.DEFAULT_TENANT],
                                   rotation_grace=config[ConfigKeys.TOKEN_ROTATION_GRACE],
                                   log=provisioning_log, tenant_status=state.tenant_status)
        if config[ConfigKeys.METRICS_ENABLED]:
            from .metrics import ScimMetrics

            state.metrics = ScimMetrics()
            app.register_blueprint(state.metrics.blueprint(config[ConfigKeys.METRICS_PATH]))
        app.register_blueprint(make_blueprint(state), url_prefix=config[ConfigKeys.URL_PREFIX])
        _register_operations_blueprints(app, state)
        # Over-long URLs and headers under the prefix are refused as SCIM errors before routing.
        app.wsgi_app = RequestLimits(app.wsgi_app, prefix=config[ConfigKeys.URL_PREFIX])  # type: ignore[method-assign]
        app.extensions[EXTENSION_KEY] = state
        app.teardown_appcontext(storage.release)


def _rate_limit(config: Mapping[str, Any], storage: Storage) -> RateLimit | None:
    spec = config[ConfigKeys.RATE_LIMIT]
    if spec is None:
        return None
    if not isinstance(storage, CounterSupport):
        raise ConfigurationError(
            f"{ConfigKeys.RATE_LIMIT} needs a backend with shared counters; "
            f"{type(storage).__name__} has none")
    return RateLimit.parse(spec)


def _register_operations_blueprints(app: Flask, state: ScimState) -> None:
    """Health checks and the admin API, each only when switched on (see their modules)."""
    config = state.config
    if config[ConfigKeys.HEALTH_ENABLED]:
        from .health import make_health_blueprint

        app.register_blueprint(make_health_blueprint(state.storage), url_prefix=config[ConfigKeys.HEALTH_PREFIX] or None)
    from .admin.blueprint import admin_enabled, make_admin_blueprint

    if admin_enabled(config, state.pm):
        app.register_blueprint(make_admin_blueprint(state.admin, config, state.pm),
                               url_prefix=config[ConfigKeys.ADMIN_URL_PREFIX])
