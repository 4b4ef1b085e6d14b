"""What a provisioning log entry may say about its target: userName, displayName, externalId.

Nothing else of a resource is ever logged. `SCIM_LOG_IDENTITIES` chooses how these three are
kept: "full" (as sent), "hashed" (a short keyed hash: an operator can still find every entry of
a user by searching for the name, which is hashed the same way, without the log holding it) or
"none". The hash is keyed with SCIM_SECRET_KEY so every worker computes the same one; it
ignores case, like the text search.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import re
from collections.abc import Mapping
from typing import Any, NamedTuple

from ..config import ConfigKeys
from ..errors import ConfigurationError

FULL, HASHED, NONE = "full", "hashed", "none"
MODES = (FULL, HASHED, NONE)
MAX_VALUE = 256
HASH_PREFIX = "h:"
HASH_LENGTH = 16  # hex digits: 64 bits, plenty to tell a tenant's users apart
_FIELDS = {"username": "user_name", "displayname": "display_name", "externalid": "external_id"}
_LENGTHS = frozenset(len(name) for name in _FIELDS)  # a key of another length is no identity field
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_HASHED = re.compile(r"h:[0-9a-f]{%d}" % HASH_LENGTH)


class Identity(NamedTuple):
    """A target's identity fields: a small tuple, since a request's snapshot keeps it until
    the log's writer takes it."""

    user_name: str | None = None
    display_name: str | None = None
    external_id: str | None = None

    def __bool__(self) -> bool:
        return any((self.user_name, self.display_name, self.external_id))


def identity_of(document: object) -> Identity:
    """The identity fields of a resource document or request body (attribute names ignore
    case, RFC 7643 §2.1); a value that is not a non-empty string is left out, a long one cut."""
    if not isinstance(document, dict):
        return Identity()
    found: dict[str, str] = {}
    for key, value in document.items():
        name = _FIELDS.get(key.lower()) if isinstance(key, str) and len(key) in _LENGTHS else None
        if name and name not in found and isinstance(value, str):
            text = _CONTROL.sub("", value).strip()[:MAX_VALUE]
            if text:
                found[name] = text
    return Identity(**found)


class IdentityPolicy:
    """Applies SCIM_LOG_IDENTITIES to identities before they are logged, and to search terms."""

    def __init__(self, mode: str = FULL, key: str | bytes | None = None) -> None:
        if mode not in MODES:
            raise ConfigurationError(f"{ConfigKeys.LOG_IDENTITIES} must be one of {', '.join(MODES)}, not {mode!r}")
        if mode == HASHED and not key:
            raise ConfigurationError(f"{ConfigKeys.LOG_IDENTITIES}=hashed needs {ConfigKeys.SECRET_KEY}")
        self.mode = mode
        self._key = key.encode() if isinstance(key, str) else key

    def hashed(self, value: str) -> str:
        digest = hmac.new(self._key or b"", b"scimflask log identity\0" + value.lower().encode(), hashlib.sha256)
        return HASH_PREFIX + digest.hexdigest()[:HASH_LENGTH]

    def apply(self, identity: Identity) -> Identity:
        if self.mode == FULL:
            return identity
        if self.mode == NONE:
            return Identity()
        return Identity(*(None if value is None else self.hashed(value)
                          for value in (identity.user_name, identity.display_name, identity.external_id)))

    def search_term(self, text: str | None) -> str | None:
        """What to look for in the log for `text`: itself, or its hash (a hash pasted from
        the log stays as it is), so a hashed log finds the exact value: the hash's words, "h"
        and its hex digits, start only the words of that same hash."""
        if text is None or self.mode != HASHED:
            return text
        text = text.strip()
        return text.lower() if _HASHED.fullmatch(text.lower()) else self.hashed(text)


@functools.lru_cache(maxsize=8)
def _policy(mode: str, key: str | bytes | None) -> IdentityPolicy:
    return IdentityPolicy(mode, key)


def identity_policy(config: Mapping[str, Any]) -> IdentityPolicy:
    """The policy of a validated configuration (built once per mode and key)."""
    mode = config.get(ConfigKeys.LOG_IDENTITIES, FULL)
    return _policy(mode, config.get(ConfigKeys.SECRET_KEY) if mode == HASHED else None)
