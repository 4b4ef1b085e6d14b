"""Password hashing for the User `password` attribute (RFC 7643 §4.1.1: writeOnly, never returned).

Hashes are werkzeug.security's (`generate_password_hash`, scrypt by default), the format Flask
apps already store: a host app that keeps SCIM users in its own table checks a password set
over SCIM with `werkzeug.security.check_password_hash(stored, plain)`.

Earlier scimflask versions stored `scrypt$<N>$<r>$<p>$<salt, base64>$<key, base64>`. Those
hashes stay valid: `verify_password` accepts both formats. SCIM never verifies a password, and a
hash cannot be converted without the password, so old hashes are replaced as passwords are
written: every write that sets a password stores the current format (a PUT or PATCH that leaves
the password out keeps the stored hash as it is). An app that authenticates users against these
hashes upgrades them at login, when it holds the plain password::

    if verify_password(plain, stored) and needs_rehash(stored):
        stored = hash_password(plain)
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac

from werkzeug.security import check_password_hash, generate_password_hash

METHOD = "scrypt"
# Upper bounds on the work a stored hash may ask for, so a tampered hash cannot demand
# gigabytes of memory or minutes of CPU: scrypt N*r*p and PBKDF2 iterations.
_MAX_SCRYPT_WORK = 2**20 * 8
_MAX_PBKDF2_ITERATIONS = 10_000_000
_LEGACY_SCHEME = "scrypt"


def hash_password(plain: str) -> str:
    """A salted werkzeug.security hash of `plain` (scrypt)."""
    return generate_password_hash(plain, method=METHOD)


def verify_password(plain: str, hashed: str) -> bool:
    """True if `plain` matches `hashed` (either format); False for a mismatch or an unreadable
    or hostile hash."""
    if not isinstance(hashed, str):
        return False
    if hashed.startswith(_LEGACY_SCHEME + "$"):
        return _verify_legacy(plain, hashed)
    method = hashed.split("$", 1)[0]
    if not _affordable(method):
        return False
    try:
        return check_password_hash(hashed, plain)
    except (ValueError, TypeError):  # an unknown method, a digest hashlib lacks, bad numbers
        return False


def needs_rehash(hashed: str) -> bool:
    """Whether `hashed` is not in the current format and cost (rehash it when the plain
    password is at hand, i.e. at a successful login)."""
    return not isinstance(hashed, str) or hashed.split("$", 1)[0] != _current_method()


@functools.cache
def _current_method() -> str:
    return hash_password("").split("$", 1)[0]


def _affordable(method: str) -> bool:
    """Whether a werkzeug method string ("scrypt:N:r:p", "pbkdf2:sha256:N") asks for bounded work."""
    name, *args = method.split(":")
    numbers = [int(arg) for arg in args if arg.isdigit()]
    if name == "scrypt":
        return len(args) == 3 and len(numbers) == 3 and numbers[0] * numbers[1] * numbers[2] <= _MAX_SCRYPT_WORK
    if name == "pbkdf2":
        return not numbers or numbers[-1] <= _MAX_PBKDF2_ITERATIONS
    return False


def _verify_legacy(plain: str, hashed: str) -> bool:
    """The earlier `scrypt$N$r$p$salt$key` format, driven by the parameters it stores."""
    try:
        _, n_text, r_text, p_text, salt_text, key_text = hashed.split("$")
        n, r, p = int(n_text), int(r_text), int(p_text)
        salt = base64.b64decode(salt_text, validate=True)
        expected = base64.b64decode(key_text, validate=True)
    except ValueError:
        return False
    if n < 2 or n * r > _MAX_SCRYPT_WORK or p < 1 or not expected:
        return False
    try:
        actual = hashlib.scrypt(plain.encode("utf-8"), salt=salt, n=n, r=r, p=p,
                                maxmem=256 * n * r + 2**20, dklen=len(expected))
    except ValueError:  # parameters OpenSSL rejects (e.g. N not a power of two)
        return False
    return hmac.compare_digest(actual, expected)
