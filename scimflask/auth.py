"""Bearer tokens: generation, hashing, and the built-in authenticator.

A token is 256 random bits; only its SHA-256 is stored. A fast hash is right here (unlike for
passwords): the secret has full entropy, so there is nothing to brute-force, and every request
pays for the check. Lookup is by hash, then confirmed with `hmac.compare_digest`.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from .errors import Unauthorized
from .model import Token, utcnow
from .storage.base import Storage

TOKEN_PREFIX = "scim_"
# Longest header we look at; anything longer is refused before hashing.
MAX_AUTHORIZATION_LENGTH = 4096


@dataclass(frozen=True)
class Principal:
    """Who an authenticated request acts as. `user_id` maps the token to a User for `/Me`."""

    tenant: str
    token_id: str | None = None
    user_id: str | None = None


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def new_token(storage: Storage, tenant: str, description: str = "") -> tuple[Token, str]:
    """Create and store a token; return the record and the secret (shown only once)."""
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    record = Token(id=uuid.uuid4().hex[:16], tenant=tenant, secret_hash=hash_secret(secret),
                   created=utcnow(), description=description)
    storage.add_token(record)
    return record, secret


def bearer_secret(header: str | None) -> str:
    """The secret from `Authorization: Bearer <secret>`, or Unauthorized for anything else."""
    if not header:
        raise Unauthorized("Missing Authorization header; send 'Authorization: Bearer <token>'.")
    if len(header) > MAX_AUTHORIZATION_LENGTH:
        raise Unauthorized("Malformed Authorization header.")
    scheme, _, rest = header.strip().partition(" ")
    secret = rest.strip()
    if scheme.lower() != "bearer" or not secret or any(c.isspace() for c in secret):
        raise Unauthorized("Malformed Authorization header; expected 'Bearer <token>'.")
    if not secret.isprintable() or not secret.isascii():
        raise Unauthorized("Malformed Authorization header.")
    return secret


def authenticate_bearer(header: str | None, storage: Storage, static_hashes: Iterable[str],
                        default_tenant: str) -> Principal:
    """Check a bearer token against the hashes of the configured static tokens (hashed once,
    at start-up) and the stored ones."""
    secret = bearer_secret(header)
    digest = hash_secret(secret)
    for index, static_hash in enumerate(static_hashes):
        if hmac.compare_digest(digest, static_hash):
            return Principal(tenant=default_tenant, token_id=f"config-{index}")
    record = storage.find_token(digest)
    if record is None or not hmac.compare_digest(digest, record.secret_hash):
        raise Unauthorized("Invalid bearer token.")
    now = utcnow()
    if record.expires is not None and record.expires <= now:
        raise Unauthorized("Bearer token has expired.")
    return Principal(tenant=record.tenant, token_id=record.id)
