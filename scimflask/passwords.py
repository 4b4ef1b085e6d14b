"""Password hashing for the User `password` attribute (RFC 7643 §4.1.1: writeOnly, never returned).

scrypt from hashlib (RFC 7914), salted per password. Cost: N=2**14, r=8, p=1 -- 16 MiB of
memory and some tens of milliseconds per hash on a current CPU, OWASP's minimum recommendation
for scrypt. The stored form names its parameters, so the cost can be raised later and old
hashes still verify:

    scrypt$<N>$<r>$<p>$<salt, base64>$<key, base64>
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

SCHEME = "scrypt"
COST_N = 2**14
BLOCK_SIZE_R = 8
PARALLELISM_P = 1
SALT_BYTES = 16
KEY_BYTES = 32
# Upper bound on N*r accepted when verifying, so a tampered stored hash cannot demand
# gigabytes of memory.
_MAX_WORK = 2**20 * 8


def _derive(plain: str, salt: bytes, n: int, r: int, p: int, length: int) -> bytes:
    return hashlib.scrypt(plain.encode("utf-8"), salt=salt, n=n, r=r, p=p,
                          maxmem=256 * n * r + 2**20, dklen=length)


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def hash_password(plain: str) -> str:
    """A salted, self-describing scrypt hash of `plain`."""
    salt = os.urandom(SALT_BYTES)
    key = _derive(plain, salt, COST_N, BLOCK_SIZE_R, PARALLELISM_P, KEY_BYTES)
    return f"{SCHEME}${COST_N}${BLOCK_SIZE_R}${PARALLELISM_P}${_b64(salt)}${_b64(key)}"


def verify_password(plain: str, hashed: str) -> bool:
    """True if `plain` matches `hashed`; False for a mismatch or an unreadable hash."""
    try:
        scheme, n_text, r_text, p_text, salt_text, key_text = hashed.split("$")
        n, r, p = int(n_text), int(r_text), int(p_text)
        salt = base64.b64decode(salt_text, validate=True)
        expected = base64.b64decode(key_text, validate=True)
    except (ValueError, AttributeError):
        return False
    if scheme != SCHEME or n < 2 or n * r > _MAX_WORK or p < 1 or not expected:
        return False
    try:
        actual = _derive(plain, salt, n, r, p, len(expected))
    except ValueError:  # parameters OpenSSL rejects (e.g. N not a power of two)
        return False
    return hmac.compare_digest(actual, expected)
