"""`ScimState`: everything one app's SCIM endpoints need, built once from its configuration.

The state is built from a validated configuration mapping alone (`ScimState.build`); mounting
it on a Flask app is the extension's job. Views, operations and the operating tools read it
through `current_scim()` or receive it directly.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pluggy
from flask import current_app

from .auth import hash_secret
from .config import STORAGE_TIMEOUT_OPTION, ConfigKeys
from .errors import ConfigurationError
from .filter.ast import Filter
from .filter.cache import FilterCache
from .ops.admin.service import AdminService
from .ops.metrics import ScimMetrics
from .ops.provisioning_log import ProvisioningLog
from .ops.tenancy import TenantStatus, TokenUsage
from .plugins import make_plugin_manager, open_storage
from .protocol.paging import CursorCodec
from .protocol.ratelimit import RateLimit
from .schema.catalog import Catalog
from .schema.coerce import ValueRules
from .schema.tolerances import Compatibility
from .schema.validate import ResourceValidator
from .storage.base import Storage
from .storage.capabilities import CounterSupport

EXTENSION_KEY = "scim"
log = logging.getLogger("scimflask")


@dataclass
class ScimState:
    """One app's SCIM service: its plugins, catalog, storage and the helpers built over them."""

    config: Mapping[str, Any]
    pm: pluggy.PluginManager
    catalog: Catalog
    storage: Storage
    cursors: CursorCodec
    log: ProvisioningLog
    admin: AdminService
    tenant_status: TenantStatus
    rate_limit: RateLimit | None = None
    metrics: ScimMetrics | None = None
    token_usage: TokenUsage = field(default_factory=TokenUsage)
    static_token_hashes: tuple[str, ...] = ()
    validators: dict[str, ResourceValidator] = field(default_factory=dict)
    # Identity providers repeat the same few filter shapes with new values: the cache parses
    # each shape once (see scimflask.filter.cache).
    parse_filter: Callable[[str, str], Filter] = field(init=False)

    def __post_init__(self) -> None:
        self.parse_filter = FilterCache(self.catalog, max_length=self.config[ConfigKeys.MAX_FILTER_LENGTH]).parse

    @classmethod
    def build(cls, config: Mapping[str, Any], *, fallback_secret: str | bytes | None = None) -> ScimState:
        """Plugins, catalog, storage, log, admin service and limits for a validated `config`.

        `fallback_secret` (the host's Flask `SECRET_KEY`) signs cursors when SCIM_SECRET_KEY is unset.
        """
        pm = make_plugin_manager(
            extra_plugins=config[ConfigKeys.PLUGINS],
            blocked=config[ConfigKeys.BLOCKED_PLUGINS],
            autoload=not config[ConfigKeys.DISABLE_PLUGIN_AUTOLOAD],
        )
        storage = open_storage(pm, config[ConfigKeys.STORAGE_URI], {
            **({} if config[ConfigKeys.STORAGE_TIMEOUT] is None
               else {STORAGE_TIMEOUT_OPTION: config[ConfigKeys.STORAGE_TIMEOUT]}),
            **config[ConfigKeys.STORAGE_OPTIONS]})
        provisioning_log = ProvisioningLog(
            storage, storage.catalog, enabled=config[ConfigKeys.LOG_ENABLED], reads=config[ConfigKeys.LOG_READS],
            retention_days=config[ConfigKeys.LOG_RETENTION_DAYS],
            max_entries=config[ConfigKeys.LOG_MAX_ENTRIES_PER_TENANT],
            background=config[ConfigKeys.LOG_BACKGROUND])
        pm.register(provisioning_log, name="scimflask.provisioning_log")
        tenant_status = TenantStatus()
        admin = AdminService(storage, scim_prefix=config[ConfigKeys.URL_PREFIX],
                             default_tenant=config[ConfigKeys.DEFAULT_TENANT],
                             rotation_grace=config[ConfigKeys.TOKEN_ROTATION_GRACE],
                             log=provisioning_log, tenant_status=tenant_status)
        return cls(
            config=config, pm=pm, catalog=storage.catalog, storage=storage,
            cursors=CursorCodec(_cursor_keys(config, fallback_secret), config[ConfigKeys.CURSOR_TIMEOUT]),
            log=provisioning_log, admin=admin, tenant_status=tenant_status,
            rate_limit=_rate_limit(config, storage),
            metrics=ScimMetrics() if config[ConfigKeys.METRICS_ENABLED] else None,
            static_token_hashes=tuple(hash_secret(t) for t in config[ConfigKeys.BEARER_TOKENS]),
        )

    def close(self) -> None:
        """Store the log's waiting entries, then close the storage: in that order, or the log's
        writer (or its exit hook) would write to a closed store, which a SQL store reopens."""
        self.log.close()
        self.storage.close()

    def validator(self, resource_type: str) -> ResourceValidator:
        """The request-body validator of a resource type (built on first use, then reused).

        Its `rules` (SCIM_COMPATIBILITY, SCIM_MAX_MULTI_VALUES) are also the ones PATCH reads
        values with, so every write operation is exactly as strict.
        """
        key = resource_type.lower()
        if key not in self.validators:
            unknown = "ignore" if self.config[ConfigKeys.UNKNOWN_ATTRIBUTES] == "ignore" else "raise"
            rules = ValueRules(Compatibility(self.config[ConfigKeys.COMPATIBILITY]),
                               self.config[ConfigKeys.MAX_MULTI_VALUES])
            self.validators[key] = ResourceValidator(
                self.catalog, self.catalog.resource_type(resource_type), unknown=unknown, rules=rules)
        return self.validators[key]


def current_scim() -> ScimState:
    """The state of the current app's Scim extension."""
    try:
        return current_app.extensions[EXTENSION_KEY]
    except KeyError:
        raise RuntimeError(
            "scimflask is not initialised on this app; did you forget to call Scim.init_app(app)?"
        ) from None


def _cursor_keys(config: Mapping[str, Any], fallback: str | bytes | None) -> list[str | bytes]:
    """The secrets cursors are signed with, newest first: SCIM_SECRET_KEY (else the host's
    SECRET_KEY, which the codec never uses unsalted) and then SCIM_SECRET_KEY_FALLBACKS."""
    secret = config[ConfigKeys.SECRET_KEY] or fallback
    if not secret:
        log.info("SCIM_SECRET_KEY not set: cursors are signed with a per-process key and "
                 "are only valid on the worker that issued them")
        secret = secrets.token_bytes(32)
    return [secret, *config[ConfigKeys.SECRET_KEY_FALLBACKS]]


def _rate_limit(config: Mapping[str, Any], storage: Storage) -> RateLimit | None:
    spec = config[ConfigKeys.RATE_LIMIT]
    if spec is None:
        return None
    if not isinstance(storage, CounterSupport):
        raise ConfigurationError(
            f"{ConfigKeys.RATE_LIMIT} needs a backend with shared counters; "
            f"{type(storage).__name__} has none")
    return RateLimit.parse(spec)
