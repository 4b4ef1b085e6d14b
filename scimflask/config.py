"""Every `SCIM_*` configuration key, its default, and how it is validated.

Keys are read once in `Scim.init_app` (with `app.config.setdefault`, so defaults are visible in
`app.config`) and frozen into the app's state; nothing reads `app.config` per request.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

from .errors import ConfigurationError


class ConfigKeys:
    STORAGE_URI = "SCIM_STORAGE_URI"
    STORAGE_OPTIONS = "SCIM_STORAGE_OPTIONS"
    STORAGE_TIMEOUT = "SCIM_STORAGE_TIMEOUT"
    URL_PREFIX = "SCIM_URL_PREFIX"
    BEARER_TOKENS = "SCIM_BEARER_TOKENS"
    DEFAULT_TENANT = "SCIM_DEFAULT_TENANT"
    DEFAULT_PAGE_SIZE = "SCIM_DEFAULT_PAGE_SIZE"
    MAX_PAGE_SIZE = "SCIM_MAX_PAGE_SIZE"
    MAX_PAYLOAD_BYTES = "SCIM_MAX_PAYLOAD_BYTES"
    MAX_FILTER_LENGTH = "SCIM_MAX_FILTER_LENGTH"
    BULK_MAX_OPERATIONS = "SCIM_BULK_MAX_OPERATIONS"
    CURSOR_TIMEOUT = "SCIM_CURSOR_TIMEOUT"
    SECRET_KEY = "SCIM_SECRET_KEY"
    SECRET_KEY_FALLBACKS = "SCIM_SECRET_KEY_FALLBACKS"
    UNKNOWN_MEMBERS = "SCIM_UNKNOWN_MEMBERS"
    UNKNOWN_ATTRIBUTES = "SCIM_UNKNOWN_ATTRIBUTES"
    PATCH_RESPONSE = "SCIM_PATCH_RESPONSE"
    PATCH_RESPONSE_MAX_MEMBERS = "SCIM_PATCH_RESPONSE_MAX_MEMBERS"
    COMPATIBILITY = "SCIM_COMPATIBILITY"
    MAX_MULTI_VALUES = "SCIM_MAX_MULTI_VALUES"
    MAX_FILTER_SCAN = "SCIM_MAX_FILTER_SCAN"
    PLUGINS = "SCIM_PLUGINS"
    BLOCKED_PLUGINS = "SCIM_BLOCKED_PLUGINS"
    DISABLE_PLUGIN_AUTOLOAD = "SCIM_DISABLE_PLUGIN_AUTOLOAD"
    # operating a multi-tenant service
    PUBLIC_BASE_URL = "SCIM_PUBLIC_BASE_URL"
    TRUSTED_PROXIES = "SCIM_TRUSTED_PROXIES"
    ADMIN_TOKENS = "SCIM_ADMIN_TOKENS"
    ADMIN_URL_PREFIX = "SCIM_ADMIN_URL_PREFIX"
    CONSOLE_SESSION_SECONDS = "SCIM_CONSOLE_SESSION_SECONDS"
    TOKEN_ROTATION_GRACE = "SCIM_TOKEN_ROTATION_GRACE"
    LOG_ENABLED = "SCIM_LOG_ENABLED"
    LOG_READS = "SCIM_LOG_READS"
    LOG_BACKGROUND = "SCIM_LOG_BACKGROUND"
    LOG_RETENTION_DAYS = "SCIM_LOG_RETENTION_DAYS"
    LOG_MAX_ENTRIES_PER_TENANT = "SCIM_LOG_MAX_ENTRIES_PER_TENANT"
    LOG_IDENTITIES = "SCIM_LOG_IDENTITIES"
    RATE_LIMIT = "SCIM_RATE_LIMIT"
    HEALTH_ENABLED = "SCIM_HEALTH_ENABLED"
    HEALTH_PREFIX = "SCIM_HEALTH_PREFIX"
    METRICS_ENABLED = "SCIM_METRICS_ENABLED"
    METRICS_PATH = "SCIM_METRICS_PATH"


DEFAULTS: dict[str, Any] = {
    # No silent default: an embedded app must choose its storage (the CLI defaults to SQLite).
    ConfigKeys.STORAGE_URI: None,
    ConfigKeys.STORAGE_OPTIONS: {},
    # Seconds one storage call may take before its request is answered 503 (a hung database or
    # a stalled network must not hold a worker until gunicorn kills it: keep it below the
    # worker timeout). Given to the backend as the storage option STORAGE_TIMEOUT_OPTION;
    # None leaves each backend its own (SQL: 30 s statements, Redis: 5 s sockets).
    ConfigKeys.STORAGE_TIMEOUT: None,
    ConfigKeys.URL_PREFIX: "/scim/v2",
    # Extra static tokens (plain text, e.g. from a secret store); stored tokens live in storage.
    ConfigKeys.BEARER_TOKENS: (),
    ConfigKeys.DEFAULT_TENANT: "default",
    ConfigKeys.DEFAULT_PAGE_SIZE: 100,
    ConfigKeys.MAX_PAGE_SIZE: 1000,
    ConfigKeys.MAX_PAYLOAD_BYTES: 1_048_576,
    ConfigKeys.MAX_FILTER_LENGTH: 10_000,
    ConfigKeys.BULK_MAX_OPERATIONS: 1000,
    ConfigKeys.CURSOR_TIMEOUT: 3600,
    # Signs cursors; a random one per process is fine for one worker, set it for several.
    ConfigKeys.SECRET_KEY: None,
    # Earlier secret keys, newest first: cursors they signed still page after a rotation.
    ConfigKeys.SECRET_KEY_FALLBACKS: (),
    # What to do with a Group member id that names no User or Group: "reject" (400
    # invalidValue, the default: a typo must not silently corrupt a group), "ignore" (drop it),
    # or "accept" (store it unchecked).
    ConfigKeys.UNKNOWN_MEMBERS: "reject",
    # Unknown core attributes in a body: "reject" (400 invalidValue) or "ignore".
    ConfigKeys.UNKNOWN_ATTRIBUTES: "reject",
    # PATCH answers: "auto" = 200 with the resource, except 204 for Groups whose members would
    # be shown and number more than PATCH_RESPONSE_MAX_MEMBERS; "resource" = always 200;
    # "no-content" = always 204.
    ConfigKeys.PATCH_RESPONSE: "auto",
    ConfigKeys.PATCH_RESPONSE_MAX_MEMBERS: 1000,
    # "lenient": the identity providers' known quirks are accepted (the tolerance table);
    # "strict": every request must be RFC-exact.
    ConfigKeys.COMPATIBILITY: "lenient",
    # Most elements one multi-valued attribute may hold (Group members have their own limits).
    ConfigKeys.MAX_MULTI_VALUES: 100,
    # Most resources one filter may make the backend examine beyond what its indexes narrow
    # down (a substring no index answers, `pr`, `gt`, `not`, ...); more is 400 tooMany, before
    # the scan runs. None: unbounded (only the storage timeout ends a long scan).
    ConfigKeys.MAX_FILTER_SCAN: 100_000,
    ConfigKeys.PLUGINS: (),
    ConfigKeys.BLOCKED_PLUGINS: (),
    ConfigKeys.DISABLE_PLUGIN_AUTOLOAD: False,
    # Scheme and host clients reach the SCIM endpoints at, e.g. "https://scim.example.com" (the
    # admin API's baseUrl); None means the host of the admin request.
    ConfigKeys.PUBLIC_BASE_URL: None,
    # How many proxies in front of the server set X-Forwarded-For/-Proto/-Host/-Port/-Prefix;
    # 0 trusts none of those headers.
    ConfigKeys.TRUSTED_PROXIES: 0,
    # Static admin credentials (plain text); the admin API exists only when this is set or a
    # plugin implements scimflask_authorize_admin.
    ConfigKeys.ADMIN_TOKENS: (),
    ConfigKeys.ADMIN_URL_PREFIX: "/scim-admin",
    # How long a console sign-in lasts.
    ConfigKeys.CONSOLE_SESSION_SECONDS: 8 * 3600,
    # Seconds the old tokens of a tenant stay valid after a rotation.
    ConfigKeys.TOKEN_ROTATION_GRACE: 86_400,
    # The provisioning log (needs a backend with ProvisioningLogSupport; skipped otherwise).
    ConfigKeys.LOG_ENABLED: True,
    ConfigKeys.LOG_READS: False,
    # Store log entries from a background thread in batches (up to 50 ms later) instead of
    # with a storage write of their own inside each request.
    ConfigKeys.LOG_BACKGROUND: True,
    ConfigKeys.LOG_RETENTION_DAYS: 30,
    ConfigKeys.LOG_MAX_ENTRIES_PER_TENANT: 100_000,
    # How log entries name their target (userName, displayName, externalId; never anything
    # else): "full", "hashed" (a short hash keyed with SCIM_SECRET_KEY, found by searching for
    # the value) or "none".
    ConfigKeys.LOG_IDENTITIES: "full",
    # Requests per token per window, "600/60" = 600 per 60 seconds; None = no limit.
    ConfigKeys.RATE_LIMIT: None,
    # /healthz and /readyz; create_app switches them on, an embedding host opts in.
    ConfigKeys.HEALTH_ENABLED: False,
    ConfigKeys.HEALTH_PREFIX: "",
    # Prometheus metrics at METRICS_PATH (needs prometheus_client: scimflask[metrics]).
    ConfigKeys.METRICS_ENABLED: False,
    ConfigKeys.METRICS_PATH: "/metrics",
}

# The `SCIM_STORAGE_OPTIONS` entry a set SCIM_STORAGE_TIMEOUT reaches the backend as.
STORAGE_TIMEOUT_OPTION = "storage_timeout"


class ConfigValueError(ConfigurationError):
    """A key holds a value it cannot have; `allowed` says what it may hold, so every front end
    (an embedding app's traceback, the command line's one-line error) can name the fix."""

    def __init__(self, key: str, value: object, allowed: str) -> None:
        super().__init__(f"{key} must be {allowed}, not {value!r}")
        self.key = key
        self.value = value
        self.allowed = allowed


def _whole(value: object, minimum: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= minimum


def _prefix(value: object) -> bool:
    return isinstance(value, str) and (not value or value.startswith("/")) and not value.endswith("/")


def _seconds(value: object) -> bool:
    """A positive number of seconds, also as text (from the environment)."""
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return False
    return isinstance(value, (int, float)) and not isinstance(value, bool) and 0 < value < float("inf")


def _rate_limit(value: object) -> bool:
    from .protocol.ratelimit import RateLimit

    try:
        RateLimit.parse(value)  # fail at start-up, not per request
    except ConfigurationError:
        return False
    return True


_POSITIVE = (lambda value: _whole(value, 1), "a positive integer (1 or more)")
_CHOICES = {
    ConfigKeys.LOG_IDENTITIES: ("full", "hashed", "none"),
    ConfigKeys.UNKNOWN_MEMBERS: ("reject", "ignore", "accept"),
    ConfigKeys.UNKNOWN_ATTRIBUTES: ("reject", "ignore"),
    ConfigKeys.PATCH_RESPONSE: ("auto", "resource", "no-content"),
    ConfigKeys.COMPATIBILITY: ("lenient", "strict"),
}
_PREFIX = (_prefix, "a path that starts with '/' and does not end with one, such as '/scim/v2'")
# What each checked key may hold: a test and the words that tell an operator what to write.
RULES: dict[str, tuple[Callable[[object], bool], str]] = {
    **{key: _POSITIVE for key in (
        ConfigKeys.DEFAULT_PAGE_SIZE, ConfigKeys.MAX_PAGE_SIZE, ConfigKeys.MAX_PAYLOAD_BYTES,
        ConfigKeys.MAX_FILTER_LENGTH, ConfigKeys.BULK_MAX_OPERATIONS, ConfigKeys.CURSOR_TIMEOUT,
        ConfigKeys.LOG_RETENTION_DAYS, ConfigKeys.LOG_MAX_ENTRIES_PER_TENANT, ConfigKeys.MAX_MULTI_VALUES,
        ConfigKeys.CONSOLE_SESSION_SECONDS)},
    ConfigKeys.PATCH_RESPONSE_MAX_MEMBERS: (lambda value: _whole(value, 0), "a whole number (0 or more)"),
    ConfigKeys.TRUSTED_PROXIES: (lambda value: _whole(value, 0), "a whole number of proxies (0 or more)"),
    ConfigKeys.TOKEN_ROTATION_GRACE: (lambda value: _whole(value, 0), "a number of seconds (0 or more)"),
    **{key: ((lambda value, choices=choices: value in choices), f"one of {', '.join(choices)}")
       for key, choices in _CHOICES.items()},
    ConfigKeys.STORAGE_OPTIONS: (lambda value: isinstance(value, Mapping), "a dict"),
    ConfigKeys.MAX_FILTER_SCAN: (lambda value: value is None or _whole(value, 1),
                                 "a whole number of resources (1 or more), or None for no bound"),
    ConfigKeys.STORAGE_TIMEOUT: (lambda value: value is None or _seconds(value),
                                 "a number of seconds above 0, such as 10"),
    ConfigKeys.URL_PREFIX: _PREFIX,
    ConfigKeys.ADMIN_URL_PREFIX: _PREFIX,
    ConfigKeys.HEALTH_PREFIX: (_prefix, "empty or a path that starts with '/' and does not end with one"),
    ConfigKeys.METRICS_PATH: (lambda value: isinstance(value, str) and value.startswith("/") and len(value) >= 2,
                              "a path such as '/metrics'"),
    ConfigKeys.PUBLIC_BASE_URL: (
        lambda value: value is None or (isinstance(value, str) and value.startswith(("http://", "https://"))),
        "an http(s) URL such as 'https://scim.example.com'"),
    ConfigKeys.RATE_LIMIT: (lambda value: value is None or _rate_limit(value),
                            "requests/seconds such as '600/60' (both 1 or more)"),
}
_LISTS = (ConfigKeys.BEARER_TOKENS, ConfigKeys.ADMIN_TOKENS, ConfigKeys.SECRET_KEY_FALLBACKS)
_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off", "")
# Numeric keys whose None ("no bound") is written as this word in the environment.
_UNBOUNDED_WORD = {ConfigKeys.MAX_FILTER_SCAN: "none"}
BOOLEAN_WORDS = "one of 1, true, yes, on, 0, false, no, off"


def allowed(key: str) -> str:
    """In words, what `key` may hold (for messages)."""
    if key in RULES:
        return RULES[key][1]
    default = DEFAULTS.get(key)
    return BOOLEAN_WORDS if isinstance(default, bool) else "a valid value"


def validate(config: Mapping[str, Any]) -> Mapping[str, Any]:
    """Check every key once and return a read-only copy of the SCIM_* keys."""
    values = {key: config.get(key, default) for key, default in DEFAULTS.items()}
    uri = values[ConfigKeys.STORAGE_URI]
    if not uri or not isinstance(uri, str):
        raise ConfigurationError(
            f"{ConfigKeys.STORAGE_URI} is not set; choose a backend, e.g. 'sqlite:///scim.db', "
            "'postgresql://…', 'redis://…' or 'memory://'"
        )
    for key, (valid, words) in RULES.items():
        if not valid(values[key]):
            raise ConfigValueError(key, values[key], words)
    maximum = values[ConfigKeys.MAX_PAGE_SIZE]
    if values[ConfigKeys.DEFAULT_PAGE_SIZE] > maximum:
        raise ConfigValueError(ConfigKeys.DEFAULT_PAGE_SIZE, values[ConfigKeys.DEFAULT_PAGE_SIZE],
                               f"at most {ConfigKeys.MAX_PAGE_SIZE} ({maximum})")
    if values[ConfigKeys.LOG_IDENTITIES] == "hashed" and not values[ConfigKeys.SECRET_KEY]:
        # A per-process key would give every worker (and every restart) different hashes.
        raise ConfigValueError(ConfigKeys.LOG_IDENTITIES, "hashed",
                               f"'full' or 'none' unless {ConfigKeys.SECRET_KEY} is set (it keys the hash)")
    for key in _LISTS:
        items = values[key]
        if isinstance(items, str):
            items = tuple(item for item in items.split(",") if item)
        values[key] = tuple(items)
    if isinstance(values[ConfigKeys.STORAGE_TIMEOUT], str):
        values[ConfigKeys.STORAGE_TIMEOUT] = float(values[ConfigKeys.STORAGE_TIMEOUT])
    if values[ConfigKeys.PUBLIC_BASE_URL]:
        values[ConfigKeys.PUBLIC_BASE_URL] = values[ConfigKeys.PUBLIC_BASE_URL].rstrip("/")
    return MappingProxyType(values)


def _from_text(key: str, default: object, raw: str) -> object:
    """One environment value typed like the key's default."""
    if isinstance(default, bool):
        word = raw.strip().lower()
        if word not in _TRUE + _FALSE:
            raise ConfigValueError(key, raw, BOOLEAN_WORDS)
        return word in _TRUE
    if key in _UNBOUNDED_WORD and raw.strip().lower() == _UNBOUNDED_WORD[key]:
        return None
    if isinstance(default, int):
        try:
            return int(raw.strip())
        except ValueError:
            raise ConfigValueError(key, raw, allowed(key)) from None
    if isinstance(default, tuple):
        return tuple(part.strip() for part in raw.split(",") if part.strip())
    if isinstance(default, dict):
        raise ConfigurationError(f"{key} cannot be set from the environment; set it in app.config")
    return raw


def from_environ(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """`SCIM_*` keys from environment variables, typed like their defaults (standalone server).

    An empty value of a key without a default (`SCIM_SECRET_KEY=` in an env file) counts as
    not set."""
    environ = os.environ if environ is None else environ
    return {key: _from_text(key, default, environ[key]) for key, default in DEFAULTS.items()
            if key in environ and (default is not None or environ[key].strip())}
